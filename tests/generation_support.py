"""Generate a fixture spec into a temporary folder and import the result under its own package name."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SPECS = Path(__file__).resolve().parent / "specs"
BIN = str(Path(sys.executable).parent)


def write_config(folder: Path, package: str) -> Path:
    """The repository's generator settings, with another package name (so it imports beside upbit_client)."""
    config = (ROOT / "generator-config.yaml").read_text()
    config = config.replace("package_name_override: upbit_client", f"package_name_override: {package}")
    path = folder / f"{package}-config.yaml"
    path.write_text(config)
    return path


def run_generate(spec: Path, output: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``tools/generate.py`` as ``make generate`` runs it, with the venv's ruff on PATH."""
    command = [sys.executable, str(ROOT / "tools" / "generate.py"), "--spec", str(spec), "--output", str(output)]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, env={"PATH": f"{BIN}:/usr/bin:/bin"}, check=False)


def generate_package(spec: Path, folder: Path, package: str) -> Path:
    """Generate ``spec`` as package ``package`` inside ``folder``; the package's path."""
    output = folder / package
    result = run_generate(spec, output, write_config(folder, package))
    assert result.returncode == 0, result.stderr
    return output


def import_generated(folder: Path, module: str) -> ModuleType:
    """Import ``module`` of a package generated into ``folder``."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(module)

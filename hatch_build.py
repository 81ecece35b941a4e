"""hatchling hooks of the SDK's build: its version, the ``[sandbox]`` pin on exactly it, and the version in the package.

The rules of the version are ``tools/version.py``'s (``build_version``: ``X.Y.Z.devN`` between releases).
hatchling runs these hooks where the tree is (``make dist``'s sdist, ``pip install -e .``); a wheel built
from the sdist takes the version and the extras from the sdist's ``PKG-INFO`` and runs no metadata hook,
and its ``_build_version.py`` files are already in the sdist.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

# Where the version is written into the packages: (folder in the tree and the sdist, folder in the wheel).
VERSION_FILES = (("auth_plugin/upbit_auth", "upbit_auth"), ("cancel/upbit_cancel", "upbit_cancel"))
VERSION_FILE = "_build_version.py"


def _build_version(root: Path, release: str) -> str:
    spec = importlib.util.spec_from_file_location("_upbit_version_rules", root / "tools" / "version.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.build_version(root, release))


class VersionHook(MetadataHookInterface):
    """``version`` and ``optional-dependencies`` (their ``{version}`` filled in), from this hook's table."""

    def update(self, metadata: dict[str, Any]) -> None:
        version = _build_version(Path(self.root), str(self.config["release"]))
        metadata["version"] = version
        extras: dict[str, list[str]] = self.config["optional-dependencies"]
        metadata["optional-dependencies"] = {
            name: [requirement.replace("{version}", version) for requirement in requirements]
            for name, requirements in extras.items()
        }


class VersionFileHook(BuildHookInterface):  # type: ignore[type-arg]
    """Writes ``__version__`` into each package, so importing it never asks ``importlib.metadata`` (~100 ms).

    Not in an editable install: there ``_version.py`` reads the installed metadata instead.
    """

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        text = f'"""Written by hatch_build.py at build time."""\n\n__version__ = "{self.metadata.version}"\n'
        from_sdist = (Path(self.root) / "PKG-INFO").is_file()
        for tree_folder, wheel_folder in VERSION_FILES:
            place = tree_folder if self.target_name == "sdist" else wheel_folder
            there = Path(self.root) / tree_folder / VERSION_FILE
            if from_sdist and there.is_file():
                # The sdist's file, named here because .gitignore (also in the sdist) leaves it out of the wheel.
                build_data["force_include"][str(there)] = f"{place}/{VERSION_FILE}"
                continue
            written = Path(tempfile.mkdtemp(prefix="upbit-version-")) / VERSION_FILE
            written.write_text(text, encoding="utf-8")
            build_data["force_include"][str(written)] = f"{place}/{VERSION_FILE}"

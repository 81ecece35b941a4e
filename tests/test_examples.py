"""Every example in README.md and docs/*.md runs as written, against ``upbit-sandbox`` and its printed environment.

- Each ```python block is a complete program: it runs in a fresh interpreter whose environment holds
  only the ``export`` lines ``upbit-sandbox`` prints (no other Upbit variable), and must exit 0.
- All ```python blocks together pass ``mypy --strict``, as they would in a consumer's project.
- Each ```sh block runs in ``bash -e`` with the same environment and must exit 0. Blocks that cannot
  run here (installs, ``make``, commands against the real exchange) are fenced ```shell instead.

The blocks run in document order against one sandbox, so each block names demo orders of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Mypy

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
# The hand-written and generated packages as source, the way the project's own mypy run sees them.
SOURCE_ROOTS = ["auth_plugin", "cancel", "sandbox", "generated"]


@dataclass(frozen=True)
class Block:
    document: Path
    line: int
    language: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def blocks(language: str) -> list[Block]:
    found = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match.group(1) == language:
                found.append(Block(document, text.count("\n", 0, match.start()) + 1, language, match.group(2)))
    return found


PYTHON = blocks("python")
SH = blocks("sh")


@pytest.fixture(scope="module")
def sandbox_env() -> Iterator[dict[str, str]]:
    """``upbit-sandbox`` in its own process; the environment is exactly what its ``export`` lines say."""
    process = subprocess.Popen(
        [sys.executable, "-m", "upbit_sandbox", "--orders", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    exports: dict[str, str] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exports[name] = value
            if line.startswith("Press Ctrl-C"):
                break
        assert set(exports) == {"UPBIT_OPEN_API_SERVER_URL", "UPBIT_OPEN_API_ACCESS_KEY", "UPBIT_OPEN_API_SECRET_KEY"}
        env = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}
        # The commands of the installed package (upbit-cancel, upbit-sandbox) come first on PATH.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        yield env | exports
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_the_documents_have_examples_to_run() -> None:
    assert len(PYTHON) >= 5
    assert any(block.document.name == "README.md" for block in SH)


@pytest.mark.parametrize("block", PYTHON, ids=lambda block: block.name)
def test_python_example_runs_against_the_sandbox(block: Block, sandbox_env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(block.code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], env=sandbox_env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{block.name} failed:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    assert sandbox_env["UPBIT_OPEN_API_SECRET_KEY"] not in done.stdout + done.stderr


@pytest.mark.parametrize("block", SH, ids=lambda block: block.name)
def test_shell_example_runs_against_the_sandbox(block: Block, sandbox_env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code],
        env=sandbox_env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, f"{block.name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"


def test_python_examples_pass_mypy_strict_as_a_consumer_would(tmp_path: Path, mypy: Mypy) -> None:
    for number, block in enumerate(PYTHON):
        (tmp_path / f"example_{number}.py").write_text(f"# {block.name}\n{block.code}", encoding="utf-8")
    env = dict(os.environ, MYPYPATH=os.pathsep.join(str(ROOT / root) for root in SOURCE_ROOTS))
    done = mypy.strict(".", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr

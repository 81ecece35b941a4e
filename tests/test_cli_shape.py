"""The command's modules keep the team's shape: no function longer than 40 lines.

Only the modules of the command and the package face for now (``cli.py``, ``interrupts.py``,
``entry.py``, ``__init__.py``); the rest of ``cancel/`` is held to the same rule once its rewrite lands.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cancel" / "upbit_cancel"
MODULES = ("cli.py", "interrupts.py", "entry.py", "__init__.py")
LONGEST = 40


def long_functions(path: Path) -> list[str]:
    """``name (N lines)`` for every function or method of ``path`` longer than ``LONGEST`` lines."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > LONGEST:
                found.append(f"{node.name} ({length} lines)")
    return found


@pytest.mark.parametrize("module", MODULES)
def test_no_function_of_the_command_is_longer_than_40_lines(module: str) -> None:
    assert long_functions(PACKAGE / module) == []

"""The shape of ``cancel/upbit_cancel``: no function longer than 40 lines, then and later.

The counting rule: a function's lines run from its ``def`` (decorators not counted) to its last line,
``end_lineno - lineno + 1`` of the AST node: the signature, the docstring, comments and blank lines
inside it all count. Nested functions and methods count on their own, and inside the function that
holds them.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cancel" / "upbit_cancel"
MOST_LINES = 40


def lengths() -> dict[str, int]:
    found = {}
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                found[f"{path.name}:{node.lineno} {node.name}"] = node.end_lineno - node.lineno + 1
    return found


def test_every_function_in_cancel_is_at_most_40_lines_signature_and_docstring_included() -> None:
    measured = lengths()
    assert len(measured) > 100  # the walk found the package's functions
    too_long = {where: lines for where, lines in measured.items() if lines > MOST_LINES}
    assert too_long == {}

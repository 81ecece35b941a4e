"""The packages import only along the arrows of docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "upbit_client": ROOT / "generated" / "upbit_client",
    "upbit_auth": ROOT / "auth_plugin" / "upbit_auth",
    "upbit_cancel": ROOT / "cancel" / "upbit_cancel",
    "upbit_sandbox": ROOT / "sandbox" / "upbit_sandbox",
}
ALLOWED = {
    "upbit_client": set(),
    "upbit_auth": {"upbit_client"},
    "upbit_cancel": {"upbit_client", "upbit_auth"},
    "upbit_sandbox": {"upbit_client"},
}
# The sandbox's pytest plugin hands out clients made by ``upbit_cancel.connect``; the exchange itself
# stays independent of the SDK's signing (it checks with PyJWT and hashlib).
ALLOWED_MODULES = {"sandbox/upbit_sandbox/pytest_plugin.py": {"upbit_cancel"}}


def imported_packages(folder: Path) -> dict[str, set[str]]:
    """Each of our packages that a module in ``folder`` imports, with the modules that do."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in PACKAGES:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_imports_only_what_the_architecture_allows(package: str) -> None:
    imports = imported_packages(PACKAGES[package])
    forbidden = {
        name: bad
        for name, where in imports.items()
        if name != package and name not in ALLOWED[package]
        for bad in [{path for path in where if name not in ALLOWED_MODULES.get(path, set())}]
        if bad
    }
    assert not forbidden, f"{package} imports {forbidden}"


def test_the_auth_hook_stays_small() -> None:
    lines = sum(len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGES["upbit_auth"].rglob("*.py"))
    assert lines <= 400, f"upbit_auth has {lines} lines of Python; it holds the auth hook only"

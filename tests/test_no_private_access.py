"""No package of ours touches a private name of httpx, httpcore, anyio or redis (issue 22).

``reading.py`` once wrote a network backend into ``Client._transport``, ``_mounts``,
``HTTPTransport._pool`` and ``pool._network_backend`` and imported ``httpcore._utils``: any release of
httpx could break it, so httpx was pinned below the release users needed. What this scan catches, in
every module of ``auth_plugin``, ``cancel``, ``sandbox``, ``runtime`` and ``generated``:

- an import of a private module or name of those libraries (``from httpcore._utils import ...``,
  ``from httpx import _client``, ``import redis._parsers``);
- an attribute of those modules that is private (``httpx._config``, through any alias);
- ``getattr``/``setattr``/``hasattr``/``delattr`` with a private constant name (``getattr(x, "_pool")``),
  whatever the object: the form that hides an access from the other checks;
- ``something._name`` on any object other than ``self``/``cls`` where ``_name`` is a private attribute
  those libraries define (read from their own source: every ``self._name = ...`` and every private
  method or class attribute), e.g. ``http._transport``, ``transport._pool``, ``pool._network_backend``.

Names our own classes define on ``self`` stay ours; an attribute of another of our objects that
happens to share a library's private name is reported too (rename it: it reads as an access).
"""

from __future__ import annotations

import ast
import importlib
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    ROOT / "auth_plugin" / "upbit_auth",
    ROOT / "cancel" / "upbit_cancel",
    ROOT / "sandbox" / "upbit_sandbox",
    ROOT / "runtime" / "upbit_client_runtime",
    ROOT / "generated" / "upbit_client",
]
LIBRARIES = ("httpx", "httpcore", "anyio", "redis")
REFLECTION = {"getattr", "setattr", "hasattr", "delattr"}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@cache
def library_private_names() -> frozenset[str]:
    """Every private attribute name the libraries define: ``self._x = ...`` targets, private defs and class names."""
    names: set[str] = set()
    for library in LIBRARIES:
        try:
            module = importlib.import_module(library)
        except ImportError:
            continue
        assert module.__file__ is not None
        for path in Path(module.__file__).parent.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and private(node.attr):
                    names.add(node.attr)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and private(node.name):
                    names.add(node.name)
    return frozenset(names)


def library_of(module: str | None) -> str | None:
    root = (module or "").split(".")[0]
    return root if root in LIBRARIES else None


def findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: set[str] = set()  # local names bound to one of the libraries' modules
    found: list[str] = []
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    for node in ast.walk(tree):
        where = f"{shown}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if library_of(alias.name):
                    aliases.add((alias.asname or alias.name).split(".")[0])
                    if any(private(part) for part in alias.name.split(".")):
                        found.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and library_of(node.module) and node.level == 0:
            assert node.module is not None
            if any(private(part) for part in node.module.split(".")):
                found.append(f"{where}: from {node.module} import ...")
            found += [f"{where}: from {node.module} import {a.name}" for a in node.names if private(a.name)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REFLECTION:
            name = node.args[1] if len(node.args) > 1 else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and private(name.value):
                found.append(f"{where}: {node.func.id}(..., {name.value!r})")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not private(node.attr):
            continue
        where = f"{shown}:{node.lineno}"
        receiver = node.value
        if isinstance(receiver, ast.Name) and receiver.id in aliases:
            found.append(f"{where}: {receiver.id}.{node.attr}")
        elif isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
            continue
        elif node.attr in library_private_names():
            found.append(f"{where}: .{node.attr} (a private name of {', '.join(LIBRARIES)})")
    return found


def modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in package.rglob("*.py"))


def test_no_package_touches_a_private_name_of_httpx_httpcore_anyio_or_redis() -> None:
    found = [finding for path in modules() for finding in findings(path)]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "from httpcore._utils import is_socket_readable",
        "import httpx._config",
        "from httpx import _client",
        "import httpcore as core\ncore._sync",
        "getattr(http, '_transport', None)",
        "setattr(pool, '_network_backend', backend)",
        "http._transport._pool",
        "client._mounts",
        "pool._network_backend = backend",
    ],
)
def test_the_scan_reports_each_way_of_reaching_a_private_name(source: str, tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text(source + "\n", encoding="utf-8")
    assert findings(module), source


def test_the_scan_leaves_our_own_private_names_alone(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    own = "class A:\n    def f(self):\n        self._pool = 1\n        return self._pool\n"
    module.write_text(own, encoding="utf-8")
    assert findings(module) == []

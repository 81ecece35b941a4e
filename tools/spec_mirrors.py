"""Hand-written ``Literal`` types that mirror a value set of ``openapi.yaml``, checked against the spec.

Some hand-written types repeat a set of values the spec states (the open order states a listing takes,
the order sides). When the spec gains a value the hand-written type lacks, mypy says nothing (the narrower
type still checks) and the SDK refuses or silently drops the new value: ``cancel_open_orders(states=
["prewait"])`` found nothing to cancel. ``make api-check`` (``tools/api_report.py``) and
``tests/test_spec_mirrors.py`` run ``problems`` so such a spec change fails before a wheel exists, naming
the file and the type to change (or to generate).

The public ones are defined from the generated enums (``OpenState = OpenOrderState``, ``OrderSide``, and
``OrderState = Literal[OpenOrderState, "done", "cancel"]``), so ``make generate`` carries a new spec value
into them; this check still reads them, so a type written out by hand again is caught. The types are read
from the source with ``ast`` (no import: the tree checked may be a copy), with the generated enums
(``generated/upbit_client/models``) they use, the spec's values from the tree's generated registry
(``upbit_client.registry.OPERATIONS``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SpecValues = Callable[[Mapping[str, Any]], frozenset[str]]


def parameter_enum(operation: str, parameter: str, without: frozenset[str] = frozenset()) -> SpecValues:
    """The enum of one parameter of the registry (of its items, for an array), less ``without``."""

    def values(operations: Mapping[str, Any]) -> frozenset[str]:
        (rule,) = [p for p in operations[operation].parameters if p.python_name == parameter]
        value = rule.item if rule.is_array else rule.value
        return frozenset(value.enum or ()) - without

    values.__doc__ = f"{operation}({parameter}=...)'s enum" + (f" less {sorted(without)}" if without else "")
    return values


@dataclass(frozen=True)
class Mirror:
    """``name`` in ``path`` holds exactly (or, with ``subset``, at least) the spec's values."""

    path: str
    name: str
    spec: SpecValues
    at_least: bool = False
    """The type may hold more values than the spec lists (order states: the spec enumerates the open ones)."""


OPEN_STATES = parameter_enum("list_open_orders", "states")
SIDES = parameter_enum("cancel_open_orders", "cancel_side", without=frozenset({"all"}))
MIRRORS = (
    Mirror("cancel/upbit_cancel/sweep.py", "OpenState", OPEN_STATES),
    Mirror("cancel/upbit_cancel/sweep.py", "OrderSide", SIDES),
    Mirror("cancel/upbit_cancel/results.py", "OrderState", OPEN_STATES, at_least=True),
    Mirror("sandbox/upbit_sandbox/exchange.py", "OrderState", OPEN_STATES, at_least=True),
    Mirror("sandbox/upbit_sandbox/exchange.py", "OrderSide", SIDES),
)


GENERATED_MODELS = "generated/upbit_client/models"
"""Where the generator writes each spec enum as ``Name = Literal[...]`` (``literal_enums: true``)."""


def generated_literals(root: Path) -> dict[str, frozenset[str]]:
    """Each generated enum of the tree under ``root``: its ``Literal``'s name and values."""
    found: dict[str, frozenset[str]] = {}
    for path in sorted((root / GENERATED_MODELS).glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                values = _literal(node.value, {}, {})
                if values is not None:
                    found[node.targets[0].id] = values
    return found


def literal_values(source: str, name: str, generated: dict[str, frozenset[str]] | None = None) -> frozenset[str] | None:
    """The values ``name`` holds in ``source``; None if it is not a ``Literal`` there.

    ``name = Literal[...]`` (or ``name: TypeAlias = ...``) whose items are strings, other ``Literal``s of the
    module, or enums imported from ``upbit_client.models`` (read from ``generated``: a type defined from
    the generated enum follows the spec by construction, and is still checked here).
    """
    tree = ast.parse(source)
    imported = {
        alias.asname or alias.name: (generated or {}).get(alias.name)
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "upbit_client.models"
        for alias in node.names
    }
    local = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    return _name(name, local, imported)


def _name(name: str, local: dict[str, ast.expr], imported: dict[str, frozenset[str] | None]) -> frozenset[str] | None:
    if name in imported:
        return imported[name]
    return _literal(local[name], local, imported) if name in local else None


def _literal(
    value: ast.expr, local: dict[str, ast.expr], imported: dict[str, frozenset[str] | None]
) -> frozenset[str] | None:
    """The strings a ``Literal[...]`` (or a name bound to one) holds, nested ``Literal``s flattened."""
    if isinstance(value, ast.Name):
        return _name(value.id, local, imported)
    if not (isinstance(value, ast.Subscript) and getattr(value.value, "id", None) == "Literal"):
        return None
    found: set[str] = set()
    for item in value.slice.elts if isinstance(value.slice, ast.Tuple) else [value.slice]:
        part = frozenset({str(item.value)}) if isinstance(item, ast.Constant) else _literal(item, local, imported)
        if part is None:
            return None
        found |= part
    return frozenset(found)


def problems(root: Path, operations: Mapping[str, Any]) -> list[str]:
    """One sentence per hand-written type that no longer mirrors the spec (none when all agree)."""
    found: list[str] = []
    generated = generated_literals(root)
    for mirror in MIRRORS:
        where = f"{mirror.path}: {mirror.name}"
        path = root / mirror.path
        source = path.read_text(encoding="utf-8") if path.is_file() else ""
        have = literal_values(source, mirror.name, generated) if source else None
        if have is None:
            found.append(f"{where} is no longer a Literal there: move its check in tools/spec_mirrors.py")
            continue
        spec = mirror.spec(operations)
        missing, extra = sorted(spec - have), sorted(have - spec)
        # Read without the generated enums, a type made from one has no values of its own.
        made_from_generated = literal_values(source, mirror.name) is None
        stale = " (run make generate: it is made from a generated enum)" if made_from_generated else ""
        if missing:
            found.append(f"{where} lacks {missing}, which openapi.yaml now has ({mirror.spec.__doc__}){stale}")
        if extra and not mirror.at_least:
            found.append(f"{where} has {extra}, which openapi.yaml no longer has ({mirror.spec.__doc__}){stale}")
    return found

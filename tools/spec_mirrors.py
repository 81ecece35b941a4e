"""Hand-written ``Literal`` types that mirror a value set of ``openapi.yaml``, checked against the spec.

Some hand-written types repeat a set of values the spec states (the open order states a listing takes,
the order sides). When the spec gains a value the hand-written type lacks, mypy says nothing (the narrower
type still checks) and the SDK refuses or silently drops the new value: ``cancel_open_orders(states=
["prewait"])`` found nothing to cancel. ``make api-check`` (``tools/api_report.py``) and
``tests/test_spec_mirrors.py`` run ``problems`` so such a spec change fails before a wheel exists, naming
the file and the type to change (or to generate).

The types are read from the source with ``ast`` (no import: the tree checked may be a copy), the spec's
values from the tree's generated registry (``upbit_client.registry.OPERATIONS``).
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


def literal_values(source: str, name: str) -> frozenset[str] | None:
    """The values of ``name = Literal[...]`` (or ``name: TypeAlias = Literal[...]``) in ``source``; None if absent."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            value: ast.expr | None = node.value
        elif isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == name:
            value = node.value
        else:
            continue
        if isinstance(value, ast.Subscript) and getattr(value.value, "id", None) == "Literal":
            items = value.slice.elts if isinstance(value.slice, ast.Tuple) else [value.slice]
            return frozenset(str(item.value) for item in items if isinstance(item, ast.Constant))
    return None


def problems(root: Path, operations: Mapping[str, Any]) -> list[str]:
    """One sentence per hand-written type that no longer mirrors the spec (none when all agree)."""
    found: list[str] = []
    for mirror in MIRRORS:
        where = f"{mirror.path}: {mirror.name}"
        path = root / mirror.path
        have = literal_values(path.read_text(encoding="utf-8"), mirror.name) if path.is_file() else None
        if have is None:
            found.append(f"{where} is no longer a Literal there: move its check in tools/spec_mirrors.py")
            continue
        spec = mirror.spec(operations)
        missing, extra = sorted(spec - have), sorted(have - spec)
        if missing:
            found.append(f"{where} lacks {missing}, which openapi.yaml now has ({mirror.spec.__doc__})")
        if extra and not mirror.at_least:
            found.append(f"{where} has {extra}, which openapi.yaml no longer has ({mirror.spec.__doc__})")
    return found

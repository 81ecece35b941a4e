"""The changelog lines ``make api`` writes: one per change a person acts on, grouped per operation.

One spec change shows in several places of the API: a new optional parameter of an operation is a
parameter of its registry row and of each generated function (``sync``, ``sync_detailed``, ``asyncio``,
``asyncio_detailed``). ``tools/api_report.py`` names every place (the gate lists them all); the
changelog folds them into one line per operation and change, naming the generated functions it reached.
A change of the generated functions alone (their own) is one line per operation for all of them. A
rename is said once (not again for the ``__init__`` parameter that follows it), and so is a new enum value
(not again for the generated ``X_VALUES`` set beside its ``Literal``); the types that gained or lost the
same ``Literal`` values (a generated enum and the public types made from it) share one line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

GENERATED_FUNCTION = re.compile(r"upbit_client\.api\.\w+\.(?P<operation>\w+)\.(?P<function>\w+)\Z")


class Level(Protocol):
    @property
    def word(self) -> str: ...

    def __lt__(self, other: int, /) -> bool: ...


class Change(Protocol):
    """``api_report.Change``'s fields (a Protocol: no import of the tool that imports this)."""

    @property
    def level(self) -> Level: ...

    @property
    def where(self) -> str: ...

    @property
    def what(self) -> str: ...

    @property
    def why(self) -> str: ...


def _because(why: str) -> str:
    return f" ({why})" if why else ""


def _is_operation(where: str) -> bool:
    return "." not in where


def lines(changes: Sequence[Change]) -> list[str]:
    """The changelog's lines for ``changes``, in their order; each starts with its level word."""
    by_function: dict[str, list[tuple[str, Change]]] = {}
    for change in changes:
        found = GENERATED_FUNCTION.match(change.where)
        if found:
            by_function.setdefault(found["operation"], []).append((found["function"], change))
    written: list[str] = []
    done: set[str] = set()
    for change in changes:
        if _follows_a_rename(change, changes) or _follows_a_literal(change, changes):
            continue
        found = GENERATED_FUNCTION.match(change.where)
        operation = found["operation"] if found else change.where
        if found is None and change.what.startswith("Literal values"):
            if change.what not in done:  # one line for every type that gained (or lost) the same values
                done.add(change.what)
                names = [c.where for c in changes if c.what == change.what and c.level == change.level]
                written.append(f"{change.level.word}: {change.what}{_because(change.why)}: {', '.join(names)}")
        elif found is None and not _is_operation(change.where):
            written.append(f"{change.level.word}: {change.where}: {change.what}{_because(change.why)}")
        elif operation not in done:
            done.add(operation)
            own = [c for c in changes if c.where == operation]
            written += _operation_lines(operation, own, by_function.get(operation, []))
    return written


def _operation_lines(operation: str, own: list[Change], functions: list[tuple[str, Change]]) -> list[str]:
    """One line per change of ``operation``, each naming the generated functions the same change reached."""
    found: list[str] = []
    left = list(functions)
    for change in own:
        reached = [name for name, c in left if c.what == change.what]
        left = [(name, c) for name, c in left if c.what != change.what]
        also = f"; generated {', '.join(reached)} follow" if reached else ""
        found.append(f"{change.level.word}: {operation}: {change.what}{_because(change.why)}{also}")
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for name, change in left:
        grouped.setdefault((change.level.word, change.what, change.why), []).append(name)
    for (word, what, why), names in grouped.items():
        found.append(f"{word}: {operation} (generated {', '.join(names)}): {what}{_because(why)}")
    return found


def _follows_a_rename(change: Change, changes: Sequence[Change]) -> bool:
    """``X.__init__: parameter a renamed to b`` beside ``X: a renamed to b``: one rename, said once."""
    owner, _, method = change.where.rpartition(".")
    prefix = "parameter "
    if method != "__init__" or not change.what.startswith(prefix):
        return False
    return any(other.where == owner and other.what == change.what[len(prefix) :] for other in changes)


def _follows_a_literal(change: Change, changes: Sequence[Change]) -> bool:
    """A generated enum's ``X_VALUES`` set beside its ``Literal``'s change in the same module: said once."""
    module, _, name = change.where.rpartition(".")
    if not name.endswith("_VALUES"):
        return False
    return any(o.where.rpartition(".")[0] == module and o.what.startswith("Literal values") for o in changes)

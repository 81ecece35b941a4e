"""Every type that appears in a public signature can be imported by name from a public face.

A consumer who types their own code (``mypy --strict``) must be able to name what our functions
take and return: ``AnyClient``, ``IdKind``, ``RateLimiter``... A public signature is any annotation
of a name in the ``__all__`` of ``upbit_cancel``, ``upbit_auth`` or ``upbit_sandbox``: a function's
parameters and return, a class's fields, properties and public methods. Each name in those
annotations that is one of ours (a class defined in our packages, or a type alias written there)
must be in the ``__all__`` of a package face.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import re
import sys
import typing
from collections.abc import Iterator

import pytest

FACES = ("upbit_cancel", "upbit_auth", "upbit_sandbox")
# Where a consumer may import a type from: the faces and the generated client's public modules.
EXPORTING = (*FACES, "upbit_client", "upbit_client.models", "upbit_client.types", "upbit_client.rules",
             "upbit_client.errors", "upbit_client.registry")  # fmt: skip
OURS = ("upbit_cancel", "upbit_auth", "upbit_sandbox", "upbit_client")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def exported() -> dict[str, list[object]]:
    """Each name a consumer can import from a face, with what it names there (the same name may mean two things)."""
    names: dict[str, list[object]] = {}
    for module_name in EXPORTING:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            names.setdefault(name, []).append(getattr(module, name))
    return names


def globals_of(klass: type) -> dict[str, object]:
    """The namespace ``klass``'s annotations are read in: its methods' globals (the module may have left
    ``sys.modules``, e.g. after an in-process pytest run), else its module's."""
    for member in vars(klass).values():
        function = member.fget if isinstance(member, property) else member
        if isinstance(function, (staticmethod, classmethod)):
            function = function.__func__
        if inspect.isfunction(function):
            return function.__globals__
    return vars(sys.modules[klass.__module__])


def annotations_of(value: object) -> Iterator[tuple[str, str, dict[str, object]]]:
    """(where, annotation text, the globals it is read in) for every annotation of a public name."""
    if inspect.isclass(value):
        for klass in value.__mro__:
            if not klass.__module__.startswith(OURS):
                continue
            home = globals_of(klass)
            for field, text in vars(klass).get("__annotations__", {}).items():
                if not field.startswith("_"):
                    yield f"{value.__name__}.{field}", str(text), home
            for attribute, member in vars(klass).items():
                if attribute.startswith("_") and attribute != "__init__":
                    continue
                function = member.fget if isinstance(member, property) else member
                if isinstance(function, (staticmethod, classmethod)):
                    function = function.__func__
                if inspect.isfunction(function):
                    for parameter, text in function.__annotations__.items():
                        yield f"{value.__name__}.{attribute}({parameter})", str(text), home
    elif inspect.isfunction(value):
        home = vars(sys.modules[value.__module__])
        for parameter, text in value.__annotations__.items():
            yield f"{value.__name__}({parameter})", str(text), home


def ours(name: str, home: dict[str, object]) -> bool:
    """Whether ``name``, read in a module with globals ``home``, is a type of ours (not builtins, typing, httpx...)."""
    if hasattr(builtins, name) or hasattr(typing, name):
        return False
    value = home.get(name)
    if value is None:
        # Imported only for type checkers: ours if one of our loaded modules defines a class of that name.
        return any(
            inspect.isclass(vars(module).get(name)) and vars(module)[name].__module__.startswith(OURS)
            for key, module in list(sys.modules.items())
            if key.startswith(OURS) and module is not None
        )
    if inspect.isclass(value):
        return value.__module__.startswith(OURS)
    if inspect.ismodule(value) or (callable(value) and not typing.get_origin(value)):
        return False
    # A parametrised alias (``X = Literal[...]``, ``A | B``, ``Callable[...]``) written in our code.
    return typing.get_origin(value) is not None or isinstance(value, type(int | str))


def is_exported(name: str, home: dict[str, object], public: dict[str, list[object]]) -> bool:
    value = home.get(name)
    if value is None:  # imported only for type checkers: the name is all there is to go by
        return name in public
    return any(found is value or (not inspect.isclass(value) and found == value) for found in public.get(name, []))


def unexported(value: object, public: dict[str, list[object]]) -> list[str]:
    return [
        f"{where}: {name}"
        for where, text, home in annotations_of(value)
        for name in NAME.findall(text)
        if ours(name, home) and not is_exported(name, home, public)
    ]


def test_every_type_in_a_public_signature_is_exported() -> None:
    public = exported()
    found = {
        f"{face}.{problem}"
        for face in FACES
        for export in importlib.import_module(face).__all__
        for problem in unexported(getattr(importlib.import_module(face), export), public)
    }
    assert sorted(found) == []


@pytest.mark.parametrize(
    ("face", "names"),
    [
        ("upbit_cancel", ["AnyClient", "IdKind", "ConfirmedBy", "OrderState", "RateLimiter", "RemainingReq"]),
        ("upbit_cancel", ["ReportDict", "OrderDict", "ErrorDict", "UnconfirmedOrderDict", "NotSentOrderDict"]),
        ("upbit_sandbox", ["FaultPlan", "Fault", "FaultKind", "SandboxTransport", "ExchangeClock"]),
    ],
)
def test_the_types_issue_17_names_are_importable_from_the_face(face: str, names: list[str]) -> None:
    package = importlib.import_module(face)
    assert set(names) <= set(package.__all__)
    assert all(getattr(package, name) is not None for name in names)


class Hidden:
    """A stand-in for a class of ours that no face exports."""


Hidden.__module__ = "upbit_cancel.hidden"
Shown = int | Hidden
"""A stand-in for an alias of ours that no face exports."""


def uses_hidden(first: Hidden, second: Shown) -> None: ...


def test_the_check_finds_an_unexported_class_and_alias_and_a_same_named_but_different_type() -> None:
    assert unexported(uses_hidden, exported()) == ["uses_hidden(first): Hidden", "uses_hidden(second): Shown"]
    assert unexported(uses_hidden, {"Hidden": [Hidden], "Shown": [int | str]}) == ["uses_hidden(second): Shown"]
    assert unexported(uses_hidden, {"Hidden": [Hidden], "Shown": [Shown]}) == []


def test_the_order_side_of_a_report_entry_is_the_spec_side_type() -> None:
    from upbit_cancel import NotSentOrder, OrderRef, OrderSide, UnconfirmedOrder

    for cls in (OrderRef, UnconfirmedOrder, NotSentOrder):
        assert typing.get_type_hints(cls)["side"] == OrderSide | None, cls

"""``BatchResult.to_dict()`` has exactly the shape ``upbit_cancel.ReportDict`` declares, at every level.

mypy checks each ``to_dict`` against its TypedDict; this checks the runtime dicts too, for a report
holding every kind of entry (by uuids and by identifiers), so a key added on one side only is caught.
"""

from __future__ import annotations

import json
from typing import get_type_hints, is_typeddict

import pytest

from upbit_cancel import (
    BatchResult,
    ErrorInfo,
    IdKind,
    NotSentOrder,
    OrderRef,
    ReportDict,
    UnconfirmedOrder,
)
from upbit_cancel.results import order_state


def conforms(value: object, shape: type, where: str) -> list[str]:
    """What in ``value`` breaks the TypedDict ``shape`` (missing required keys, unknown keys), recursively."""
    assert isinstance(value, dict), where
    problems = [f"{where}: {key} missing" for key in shape.__required_keys__ if key not in value]  # type: ignore[attr-defined]
    hints = get_type_hints(shape)
    for key, item in value.items():
        if key not in hints:
            problems.append(f"{where}: unknown key {key}")
            continue
        inner = hints[key]
        origin_args = getattr(inner, "__args__", ())
        if is_typeddict(inner):
            problems += conforms(item, inner, f"{where}.{key}")
        elif isinstance(item, list) and origin_args and is_typeddict(origin_args[0]):
            for index, entry in enumerate(item):
                problems += conforms(entry, origin_args[0], f"{where}.{key}[{index}]")
    return problems


@pytest.mark.parametrize("kind", ["uuids", "identifiers"])
def test_every_entry_of_the_report_has_the_declared_shape(kind: IdKind) -> None:
    error = ErrorInfo("server_error", "boom", 500)
    result = BatchResult(
        kind,
        success=[OrderRef("u1", "KRW-BTC", "i1"), OrderRef("u2", None, "i2", confirmed_by="lookup", state="cancel")],
        failed=[
            OrderRef("u3", "KRW-ETH", None, reason="filled", state="done"),
            OrderRef(None, None, "i4"),
            OrderRef("u7", None, "i7", reason="rejected", error=ErrorInfo("invalid_access_key", "no", 401)),
        ],
        unconfirmed=[UnconfirmedOrder("x5", kind, error)],
        not_sent=[NotSentOrder("x6", kind, "blocked"), NotSentOrder("x8", kind, "refused", error)],
    )
    report = result.to_dict()
    assert conforms(report, ReportDict, "report") == []
    assert "error" in report["failed"]["orders"][2] and "error" in report["not_sent"]["orders"][1]
    assert conforms(json.loads(json.dumps(report)), ReportDict, "json") == []
    key = "uuid" if kind == "uuids" else "identifier"
    assert report["unconfirmed"]["orders"][0][key] == "x5"  # type: ignore[literal-required]
    assert report["unconfirmed"]["errors"] == [{"name": "server_error", "message": "boom", "status": 500, "count": 1}]


def test_the_checker_sees_a_key_the_shape_does_not_declare() -> None:
    report = BatchResult("uuids", success=[OrderRef("u1", None)]).to_dict()
    report["success"]["orders"][0]["extra"] = 1  # type: ignore[typeddict-unknown-key]
    assert conforms(report, ReportDict, "report") == ["report.success.orders[0]: unknown key extra"]


def test_a_state_upbit_does_not_document_is_none_not_a_string_of_another_type() -> None:
    assert [order_state(text) for text in ("wait", "watch", "done", "cancel")] == ["wait", "watch", "done", "cancel"]
    assert order_state("paused") is None and order_state(None) is None

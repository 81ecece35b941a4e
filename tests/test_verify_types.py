"""``make verifytypes`` (``tools/verify_types.py``) fails below 99 % and names each ambiguous symbol.

basedpyright itself runs in ``make verifytypes`` (part of ``make test``); these tests check the verdict the
tool draws from its report, on reports shaped like basedpyright's ``--outputjson``.
"""

from __future__ import annotations

from typing import Any

import pytest
import verify_types


def report(score: float, *, ambiguous: int = 0) -> dict[str, Any]:
    symbol = {
        "name": "upbit_cancel.batch.Batch.count",
        "diagnostics": [
            {
                "severity": "error",
                "file": "/repo/cancel/upbit_cancel/batch.py",
                "range": {"start": {"line": 41, "character": 13}},
                "message": 'Type is missing type annotation\n  Inferred type is "int"',
            },
            {"severity": "warning", "message": "No docstring found"},
        ],
    }
    return {
        "completenessScore": score,
        "exportedSymbolCounts": {"withKnownType": 99, "withAmbiguousType": ambiguous, "withUnknownType": 0},
        "symbols": [symbol] if ambiguous else [],
    }


def test_a_package_below_the_minimum_fails_naming_the_file_line_and_symbol(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scores = {"upbit_cancel": report(0.985, ambiguous=1), "upbit_auth": report(1.0)}
    monkeypatch.setattr(verify_types, "completeness", lambda package, python: scores[package])
    assert verify_types.main(["upbit_cancel", "upbit_auth"]) == 1
    out = capsys.readouterr().out
    assert "upbit_cancel: 98.5% (1 ambiguous, 0 unknown)" in out
    assert (
        "/repo/cancel/upbit_cancel/batch.py:42: upbit_cancel.batch.Batch.count: Type is missing type annotation "
        'Inferred type is "int"' in out
    )
    assert "No docstring" not in out
    assert "type completeness below 99%: upbit_cancel (annotate" in out


def test_packages_at_or_above_the_minimum_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_types, "completeness", lambda package, python: report(0.99))
    assert verify_types.main(["upbit_cancel", "upbit_client"]) == 0


def test_every_package_the_sdk_ships_is_checked() -> None:
    assert set(verify_types.PACKAGES) == {"upbit_cancel", "upbit_auth", "upbit_sandbox", "upbit_client"}

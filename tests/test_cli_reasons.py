"""The command tells the reason: failed rows show it, long ids are shortened in the table only, duplicates are counted.

Guarantee under test (docs/guarantees.md, "The command").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_cancel.cli import TABLE_ID_WIDTH, main, shorten
from upbit_sandbox import SandboxExchange

LONG = "client-order-" + "x" * 40 + "-tail-0001"


def run(exchange: SandboxExchange, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main([*argv, "--server-url", "https://api.upbit.com"], transport=exchange.transport())
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def exchange() -> SandboxExchange:
    book = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    book.add_order("u-open", identifier="open-1")
    book.add_order("u-filled", identifier="filled-1", state="done")
    book.add_order("u-cancelled", identifier="cancelled-1", state="cancel")
    book.add_order("u-long", identifier=LONG)
    return book


def test_shorten_keeps_both_ends_and_the_width() -> None:
    short = shorten(LONG)
    assert len(short) == TABLE_ID_WIDTH and "…" in short
    assert short.startswith("client-order-") and short.endswith("-tail-0001")
    assert shorten("6c1eac69-b9bc-4fbf-9982-e9c4641c453f") == "6c1eac69-b9bc-4fbf-9982-e9c4641c453f"


def test_failed_rows_show_their_reason_and_long_ids_are_shortened_in_the_table(
    cli_env: Any, exchange: SandboxExchange, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--identifier", "open-1", "filled-1", "cancelled-1", "nobody", LONG]
    status, out, err = run(exchange, capsys, *argv)
    assert status == 1 and err == ""
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert rows["open-1"] == ["KRW-BTC", "cancelled"]
    assert rows["filled-1"] == ["KRW-BTC", "failed", "filled"]
    assert rows["cancelled-1"] == ["KRW-BTC", "failed", "already_cancelled"]
    assert rows["nobody"] == ["-", "failed", "not_found"]
    assert rows[shorten(LONG)] == ["KRW-BTC", "cancelled"]
    assert LONG not in out


def test_json_keeps_long_ids_whole(cli_env: Any, exchange: SandboxExchange, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(exchange, capsys, "--identifier", LONG, "--json")
    assert status == 0
    assert [order["identifier"] for order in json.loads(out)["success"]["orders"]] == [LONG]


def test_duplicates_are_counted_on_stderr_in_one_line(
    cli_env: Any, exchange: SandboxExchange, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(exchange, capsys, "--identifier", "open-1", "open-1", "open-1", "--json")
    assert status == 0
    assert err == "upbit-cancel: 2 duplicate ids dropped (each order is sent once)\n"
    assert json.loads(out)["success"]["count"] == 1

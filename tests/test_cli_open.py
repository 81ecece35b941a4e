"""``upbit-cancel --open``: cancel the open orders that match, with the same report and exit statuses.

Against the sandbox's order book (in-process transport, real rate limits): ``--market`` cancels
exactly that market's open orders, ``wait`` and ``watch``, each reported once with its market and
side, without a 429; ``--dry-run`` sends no cancel and exits 0; ``--side bid`` touches no ask;
impossible combinations exit 2 before anything is sent; a listing the exchange refuses exits 3.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import set_upbit_env
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_cancel import cli
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, Order, SandboxExchange, start_server
from upbit_sandbox.book import seed_open_orders

SERVER = ["--server-url", "https://api.upbit.com"]
UPBIT_CANCEL = Path(sys.executable).parent / "upbit-cancel"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, TEST_SECRET_KEY)
    return monkeypatch


def book(count: int = 1000) -> tuple[SandboxExchange, list[Order]]:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    return exchange, seed_open_orders(exchange, count)


def run(exchange: SandboxExchange, *argv: str) -> int:
    return cli.main([*SERVER, *argv], transport=exchange.transport())


def open_uuids(exchange: SandboxExchange) -> set[str]:
    return {order.uuid for order in exchange.orders() if order.state in ("wait", "watch")}


def test_open_market_json_cancels_exactly_that_markets_open_orders_each_once(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange, orders = book()
    btc = {order.uuid: order for order in orders if order.market == "KRW-BTC"}
    assert run(exchange, "--open", "--market", "KRW-BTC", "--json") == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    cancelled = report["success"]["orders"]
    assert Counter(order["uuid"] for order in cancelled) == Counter(dict.fromkeys(btc, 1))
    assert {(o["uuid"], o["market"], o["side"]) for o in cancelled} == {(u, o.market, o.side) for u, o in btc.items()}
    assert Counter(btc[order["uuid"]].state for order in cancelled) == {"wait": 225, "watch": 25}
    assert [report[group]["count"] for group in ("failed", "unconfirmed", "not_sent")] == [0, 0, 0]
    assert open_uuids(exchange) == {order.uuid for order in orders} - set(btc)
    assert [record for record in exchange.requests if record.status == 429] == []


def test_dry_run_sends_no_delete_prints_the_matches_and_exits_0(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange, orders = book(100)
    assert run(exchange, "--open", "--dry-run", "--quote", "KRW") == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert {record.method for record in exchange.requests} == {"GET"}
    assert open_uuids(exchange) == {order.uuid for order in orders}
    assert out.startswith("0 cancelled, 0 failed, 0 unconfirmed, 75 not sent\n")
    assert "dry run: 75 open orders match; nothing was cancelled" in err


def test_side_bid_touches_no_ask(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    exchange, orders = book(200)
    asks = {order.uuid for order in orders if order.side == "ask"}
    assert run(exchange, "--open", "--side", "bid", "--json") == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert {order["side"] for order in report["success"]["orders"]} == {"bid"}
    assert open_uuids(exchange) == asks


def test_state_watch_and_exclude_market_narrow_the_sweep(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange, orders = book(400)
    assert run(exchange, "--open", "--state", "watch", "--exclude-market", "KRW-ETH", "--json") == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    expected = {order.uuid for order in orders if order.state == "watch" and order.market != "KRW-ETH"}
    assert {order["uuid"] for order in report["success"]["orders"]} == expected


def test_older_than_leaves_recent_orders_open(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    old = exchange.add_order(created_at=exchange.clock() - 7200).uuid
    recent = exchange.add_order(created_at=exchange.clock() - 60).uuid
    assert run(exchange, "--open", "--older-than", "1h") == cli.EXIT_OK
    assert open_uuids(exchange) == {recent} and exchange.order(old).state == "cancel"


def test_no_match_exits_0_saying_so(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    exchange, _ = book(8)
    assert run(exchange, "--open", "--market", "KRW-DOGE") == cli.EXIT_OK
    assert "no open order matches; nothing to cancel" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--market", "KRW-BTC"], "add --open"),
        (["--open", "--uuid", "6c1eac69-b9bc-4fbf-9982-e9c4641c453f"], "give no uuids or identifiers"),
        (["--open", "--dry-run", "--until-empty"], "give one of them"),
        (["--open", "--market", "KRW-BTC", "--exclude-market", "KRW-BTC"], "--market: every market is filtered out"),
        (["--open", "--market", "KRW-BTC", "--quote", "BTC"], "--market: every market is filtered out"),
        (["--open", "--market", "krw-btc"], "--market: every item must be a market pair such as KRW-BTC"),
        (["--open", "--exclude-market", "KRW"], "--exclude-market: every item must be a market pair"),
        (["--open", "--quote", "KRW,BTC"], "--quote: must be one code"),
        (["--open", "--side", "sell"], "invalid choice"),
        (["--open", "--state", "done"], "invalid choice"),
        (["--open", "--older-than", "soon"], "must be a positive duration"),
    ],
)
def test_impossible_combinations_exit_2_before_sending(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    exchange, _ = book(8)
    assert run(exchange, *argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("upbit-cancel: error: ") and message in err and err.count("\n") == 1
    assert exchange.requests == []


def test_a_listing_the_exchange_refuses_exits_3_and_cancels_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, "a-secret-the-exchange-does-not-know-" * 2)
    exchange, orders = book(8)
    assert run(exchange, "--open") == cli.EXIT_NOTHING_DONE
    err = capsys.readouterr().err
    assert "listing open orders failed, nothing was cancelled" in err and "jwt_verification" in err
    assert "a-secret-the-exchange" not in err
    assert open_uuids(exchange) == {order.uuid for order in orders}


def test_sigint_during_the_sweep_prints_every_listed_order_once_and_exits_130() -> None:
    # 10 requests a second: 600 orders (6 listings + 30 cancels) take about 4 s; the signal comes after 12 answers.
    exchange = SandboxExchange(rate_limit_per_second=10)
    orders = seed_open_orders(exchange, 600)
    server, url = start_server(exchange)
    env = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}
    env |= {"UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY, "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY}
    try:
        argv = [str(UPBIT_CANCEL), "--open", "--json", "--server-url", url]
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 20
        while len(exchange.requests) < 12 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        server.stop()
    assert child.returncode == cli.EXIT_INTERRUPTED, err
    report = json.loads(out)
    groups = ("success", "failed", "unconfirmed", "not_sent")
    reported = [order["uuid"] for group in groups for order in report[group]["orders"]]
    assert sorted(reported) == sorted(order.uuid for order in orders)  # every order once
    not_sent = {order["uuid"] for order in report["not_sent"]["orders"]}
    assert report["success"]["count"] and not_sent and not_sent <= open_uuids(exchange)
    assert all(order["market"] and order["side"] for order in report["not_sent"]["orders"])
    assert {order.uuid for order in exchange.orders("cancel")} <= {o["uuid"] for o in report["success"]["orders"]} | {
        o["uuid"] for o in report["unconfirmed"]["orders"]
    }
    assert "interrupted" in err and "Traceback" not in err

"""The confirm phase: after the cancels, the exchange is asked (GET /v1/orders/uuids) what it did.

Guarantee under test (docs/guarantees.md, "Ask the exchange when an answer was lost"): every id
reported failed, and every id whose answer was lost, is looked up (up to 100 per call, through the
same limiter); a lost answer whose order is cancelled is success ``confirmed_by="lookup"``; failed
orders carry a reason; nothing is looked up when every order was cancelled on the first answer.
"""

from __future__ import annotations

import functools
import io
import json
import math
import sys
from typing import Any

import anyio
import attrs
import pytest

from tests.backends import backend
from tests.clocks import FakeClock
from tests.faults import FaultyExchange, replace_answer, sandbox_error
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import UUIDS_PER_CANCEL, UUIDS_PER_LOOKUP, chunks
from upbit_auth import UpbitAuth
from upbit_cancel import BatchResult, cancel_orders, cancel_orders_async
from upbit_cancel import batch as batch_module
from upbit_cancel.cli import main
from upbit_cancel.ratelimit import Permit, RateLimiter, limiter_for
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids, list_orders_by_ids
from upbit_client.rules import RateLimit
from upbit_sandbox import LOOKUP_METHOD, OrderState, SandboxExchange

LOOKUP_MAX = next(rule.max_items for rule in list_orders_by_ids.QUERY_RULES if rule.python_name == "uuids")


def sandbox(**options: Any) -> SandboxExchange:
    return SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None, **options)


def orders(exchange: SandboxExchange, count: int, state: OrderState = "wait", prefix: str = "o") -> list[str]:
    return [exchange.add_order(f"{prefix}-{n:05d}", state=state).uuid for n in range(count)]


def run(mode: str, exchange: SandboxExchange, **options: Any) -> BatchResult:
    options.setdefault("limiter", RateLimiter("default", None))
    client = Client(
        base_url="https://api.upbit.com",
        httpx_args={"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY), "transport": exchange.transport()},
    )
    if mode == "sync":
        with client:
            return cancel_orders(client, **options)

    async def go() -> BatchResult:
        async with client:
            return await cancel_orders_async(client, **options)

    return anyio.run(go, backend=backend(mode))


def lookups(exchange: SandboxExchange) -> int:
    return sum(request.method == LOOKUP_METHOD for request in exchange.requests)


@pytest.fixture(params=["sync", "async", "trio"])
def mode(request: pytest.FixtureRequest) -> str:
    """sync; async on asyncio; async on trio (the one async code runs on both through anyio)."""
    return str(request.param)


# 20 full chunks (400 orders while maxItems is 20), every fifth answer lost: 4 chunks need the lookup.
TWENTY_CHUNKS = 20 * UUIDS_PER_CANCEL
LOST = 4 * UUIDS_PER_CANCEL


def test_twenty_chunks_with_every_fifth_answer_lost_all_end_in_success(mode: str) -> None:
    exchange = sandbox(drop_answer_every=5)
    ids = orders(exchange, TWENTY_CHUNKS)
    # One request at a time: which answers the exchange drops (every 5th it answers) is then exact.
    result = run(mode, exchange, uuids=ids, max_in_flight=1)
    assert len(result.success) == TWENTY_CHUNKS and not result.failed and not result.unconfirmed and not result.not_sent
    by_lookup = [order.uuid for order in result.success if order.confirmed_by == "lookup"]
    assert len(by_lookup) == LOST  # the 4 chunks whose answers were lost
    assert all(exchange.order(uuid).state == "cancel" for uuid in ids)
    # 20 chunks + 4 retries, then the lookups for the ids that needed it (maxItems of the lookup each).
    expected_lookups = chunks(LOST, UUIDS_PER_LOOKUP)
    assert (result.requests_sent, result.lookups_sent, lookups(exchange)) == (24, expected_lookups, expected_lookups)


def test_without_confirmation_the_same_lost_answers_stay_unconfirmed(mode: str) -> None:
    exchange = sandbox(drop_answer_every=5)
    ids = orders(exchange, 100)
    result = run(mode, exchange, uuids=ids, confirm=False)
    assert len(result.success) == 80
    assert {order.error.name for order in result.unconfirmed} == {"failed_after_lost_answer"}
    assert lookups(exchange) == 0


def test_nothing_is_looked_up_when_every_order_was_cancelled_on_the_first_answer(mode: str) -> None:
    exchange = sandbox()
    ids = orders(exchange, 100)
    result = run(mode, exchange, uuids=ids)
    assert len(result.success) == 100 and result.lookups_sent == 0 and lookups(exchange) == 0
    assert {order.confirmed_by for order in result.success} == {"answer"}


def test_failed_orders_say_why(mode: str) -> None:
    exchange = sandbox()
    filled = exchange.add_order("filled", state="done").uuid
    cancelled = exchange.add_order("cancelled", state="cancel").uuid
    exchange.suspended_markets.add("KRW-DOGE")  # its orders stay open whatever a cancel asks
    stuck = exchange.add_order("stuck", market="KRW-DOGE").uuid
    opened = exchange.add_order("open").uuid
    result = run(mode, exchange, uuids=[opened, filled, cancelled, stuck, "nobody-knows"])
    assert [order.uuid for order in result.success] == [opened]
    assert {order.uuid: order.reason for order in result.failed} == {
        filled: "filled",
        cancelled: "already_cancelled",
        stuck: "still_open",
        "nobody-knows": "not_found",
    }
    assert {order.uuid: order.state for order in result.failed} == {
        filled: "done",
        cancelled: "cancel",
        stuck: "wait",
        "nobody-knows": None,
    }


def test_without_confirmation_failed_orders_have_reason_unknown(mode: str) -> None:
    exchange = sandbox()
    ids = orders(exchange, 2, state="done")
    result = run(mode, exchange, uuids=ids, confirm=False)
    assert [order.reason for order in result.failed] == ["unknown", "unknown"]
    assert lookups(exchange) == 0


def test_lookups_take_at_most_the_spec_max_items_ids_each(mode: str) -> None:
    exchange = sandbox()
    ids = orders(exchange, 2 * LOOKUP_MAX + 50, state="done")
    result = run(mode, exchange, uuids=ids)
    assert {order.reason for order in result.failed} == {"filled"} and len(result.failed) == len(ids)
    assert result.lookups_sent == lookups(exchange) == 3
    sizes = [request.target.count("uuids%5B%5D=") for request in exchange.requests if request.method == LOOKUP_METHOD]
    assert sorted(sizes) == [50, LOOKUP_MAX, LOOKUP_MAX]  # side by side, in any order


def test_lookups_are_paced_by_the_same_limiter_as_the_cancels() -> None:
    exchange = sandbox()
    ids = orders(exchange, 3, state="done")
    clock = FakeClock(start=500.5)
    limiter = RateLimiter("default", 1, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep)
    run("sync", exchange, uuids=ids, limiter=limiter)
    # One request a second: the lookup had to wait for the second after the cancel's.
    assert math.floor(clock.now) == 501
    assert lookups(exchange) == 1


class CountingLimiter(RateLimiter):
    """A limiter that counts the permits it gave."""

    def __init__(self, group: str, per_second: int | None) -> None:
        super().__init__(group, per_second)
        self.given = 0

    def try_acquire(self, backlog: int = 1) -> Permit | float:
        got = super().try_acquire(backlog)
        if isinstance(got, Permit):
            self.given += 1
        return got


def test_lookups_are_paced_in_the_rate_limit_group_of_the_lookup_operation(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The spec puts both operations in group default today; give the lookup a group of its own.
    lookup_rate = RateLimit("order-lookup", 5)
    monkeypatch.setattr(
        list_orders_by_ids, "OPERATION", attrs.evolve(list_orders_by_ids.OPERATION, rate_limit=lookup_rate)
    )
    limiters: dict[str, CountingLimiter] = {}

    def limiter_for(
        access_key: str, rate_limit: RateLimit | None, store: str | None = None, *, pocket: str | None = None
    ) -> RateLimiter:
        assert access_key == TEST_ACCESS_KEY and rate_limit is not None and pocket is None
        return limiters.setdefault(rate_limit.group, CountingLimiter(rate_limit.group, rate_limit.per_second))

    monkeypatch.setattr(batch_module, "limiter_for", limiter_for)
    exchange = sandbox()
    ids = orders(exchange, 3, state="done")
    result = run(mode, exchange, uuids=ids, limiter=None)
    assert {order.reason for order in result.failed} == {"filled"}
    assert limiters["default"].given == result.requests_sent == 1
    assert limiters["order-lookup"].given == result.lookups_sent == 1


def test_a_418_on_a_lookup_blocks_the_key_for_every_later_batch(mode: str) -> None:
    exchange = sandbox()
    faulty = FaultyExchange(exchange)
    message = "You have been blocked for 300 seconds."
    faulty.faults.extend(
        [lambda request, process: process(), replace_answer(sandbox_error(418, "too_many_requests_blocked", message))]
    )
    ids = orders(exchange, 3, state="done")
    later = orders(exchange, 3, prefix="later")
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    results = []
    for batch_ids in (ids, later):
        with faulty.client(auth) as client:
            if mode == "sync":
                results.append(cancel_orders(client, uuids=batch_ids))
            else:
                results.append(
                    anyio.run(functools.partial(cancel_orders_async, client, uuids=batch_ids), backend=backend(mode))
                )
    first, second = results
    assert first.blocked is not None and first.blocked.status == 418
    # The key is blocked for the process: the next batch sends nothing and says why.
    assert limiter_for(TEST_ACCESS_KEY, cancel_orders_by_ids.RATE_LIMIT).blocked_until() is not None
    assert second.requests_sent == 0 and [order.id for order in second.not_sent] == later
    assert len(faulty.sent) == 2


def cli(exchange: SandboxExchange, *argv: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, Any, str]:
    monkeypatch.setenv("UPBIT_OPEN_API_ACCESS_KEY", TEST_ACCESS_KEY)
    monkeypatch.setenv("UPBIT_OPEN_API_SECRET_KEY", TEST_SECRET_KEY)
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    status = main([*argv, "--json", "--server-url", "https://api.upbit.com"], transport=exchange.transport())
    return status, json.loads(out.getvalue()), err.getvalue()


def test_command_three_uuids_open_filled_unknown_exit_1_with_reasons(cli_env: pytest.MonkeyPatch) -> None:
    exchange = sandbox()
    opened, filled = exchange.add_order("u-open").uuid, exchange.add_order("u-filled", state="done").uuid
    status, report, err = cli(exchange, "--uuid", opened, filled, "u-unknown", monkeypatch=cli_env)
    assert status == 1 and err == ""
    assert [order["uuid"] for order in report["success"]["orders"]] == [opened]
    assert [(order["uuid"], order["reason"]) for order in report["failed"]["orders"]] == [
        (filled, "filled"),
        ("u-unknown", "not_found"),
    ]
    assert report["unconfirmed"]["count"] == report["not_sent"]["count"] == 0


def test_command_three_identifiers_unknown_answered_with_null_uuid_exit_1_with_reasons(
    cli_env: pytest.MonkeyPatch,
) -> None:
    exchange = sandbox()
    exchange.add_order("u-open", identifier="i-open")
    exchange.add_order("u-filled", identifier="i-filled", state="done")
    status, report, err = cli(exchange, "--identifier", "i-open", "i-filled", "i-unknown", monkeypatch=cli_env)
    assert status == 1 and err == ""
    assert [order["identifier"] for order in report["success"]["orders"]] == ["i-open"]
    assert [(order["identifier"], order["uuid"], order["reason"]) for order in report["failed"]["orders"]] == [
        ("i-filled", "u-filled", "filled"),
        ("i-unknown", None, "not_found"),
    ]


def test_command_twenty_chunks_of_uuids_with_lost_answers_exits_0(cli_env: pytest.MonkeyPatch) -> None:
    exchange = sandbox(drop_answer_every=5)
    ids = orders(exchange, TWENTY_CHUNKS)
    status, report, err = cli(exchange, "--uuid", *ids, monkeypatch=cli_env)
    assert status == 0, err
    assert report["success"]["count"] == TWENTY_CHUNKS and report["unconfirmed"]["count"] == 0
    assert sum(order.get("confirmed_by") == "lookup" for order in report["success"]["orders"]) == LOST


def test_command_no_confirm_skips_the_lookup(cli_env: pytest.MonkeyPatch) -> None:
    exchange = sandbox()
    filled = exchange.add_order("u-filled", state="done").uuid
    status, report, _ = cli(exchange, "--uuid", filled, "--no-confirm", monkeypatch=cli_env)
    assert status == 1
    assert [order["reason"] for order in report["failed"]["orders"]] == ["unknown"]
    assert lookups(exchange) == 0

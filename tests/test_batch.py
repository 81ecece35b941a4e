"""The batch cancel against the sandbox exchange (in-process), with faults in front of it where a test needs them.

Checks, chunking, merge rules, retries, pacing. These tests pin the cancel phase, so ``run`` passes
``confirm=False`` unless a test asks for the confirm phase (which has its own tests in ``test_confirm.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from tests.backends import backend
from tests.clocks import FakeClock
from tests.faults import (
    FaultyExchange,
    lose_answer_after_processing,
    refuse_connection,
    replace_answer,
    sandbox_error,
)
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders, cancel_orders_async
from upbit_cancel.ratelimit import RateLimiter, limiter_for
from upbit_cancel.remaining_req import RemainingReq
from upbit_cancel.results import BatchResult
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.errors import InvalidRequest
from upbit_sandbox import OrderState, SandboxExchange

RULES = {rule.python_name: rule for rule in cancel_orders_by_ids.QUERY_RULES}
MAX_ITEMS = RULES["uuids"].max_items or 1
RATE = cancel_orders_by_ids.RATE_LIMIT
PER_SECOND = RATE.per_second if RATE else 30


def fast_limiter() -> tuple[RateLimiter, FakeClock]:
    """A private limiter on a fake clock: waits for the next second cost no real time."""
    clock = FakeClock()
    return RateLimiter("default", PER_SECOND, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep), clock


def make_exchange(
    per_second: int | None = None, delay: float = 0.0, clock: Callable[[], float] = time.time
) -> FaultyExchange:
    """The sandbox, knowing the test keys (rate limit off unless asked), behind a faulty transport."""
    sandbox = SandboxExchange(
        credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=per_second, clock=clock
    )
    return FaultyExchange(sandbox, delay=delay)


def add(exchange: FaultyExchange, uuid: str, *, state: OrderState = "wait", identifier: str | None = None) -> None:
    exchange.exchange.add_order(uuid, identifier=identifier, state=state)


def add_many(exchange: FaultyExchange, count: int, prefix: str = "order") -> list[str]:
    uuids = [f"{prefix}-{index:05d}" for index in range(count)]
    for uuid in uuids:
        add(exchange, uuid, identifier=f"id-{uuid}")
    return uuids


def client_of(exchange: FaultyExchange, auth: UpbitAuth | None = None) -> Client:
    return exchange.client(auth or UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY))  # type: ignore[no-any-return]


def run(mode: str, exchange: FaultyExchange, **options: Any) -> BatchResult:
    options.setdefault("limiter", fast_limiter()[0])
    options.setdefault("confirm", False)
    if mode == "sync":
        with client_of(exchange) as client:
            return cancel_orders(client, **options)

    async def go() -> BatchResult:
        async with client_of(exchange) as client:
            return await cancel_orders_async(client, **options)

    return anyio.run(go, backend=backend(mode))


def windows(exchange: FaultyExchange) -> dict[int, int]:
    """Requests per whole wall-clock second, as the exchange counts them."""
    counts: dict[int, int] = {}
    for sent in exchange.sent:
        counts[math.floor(sent.at)] = counts.get(math.floor(sent.at), 0) + 1
    return counts


def accounted(result: BatchResult, ids: list[str]) -> None:
    """Every distinct id exactly once across the four groups."""
    reported = (
        [order.uuid for order in result.success]
        + [order.uuid for order in result.failed]
        + [order.id for order in result.unconfirmed]
        + [order.id for order in result.not_sent]
    )
    assert sorted(reported) == sorted(set(ids))


@pytest.fixture(params=["sync", "async", "trio"])
def mode(request: pytest.FixtureRequest) -> str:
    """sync; async on asyncio; async on trio (the one async code runs on both through anyio)."""
    return str(request.param)


# -- input checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({}, "x-exactly-one-of"),
        ({"uuids": ["a"], "identifiers": ["b"]}, "x-exactly-one-of"),
        ({"uuids": []}, f"minItems: {RULES['uuids'].min_items}"),
        ({"uuids": "abc"}, "type: array"),
        ({"uuids": ["ok", "  "]}, "pattern"),
        ({"identifiers": ["ok"] * 50 + ["bad\x07"]}, "pattern"),
        ({"uuids": ["ok", ""]}, "minLength: 1"),
        ({"uuids": ["ok", 7]}, "type: string"),
    ],
)
def test_bad_input_raises_before_anything_is_sent(mode: str, kwargs: dict[str, Any], rule: str) -> None:
    exchange = make_exchange()
    with pytest.raises(InvalidRequest) as caught:
        run(mode, exchange, **kwargs)
    assert caught.value.rule.startswith(rule)
    assert exchange.sent == []


def test_the_item_error_names_the_offending_item() -> None:
    with pytest.raises(InvalidRequest, match=r"item 2 = 'x\\ny'"):
        run("sync", make_exchange(), uuids=["a", "b", "x\ny"])


# -- chunking and merging -----------------------------------------------------------------------


def test_ids_go_in_chunks_of_the_spec_max_items_with_bracketed_keys(mode: str) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, 2 * MAX_ITEMS + 5)
    result = run(mode, exchange, uuids=ids)
    # Chunks go out side by side (sync: on worker threads), in any order.
    assert sorted(len(sent.ids) for sent in exchange.sent) == [5, MAX_ITEMS, MAX_ITEMS]
    assert [order.uuid for order in result.success] == ids
    assert result.failed == [] and result.unconfirmed == []
    assert result.requests_sent == 3 and result.retries == 0 and result.rate_limited == 0
    assert result.all_cancelled


def test_wire_query_uses_the_spec_wire_name() -> None:
    exchange = make_exchange()
    ids = add_many(exchange, 3)
    seen: list[bytes] = []

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.query)
        return exchange.handle(request)

    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    with Client(
        base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": httpx.MockTransport(spy)}
    ) as c:
        cancel_orders(c, uuids=ids, limiter=fast_limiter()[0])
    assert seen == [b"&".join(b"uuids%5B%5D=" + i.encode() for i in ids)]


def test_duplicates_are_sent_once_and_reported_once(mode: str) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, MAX_ITEMS + 1)
    given = ids + ids[:5] + [ids[-1]]
    result = run(mode, exchange, uuids=given)
    flat = [order_id for sent in exchange.sent for order_id in sent.ids]
    assert sorted(flat) == sorted(ids)
    assert len(exchange.sent) == 2
    accounted(result, given)
    assert len(result.success) == len(ids)


def test_failed_missing_and_unasked_orders_are_merged_by_the_rules(mode: str) -> None:
    exchange = make_exchange()
    add(exchange, "open-1")
    add(exchange, "done-1", state="done")
    # ``ghost`` is unknown and (this time) listed nowhere; ``stray`` is listed without being asked for.
    stray = {"uuid": "stray", "market": "KRW-ETH", "identifier": None}

    def with_stray(request: httpx.Request, process: Any) -> httpx.Response:
        response = process()
        body = response.json()
        body["success"]["orders"].append(stray)
        body["success"]["count"] += 1
        body["failed"]["orders"] = [order for order in body["failed"]["orders"] if order["uuid"] != "ghost"]
        return httpx.Response(200, json=body)

    exchange.faults.append(with_stray)
    result = run(mode, exchange, uuids=["open-1", "done-1", "ghost"])
    assert [order.uuid for order in result.success] == ["open-1"]
    assert [order.uuid for order in result.failed] == ["done-1"]
    assert [(order.id, order.error.name) for order in result.unconfirmed] == [("ghost", "missing_from_answer")]
    assert not result.all_cancelled


def test_identifiers_are_matched_by_identifier(mode: str) -> None:
    exchange = make_exchange()
    add(exchange, "u-1", identifier="mine-1")
    add(exchange, "u-2", identifier="mine-2", state="done")
    add(exchange, "u-3", identifier=None)
    result = run(mode, exchange, identifiers=["mine-1", "mine-2", "nobody"])
    assert exchange.sent[0].kind == "identifiers"
    assert [(o.uuid, o.identifier) for o in result.success] == [("u-1", "mine-1")]
    # The unknown identifier comes back with "uuid": null and is still matched by its identifier.
    assert [(o.uuid, o.identifier) for o in result.failed] == [("u-2", "mine-2"), (None, "nobody")]
    assert result.to_dict()["failed"]["count"] == 2 and result.unconfirmed == []


def test_an_order_listed_under_both_groups_stays_cancelled_never_downgraded(mode: str) -> None:
    exchange = make_exchange()
    order = {"uuid": "a", "market": "KRW-BTC"}
    body = {"success": {"count": 1, "orders": [order]}, "failed": {"count": 1, "orders": [order]}}
    exchange.faults.append(replace_answer(httpx.Response(200, json=body)))
    result = run(mode, exchange, uuids=["a"])
    assert [o.uuid for o in result.success] == ["a"]
    assert result.failed == [] and result.unconfirmed == []


def test_unknown_fields_and_null_identifiers_do_not_break_parsing(mode: str) -> None:
    exchange = make_exchange()
    body = {
        "success": {"count": 1, "orders": [{"uuid": "a", "market": "KRW-BTC", "identifier": None, "x": 1}], "y": 2},
        "failed": {"count": 0, "orders": []},
        "extra": {"z": 3},
    }
    exchange.faults.append(replace_answer(httpx.Response(200, json=body)))
    result = run(mode, exchange, uuids=["a"])
    assert [o.to_dict() for o in result.success] == [{"uuid": "a", "market": "KRW-BTC", "identifier": None}]
    assert [o.confirmed_by for o in result.success] == ["answer"]


# -- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lost",
    [
        lose_answer_after_processing(httpx.ReadTimeout),
        lose_answer_after_processing(httpx.RemoteProtocolError),
        lose_answer_after_processing(httpx.ReadError),
        replace_answer(sandbox_error(500, "server_error", "oops"), process_first=True),
        replace_answer(httpx.Response(200, content=b'{"success": {"count": 2, "ord'), process_first=True),
    ],
    ids=["read-timeout", "protocol-error", "reset", "500", "cut-200"],
)
def test_after_a_lost_answer_failed_becomes_unconfirmed_and_success_stays(mode: str, lost: Any) -> None:
    exchange = make_exchange()
    add(exchange, "was-open")  # cancelled by the lost attempt: the retry says failed
    add(exchange, "already-done", state="done")  # failed before the batch: the retry cannot tell
    exchange.faults.append(lost)
    result = run(mode, exchange, uuids=["was-open", "already-done"])
    assert exchange.statuses[1] == 200 and len(exchange.sent) == 2
    assert exchange.sent[0].nonce != exchange.sent[1].nonce
    assert result.failed == []
    assert sorted(o.id for o in result.unconfirmed) == ["already-done", "was-open"]
    assert {o.error.name for o in result.unconfirmed} == {"failed_after_lost_answer"}
    assert result.retries == 1 and result.requests_sent == 2


def test_after_a_lost_answer_an_order_the_retry_cancels_is_success(mode: str) -> None:
    exchange = make_exchange()
    add(exchange, "a")
    exchange.faults.append(replace_answer(sandbox_error(503, "http_503", "unavailable")))  # not processed this time
    result = run(mode, exchange, uuids=["a"])
    assert [o.uuid for o in result.success] == ["a"]
    assert result.retries == 1


def test_a_connect_error_is_a_clean_retry_so_failed_stays_failed(mode: str) -> None:
    exchange = make_exchange()
    add(exchange, "a")
    add(exchange, "b", state="done")
    exchange.faults.extend([refuse_connection, refuse_connection])
    result = run(mode, exchange, uuids=["a", "b"])
    assert [o.uuid for o in result.success] == ["a"]
    assert [o.uuid for o in result.failed] == ["b"]
    assert result.unconfirmed == []
    assert result.retries == 2


def test_retries_are_bounded_per_chunk(mode: str) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, MAX_ITEMS + 1)
    exchange.faults.extend([refuse_connection] * 100)
    result = run(mode, exchange, uuids=ids, max_tries=3)
    assert len(exchange.sent) == 6  # 2 chunks x 3 tries
    # Every try was refused before connecting: nothing reached the exchange.
    assert result.unconfirmed == []
    assert {o.error.name for o in result.not_sent if o.error} == {"transport_error"}
    assert len(result.not_sent) == len(ids)
    accounted(result, ids)


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (401, "jwt_verification"),
        (401, "invalid_query_payload"),
        (403, "out_of_scope"),
        (400, "validation_error"),
        (404, "order_not_found"),
    ],
)
def test_client_errors_are_not_retried_and_carry_a_clear_message(mode: str, status: int, name: str) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, 3)
    exchange.faults.append(replace_answer(sandbox_error(status, name, "upbit says no")))
    result = run(mode, exchange, uuids=ids)
    assert len(exchange.sent) == 1
    # The exchange refused the whole request: nothing was applied, so not "maybe cancelled".
    assert result.unconfirmed == []
    assert {o.reason for o in result.failed} == {"rejected"}
    assert {(o.error.name, o.error.status) for o in result.failed if o.error} == {(name, status)}
    assert result.failed[0].error is not None
    message = result.failed[0].error.message
    assert message.startswith("upbit says no")
    if status in (401, 403):
        assert "(" in message  # the error tree's hint on what to check


def test_a_real_signature_failure_is_reported_not_raised(mode: str) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, 2)
    wrong = UpbitAuth(TEST_ACCESS_KEY, "not-the-secret")
    if mode == "sync":
        with client_of(exchange, wrong) as client:
            result = cancel_orders(client, uuids=ids, limiter=fast_limiter()[0], confirm=False)
    else:

        async def go() -> BatchResult:
            async with client_of(exchange, wrong) as client:
                return await cancel_orders_async(client, uuids=ids, limiter=fast_limiter()[0], confirm=False)

        result = anyio.run(go, backend=backend(mode))
    assert [o.reason for o in result.failed] == ["rejected", "rejected"]
    assert {o.error.name for o in result.failed if o.error} == {"jwt_verification"}
    assert result.failed[0].error is not None and "secret" in result.failed[0].error.message


def test_429_is_retried_after_the_next_boundary_with_a_new_nonce(mode: str) -> None:
    exchange = make_exchange()
    add(exchange, "a")
    exchange.faults.append(replace_answer(sandbox_error(429, "too_many_requests", "Too many requests.", sec=0)))
    limiter, clock = fast_limiter()
    start_window = math.floor(clock.now)
    result = run(mode, exchange, uuids=["a"], limiter=limiter)
    assert exchange.statuses == [429, 200]
    assert exchange.sent[0].nonce != exchange.sent[1].nonce
    assert math.floor(clock.now) == start_window + 1  # waited for the boundary, and no longer
    assert [o.uuid for o in result.success] == ["a"]
    assert result.rate_limited == 1 and result.retries == 1


def test_endless_429s_end_unconfirmed_after_max_tries(mode: str) -> None:
    exchange = make_exchange()
    add(exchange, "a")
    exchange.faults.extend([replace_answer(sandbox_error(429, "too_many_requests", "Too many requests.", sec=0))] * 10)
    limiter, clock = fast_limiter()
    start = clock.now
    result = run(mode, exchange, uuids=["a"], limiter=limiter, max_tries=4)
    assert exchange.statuses == [429] * 4
    assert math.floor(clock.now) - math.floor(start) == 3  # one boundary wait per retry
    assert [(o.error.name, o.error.status) for o in result.unconfirmed] == [("too_many_requests", 429)]
    assert result.unconfirmed[0].error.message.endswith("(gave up after 4 tries)")
    assert result.rate_limited == 4


def test_418_stops_sending_and_marks_the_rest_not_sent(mode: str) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, 5 * MAX_ITEMS)
    block = replace_answer(sandbox_error(418, "too_many_requests_blocked", "Blocked for 60 seconds."))
    exchange.faults.append(lambda request, process: process())
    exchange.faults.append(block)
    result = run(mode, exchange, uuids=ids, max_in_flight=1)
    assert exchange.statuses == [200, 418]
    assert result.blocked is not None and result.blocked.status == 418
    assert "60 seconds" in result.blocked.message
    assert len(result.success) == MAX_ITEMS
    assert [o.id for o in result.unconfirmed] == ids[MAX_ITEMS : 2 * MAX_ITEMS]
    assert {o.error for o in result.unconfirmed} == {result.blocked}
    assert [o.id for o in result.not_sent] == ids[2 * MAX_ITEMS :]
    accounted(result, ids)


async def test_418_in_async_mode_stops_tasks_that_were_waiting_for_a_permit() -> None:
    """Two permits a second, ten tasks: eight wait for the boundary, learn of the 418 there and send nothing."""
    exchange = make_exchange(delay=0.05)
    ids = add_many(exchange, 20 * MAX_ITEMS)
    exchange.faults.append(replace_answer(sandbox_error(418, "blocked", "Blocked for 30 seconds.")))
    clock = FakeClock()

    async def slow_sleep(seconds: float) -> None:
        # The tasks wait for the boundary until the 418 (50 ms away) has been handled, however loaded the machine.
        for _ in range(500):
            if limiter.blocked_until() is not None:
                break
            await asyncio.sleep(0.01)
        await clock.async_sleep(seconds)

    limiter = RateLimiter("default", 2, clock=clock, sleep=clock.sleep, async_sleep=slow_sleep)
    async with client_of(exchange) as client:
        result = await cancel_orders_async(client, uuids=ids, limiter=limiter, max_in_flight=10, confirm=False)
    assert len(exchange.sent) == 2
    assert sorted(exchange.statuses) == [200, 418]
    assert limiter.in_flight == 0  # the permits of the tasks that stopped were given back
    assert result.blocked is not None and len(result.success) == MAX_ITEMS
    assert len(result.unconfirmed) == MAX_ITEMS and len(result.not_sent) == 18 * MAX_ITEMS
    accounted(result, ids)


def test_timeout_total_bounds_the_batch(mode: str) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, 3 * MAX_ITEMS)
    # Every request takes a while and is refused; the batch must stop on its own clock.
    slow_refusals = []
    for _ in range(1000):

        def slow(request: httpx.Request, process: Any) -> httpx.Response:
            time.sleep(0.02)
            raise httpx.ConnectError("refused", request=request)

        slow_refusals.append(slow)
    exchange.faults.extend(slow_refusals)
    started = time.monotonic()
    result = run(mode, exchange, uuids=ids, timeout_total=0.15, max_tries=1000, max_in_flight=1)
    # Without the budget the 1,000 slow refusals would take 20 s; the rest of the bound is for a loaded machine.
    assert time.monotonic() - started < 2.0
    # Every try was refused before connecting, and the chunks whose turn never came were never sent: not_sent.
    assert len(result.not_sent) == len(ids)
    assert all(o.why.startswith("timeout_total") for o in result.not_sent)


def test_once_no_permit_comes_before_the_deadline_no_further_chunk_is_started(mode: str) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, 100 * MAX_ITEMS)
    calls: list[tuple[int, int]] = []
    # Two requests a second on the real clock, and 1.5 s: a few chunks are sent, then a chunk's permit would
    # come too late. Every chunk after it would be refused the same way; walking each through its flow to be
    # refused costs a progress call (and, at scale, seconds). They are left to the report instead.
    limiter = RateLimiter("default", 2)
    result = run(mode, exchange, uuids=ids, timeout_total=1.5, limiter=limiter, on_progress=lambda *a: calls.append(a))
    assert 0 < result.requests_sent <= 6
    assert len(calls) < 20, f"{len(calls)} progress calls for 100 chunks"
    assert calls[-1] == (len(ids), len(ids))
    assert len(result.success) + len(result.not_sent) == len(ids)
    assert {o.error.name for o in result.not_sent if o.error is not None} == {"timeout_total"}


async def test_timeout_total_also_bounds_a_request_in_flight_in_async_mode() -> None:
    exchange = make_exchange(delay=5.0)
    ids = add_many(exchange, MAX_ITEMS + 1)
    started = time.monotonic()
    async with client_of(exchange) as client:
        result = await cancel_orders_async(
            client, uuids=ids, timeout_total=0.2, limiter=fast_limiter()[0], confirm=False
        )
    assert time.monotonic() - started < 2.0  # the exchange would take 5 s: the budget, not the server, decides
    assert len(exchange.sent) == 2
    assert {o.error.name for o in result.unconfirmed} == {"timeout_total"}
    assert "ReadTimeout" in result.unconfirmed[0].error.message
    accounted(result, ids)


def test_an_unexpected_client_fault_is_reported_not_raised(mode: str) -> None:
    exchange = make_exchange()
    add(exchange, "a")

    def broken(request: httpx.Request, process: Any) -> httpx.Response:
        raise RuntimeError("a bug in a custom transport")

    exchange.faults.append(broken)
    result = run(mode, exchange, uuids=["a"])
    assert [(o.error.name, o.error.message) for o in result.unconfirmed] == [
        ("client_error", "RuntimeError: a bug in a custom transport")
    ]


# -- progress, remaining, logs -------------------------------------------------------------------


def test_progress_is_reported_per_chunk_up_to_the_total(mode: str) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, 2 * MAX_ITEMS + 3)
    calls: list[tuple[int, int]] = []
    run(mode, exchange, uuids=ids + ids[:2], on_progress=lambda done, total: calls.append((done, total)))
    total = len(ids)
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert len(calls) == 4


def test_a_raising_progress_callback_does_not_break_the_batch(mode: str) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, 3)

    def explode(done: int, total: int) -> None:
        raise RuntimeError("terminal went away")

    result = run(mode, exchange, uuids=ids, on_progress=explode)
    assert len(result.success) == 3


def test_remaining_req_of_the_last_answer_is_on_the_result_and_the_limiter(mode: str) -> None:
    # The exchange's clock stands still: both chunks land in one window, however slow the machine.
    exchange = make_exchange(per_second=PER_SECOND, clock=lambda: 1_000_000.5)
    ids = add_many(exchange, MAX_ITEMS + 1)
    limiter, _ = fast_limiter()
    # One request at a time: with two in flight, which answer is the last one is a race.
    result = run(mode, exchange, uuids=ids, limiter=limiter, max_in_flight=1)
    assert result.remaining_req == RemainingReq("default", PER_SECOND - 2)
    assert limiter.last_remaining == result.remaining_req


def test_the_default_limiter_is_the_shared_one_of_the_access_key() -> None:
    exchange = make_exchange(per_second=PER_SECOND)
    ids = add_many(exchange, 2)
    with client_of(exchange) as client:
        cancel_orders(client, uuids=ids)
    shared = limiter_for(TEST_ACCESS_KEY, RATE)
    assert shared.last_remaining == RemainingReq("default", PER_SECOND - 1)


def test_debug_logs_name_chunks_but_never_the_token_or_secret(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    exchange = make_exchange()
    ids = add_many(exchange, MAX_ITEMS + 2)
    exchange.faults.append(replace_answer(sandbox_error(401, "jwt_verification", "bad token")))
    with caplog.at_level(logging.DEBUG):
        run(mode, exchange, uuids=ids)
    batch_lines = [r.getMessage() for r in caplog.records if r.name == "upbit_cancel.batch"]
    assert any("HTTP 200" in line and "remaining=" in line for line in batch_lines)
    assert any("HTTP 401" in line for line in batch_lines)
    everything = caplog.text
    assert TEST_SECRET_KEY not in everything
    assert "Bearer" not in everything and "eyJ" not in everything


# -- sync and async agree; async is concurrent -----------------------------------------------------


def test_sync_and_async_give_the_same_report() -> None:
    reports = []
    for mode in ("sync", "async"):
        exchange = make_exchange()
        ids = [f"order-{index:05d}" for index in range(3 * MAX_ITEMS + 7)]
        unknown = set(ids[1::9])
        for index, uuid in enumerate(ids):
            if uuid not in unknown:
                add(exchange, uuid, state="done" if index % 4 == 0 else "wait")
        result = run(mode, exchange, uuids=list(reversed(ids)) + ids[:3], confirm=True)
        reports.append(result.to_dict())
    assert reports[0] == reports[1]
    assert reports[0]["success"]["count"]
    assert {order["reason"] for order in reports[0]["failed"]["orders"]} == {"filled", "not_found"}


async def test_async_batch_keeps_the_second_budget_in_flight() -> None:
    """1,000 ids, 20 ms round trips, 30/s enforced: one window's worth now, the rest after the boundary."""
    exchange = make_exchange(per_second=PER_SECOND, delay=0.02)
    count = 1000
    ids = add_many(exchange, count)
    expected_requests = math.ceil(count / MAX_ITEMS)
    auth = UpbitAuth("concurrency-test-key", TEST_SECRET_KEY)
    exchange.exchange.add_credentials("concurrency-test-key", TEST_SECRET_KEY)
    async with client_of(exchange, auth) as client:
        result = await cancel_orders_async(client, uuids=ids)
    assert len(exchange.sent) == expected_requests
    assert exchange.statuses.count(429) == 0
    assert result.rate_limited == 0 and result.retries == 0
    assert len(result.success) == count
    assert max(windows(exchange).values()) <= PER_SECOND
    # How fast is for ``make bench`` (docs/benchmarks.md), not for a unit test on a shared machine.


async def test_two_concurrent_batches_of_one_key_share_the_budget() -> None:
    exchange = make_exchange(per_second=PER_SECOND, delay=0.01)
    first = add_many(exchange, 30 * MAX_ITEMS, prefix="first")
    second = add_many(exchange, 30 * MAX_ITEMS, prefix="second")
    auth = UpbitAuth("shared-budget-key", TEST_SECRET_KEY)
    exchange.exchange.add_credentials("shared-budget-key", TEST_SECRET_KEY)
    async with client_of(exchange, auth) as one, client_of(exchange, auth) as two:
        results = await asyncio.gather(cancel_orders_async(one, uuids=first), cancel_orders_async(two, uuids=second))
    assert exchange.statuses.count(429) == 0
    assert max(windows(exchange).values()) <= PER_SECOND
    assert sum(len(r.success) for r in results) == 60 * MAX_ITEMS


def test_the_sync_batch_sends_on_worker_threads_in_the_callers_context() -> None:
    """Chunks go out side by side on worker threads, each in a copy of the caller's context."""
    exchange = make_exchange()
    ids = add_many(exchange, 10 * MAX_ITEMS)
    trace: contextvars.ContextVar[str] = contextvars.ContextVar("trace", default="none")
    seen: list[tuple[str, str]] = []

    def hook(request: httpx.Request) -> None:
        seen.append((threading.current_thread().name, trace.get()))

    client = Client(
        base_url="https://api.upbit.com",
        httpx_args={
            "auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY),
            "transport": exchange.transport(),
            "event_hooks": {"request": [hook]},
        },
    )
    trace.set("the caller's")
    with client:
        result = cancel_orders(client, uuids=ids, limiter=fast_limiter()[0], confirm=False)
    assert len(result.success) == len(ids)
    assert len(seen) == 10
    assert {value for _, value in seen} == {"the caller's"}
    assert all(name.startswith("upbit-cancel-") for name, _ in seen)
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("upbit-cancel-")]

"""The batch cancel (sync and async) against a loopback server misbehaving on purpose.

Guarantee under test (docs/guarantees.md): once sending has begun the batch never raises; every id
given lands exactly once in success, failed, unconfirmed or not_sent; an id is reported ``failed`` only on an
answer that cannot be the echo of a lost earlier attempt; retries are bounded (``max_tries`` per chunk,
``timeout_total`` overall), 429s wait for the next second, 401/403/400 are never retried and a 418
stops the batch at once.

These tests pin the cancel phase's rules, so they run with ``confirm=False``; the confirm phase (order
lookups settling lost answers) has its own tests in ``test_confirm.py``.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import new_exchange
from tests.faults import (
    Action,
    Delegate,
    LoseAnswer,
    Reply,
    ResetBeforeAnswer,
    ResetMidResponse,
    Stall,
    always,
    assert_every_id_once,
    error_reply,
    first,
    html_reply,
    once_for,
    refused_url,
)
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import UUIDS_PER_CANCEL, chunks
from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders, cancel_orders_async
from upbit_cancel.ratelimit import RateLimiter
from upbit_cancel.results import BatchResult
from upbit_client import Client

# Where every request stalls, the batch waits out this read timeout again and again: a scheduler
# hiccup can only lengthen the silence, so it may be short.
READ_TIMEOUT = 0.3
# Everywhere an answer comes (the 1,000-order tests, a good answer after a stall, error replies) the
# tests are about what the batch does with it, not about timing: a patient read timeout keeps a
# scheduler hiccup on a loaded 2-core machine from losing an answer and adding a retry.
PATIENT_READ_TIMEOUT = 2.0
# A loopback connect only times out when the machine is starved: that is not the fault under test.
CONNECT_TIMEOUT = 5.0


def run_batch(
    mode: str,
    url: str,
    ids: list[str],
    *,
    per_second: int | None = None,
    read_timeout: float = PATIENT_READ_TIMEOUT,
    **options: Any,
) -> BatchResult:
    """One batch cancel by uuids through a fresh client and a private limiter (tests do not share budgets)."""
    client = Client(
        base_url=url,
        timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT),
        httpx_args={"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)},
    )
    limiter = RateLimiter("default", per_second)
    options.setdefault("timeout_total", 10.0)
    options.setdefault("confirm", False)
    if mode == "sync":
        with client:
            return cancel_orders(client, uuids=ids, limiter=limiter, **options)

    async def go() -> BatchResult:
        async with client:
            return await cancel_orders_async(client, uuids=ids, limiter=limiter, **options)

    return asyncio.run(go())


N = UUIDS_PER_CANCEL  # ids per chunk (maxItems of uuids[])


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def unconfirmed_names(result: BatchResult) -> set[str]:
    return {order.error.name for order in result.unconfirmed}


# --- no answer at all ----------------------------------------------------------------------------


def test_connection_refused_leaves_every_id_not_sent_after_bounded_tries(mode: str) -> None:
    ids = [str(uuid.uuid4()) for _ in range(45)]
    started = time.monotonic()
    result = run_batch(mode, refused_url(), ids, max_tries=2)
    assert time.monotonic() - started < 3.0
    assert_every_id_once(result, ids)
    # Nothing reached the exchange: certainly not cancelled, not "maybe".
    assert len(result.not_sent) == 45
    assert {order.error.name for order in result.not_sent if order.error} == {"transport_error"}
    assert "ConnectError" in result.not_sent[0].why
    assert result.requests_sent == 0  # a refused connection sends nothing


@pytest.mark.parametrize("action", [ResetBeforeAnswer(), ResetMidResponse()], ids=["reset", "reset-mid-response"])
def test_reset_on_every_request_is_retried_then_unconfirmed(mode: str, serve: Any, action: Action) -> None:
    exchange, ids = new_exchange(45)
    server = serve(always(action), exchange)
    result = run_batch(mode, server.url, ids, max_tries=2)
    assert_every_id_once(result, ids)
    assert len(result.unconfirmed) == 45
    assert unconfirmed_names(result) == {"transport_error"}
    assert server.count == chunks(45) * 2 == result.requests_sent


def test_a_stall_past_the_timeout_is_retried_then_unconfirmed(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(5)
    server = serve(always(Stall(5.0)), exchange)
    started = time.monotonic()
    result = run_batch(mode, server.url, ids, max_tries=2, read_timeout=READ_TIMEOUT)
    assert time.monotonic() - started < 2 * READ_TIMEOUT + 1.5
    assert_every_id_once(result, ids)
    assert unconfirmed_names(result) == {"transport_error"}
    assert "ReadTimeout" in result.unconfirmed[0].error.message
    assert server.count == 2


def test_a_stall_then_a_good_answer_cancels_everything(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(5)
    server = serve(first(1, Stall(5.0)), exchange)
    result = run_batch(mode, server.url, ids, max_tries=3)
    assert_every_id_once(result, ids)
    assert sorted(order.uuid for order in result.success) == sorted(ids)
    assert server.count == 2
    assert result.retries == 1


def test_total_timeout_bounds_a_batch_of_stalls(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(60)
    server = serve(always(Stall(5.0)), exchange)
    started = time.monotonic()
    result = run_batch(
        mode, server.url, ids, max_tries=50, timeout_total=0.8, read_timeout=READ_TIMEOUT, max_in_flight=2
    )
    assert time.monotonic() - started < 0.8 + READ_TIMEOUT + 1.0
    assert_every_id_once(result, ids)
    assert not result.success and not result.failed
    # Two requests in flight at most: two requests per read timeout within the budget, at most.
    assert server.count <= 2 * (math.ceil(0.8 / READ_TIMEOUT) + 1)


def test_an_answer_lost_after_processing_never_turns_into_failed(mode: str, serve: Any) -> None:
    """The exchange cancelled the orders but the answer was lost; the retry hears 'failed' (already cancelled)."""
    exchange, ids = new_exchange(5)
    server = serve(first(1, LoseAnswer()), exchange)
    result = run_batch(mode, server.url, ids, max_tries=3)
    assert_every_id_once(result, ids)
    assert {order.state for order in exchange.orders()} == {"cancel"}
    assert not result.failed, "a cancelled order was reported failed"
    assert unconfirmed_names(result) == {"failed_after_lost_answer"}
    assert server.count == 2


# --- answers that are not the documented ones ----------------------------------------------------


@pytest.mark.parametrize("status", [502, 503])
def test_proxy_html_errors_are_retried_boundedly_then_unconfirmed(mode: str, serve: Any, status: int) -> None:
    exchange, ids = new_exchange(25)
    server = serve(always(html_reply(status)), exchange)
    result = run_batch(mode, server.url, ids, max_tries=3)
    assert_every_id_once(result, ids)
    assert len(result.unconfirmed) == 25
    assert {order.error.status for order in result.unconfirmed} == {status}
    assert server.count == chunks(25) * 3


def test_a_502_then_a_good_answer_cancels_everything(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(N)  # one full chunk
    server = serve(first(1, html_reply(502)), exchange)
    result = run_batch(mode, server.url, ids, max_tries=3)
    assert_every_id_once(result, ids)
    assert len(result.success) == N
    assert server.count == 2


@pytest.mark.parametrize(
    "body", ["not json at all", '{"success": {"count": 1, "orders": [{"uuid": "'], ids=["invalid", "truncated"]
)
def test_unreadable_200_is_retried_then_unconfirmed(mode: str, serve: Any, body: str) -> None:
    exchange, ids = new_exchange(5)
    server = serve(always(Reply(200, body)), exchange)
    result = run_batch(mode, server.url, ids, max_tries=2)
    assert_every_id_once(result, ids)
    assert unconfirmed_names(result) == {"invalid_response"}
    assert server.count == 2


NO_FAILED = {"count": 0, "orders": []}
# (body, the error the ids end unconfirmed with): a 200 that names none of the ids is not an error,
# but it confirms nothing; only a top level that is not an object is an invalid response.
UNMATCHABLE = {
    "missing-success": ({"failed": {"count": 0, "orders": []}}, "missing_from_answer"),
    "count-two": ({"success": {"count": "two", "orders": []}, "failed": NO_FAILED}, "missing_from_answer"),
    "orders-not-list": ({"success": {"count": 1, "orders": {"uuid": "x"}}, "failed": NO_FAILED}, "missing_from_answer"),
    "uuid-int": ({"success": {"count": 1, "orders": [{"uuid": 1}]}, "failed": NO_FAILED}, "missing_from_answer"),
    "body-list": ([], "invalid_response"),
}  # fmt: skip


@pytest.mark.parametrize(("body", "name"), list(UNMATCHABLE.values()), ids=list(UNMATCHABLE))
def test_a_200_naming_none_of_the_ids_leaves_them_unconfirmed_not_success(
    mode: str, serve: Any, body: Any, name: str
) -> None:
    exchange, ids = new_exchange(5)
    server = serve(always(Reply(200, body)), exchange)
    result = run_batch(mode, server.url, ids, max_tries=3)
    assert_every_id_once(result, ids)
    assert not result.success and not result.failed
    assert unconfirmed_names(result) == {name}
    assert server.count == 1


# --- error answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name", "hint"),
    [
        (401, "jwt_verification", "access and secret keys"),
        (401, "invalid_query_payload", "query hash"),
        (401, "out_of_scope", "Make Orders"),
        (403, "out_of_scope", "Make Orders"),
    ],
)
def test_auth_errors_are_not_retried_and_say_what_to_check(
    mode: str, serve: Any, status: int, name: str, hint: str
) -> None:
    exchange, ids = new_exchange(45)
    server = serve(always(error_reply(status, name, "rejected")), exchange)
    result = run_batch(mode, server.url, ids, max_tries=5)
    assert_every_id_once(result, ids)
    # The exchange refused the request: nothing applied, so failed (rejected), not unconfirmed.
    assert len(result.failed) == 45
    assert {order.reason for order in result.failed} == {"rejected"}
    assert {(o.error.status, o.error.name) for o in result.failed if o.error} == {(status, name)}
    assert all(order.error is not None and hint in order.error.message for order in result.failed)
    assert result.retries == 0
    assert server.count == chunks(45)  # one per chunk, never a retry


def test_a_429_storm_is_bounded_paced_and_ends_unconfirmed(serve: Any) -> None:
    exchange, ids = new_exchange(5)
    server = serve(always(error_reply(429, "too_many_requests", "Too many requests.")), exchange)
    started = time.monotonic()
    result = run_batch("sync", server.url, ids, per_second=30, max_tries=3)
    elapsed = time.monotonic() - started
    assert_every_id_once(result, ids)
    assert {o.error.status for o in result.unconfirmed} == {429}
    assert server.count == 3 == result.rate_limited
    # Each retry after a 429 waits for the next whole-second window: never two in one second.
    windows = [math.floor(request.at) for request in server.requests]
    assert len(set(windows)) == len(windows)
    assert elapsed < 3.5


def test_a_429_storm_across_many_chunks_never_hot_loops(serve: Any) -> None:
    exchange, ids = new_exchange(10 * N)  # 10 chunks
    server = serve(always(error_reply(429, "too_many_requests", "Too many requests.")), exchange)
    result = run_batch("async", server.url, ids, per_second=30, max_tries=20, timeout_total=1.2)
    assert_every_id_once(result, ids)
    assert not result.success
    # 10 chunks in flight at most; after the first round of 429s the budget of the second is spent,
    # so at most one more round can go out per whole second until the 1.2 s budget ends.
    assert server.count <= 10 * 3
    # Every 429 that came back is counted; only the round still in flight when the budget ended is not.
    assert server.count - 10 <= result.rate_limited <= server.count


def test_a_429_burst_then_good_answers_cancels_everything(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(40)
    server = serve(first(1, error_reply(429, "too_many_requests", "Too many requests.")), exchange)
    result = run_batch(mode, server.url, ids, per_second=30, max_tries=3)
    assert_every_id_once(result, ids)
    assert len(result.success) == 40
    assert result.rate_limited == 1


def test_418_stops_the_batch_at_once_and_surfaces_the_block(serve: Any) -> None:
    exchange, ids = new_exchange(3 * N)
    message = "You have been blocked for 300 seconds."
    server = serve(always(error_reply(418, "too_many_requests_blocked", message)), exchange)
    result = run_batch("sync", server.url, ids, max_tries=5, max_in_flight=1)
    assert_every_id_once(result, ids)
    assert server.count == 1
    assert result.blocked is not None and message in result.blocked.message
    # The chunk the 418 answered is unconfirmed with it; the two chunks after it were never sent.
    assert [o.id for o in result.unconfirmed] == ids[:N]
    assert {o.error.status for o in result.unconfirmed} == {418}
    assert [o.id for o in result.not_sent] == ids[N:]
    assert all("418" in o.why or message in o.why for o in result.not_sent)


def test_418_in_async_mode_sends_nothing_after_the_block(serve: Any) -> None:
    exchange, ids = new_exchange(20 * N)  # 20 chunks, more than can be in flight in the first round
    server = serve(always(error_reply(418, "blocked", "Blocked for 60 seconds.")), exchange)
    result = run_batch("async", server.url, ids, max_tries=5, max_in_flight=4)
    assert_every_id_once(result, ids)
    assert result.blocked is not None
    assert server.count <= 4
    assert len(result.unconfirmed) == N * server.count
    assert len(result.not_sent) == 20 * N - N * server.count


# --- one fault in the middle of a 1,000-order batch ---------------------------------------------


@pytest.mark.parametrize("action", [ResetBeforeAnswer(), ResetMidResponse(), Stall(5.0)], ids=["reset", "mid", "stall"])
def test_a_fault_on_chunk_25_of_1000_is_retried_and_everything_is_accounted(
    mode: str, serve: Any, action: Action
) -> None:
    exchange, ids = new_exchange(1000)
    chunk_25 = ids[24 * N : 25 * N]
    server = serve(once_for(chunk_25, action, then=Delegate()), exchange)
    result = run_batch(mode, server.url, ids, max_tries=3)
    assert_every_id_once(result, ids)
    assert len(result.success) == 1000
    assert server.count == chunks(1000) + 1
    assert result.retries == 1
    assert sum(request.ids == chunk_25 for request in server.requests) == 2


def test_a_lost_answer_on_chunk_25_of_1000_leaves_exactly_its_ids_unconfirmed(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(1000)
    chunk_25 = ids[24 * N : 25 * N]
    server = serve(once_for(chunk_25, LoseAnswer(), then=Delegate()), exchange)
    result = run_batch(mode, server.url, ids, max_tries=3)
    assert_every_id_once(result, ids)
    assert len(result.success) == 1000 - N
    assert not result.failed
    assert sorted(order.id for order in result.unconfirmed) == sorted(chunk_25)
    assert unconfirmed_names(result) == {"failed_after_lost_answer"}
    assert len(exchange.orders("cancel")) == 1000

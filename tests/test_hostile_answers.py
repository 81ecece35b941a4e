"""Hostile answers cannot crash, hang or bloat a batch: each answer of issue 15 that did, pinned.

Guarantee under test (docs/guarantees.md, "Whatever the exchange sends, a report"): an answer that
drips, never ends, is huge, nests 100,000 deep, names an absurd block, or carries a header nobody
can read ends in the report, within ``timeout_total`` plus about a second, sync and async alike.
The same faults, and more, run against sync, async and the command in ``test_hostile_exchange.py``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpcore
import httpx
import pytest

from tests.conftest import new_exchange
from tests.faults import (
    DelegateGzipped,
    DelegateWith,
    Drip,
    Flood,
    Reply,
    always,
    assert_every_id_once,
    deep_json,
    error_reply,
    first,
    gzip_bomb,
)
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import UUIDS_PER_CANCEL, chunks
from upbit_cancel import BatchResult, cancel_orders, cancel_orders_async, connect
from upbit_cancel.errors import RateLimited, TemporarilyBlocked, error_from_response
from upbit_cancel.ratelimit import MAX_BLOCK_SECONDS, KeyBlocked, RateLimiter, block_seconds
from upbit_cancel.reading import MAX_ANSWER_BYTES, bounded, install, load_json
from upbit_cancel.remaining_req import parse_date_header, parse_remaining_req
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.errors import InvalidResponse

MODES = ["sync", "async"]
# The SDK promises timeout_total plus one second; a loaded 2-core machine may add as much again.
SLACK = 1.0 + 2.0


def batch(
    mode: str, url: str, ids: list[str], *, kind: str = "uuids", limiter: RateLimiter | None = None, **options: Any
) -> tuple[BatchResult, float]:
    # A connect() client: its one transport holds the bounds at every socket wait (a bare Client's body only).
    client = connect(url, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, timeout=5.0)
    options.setdefault("timeout_total", 3.0)
    options.setdefault("confirm", False)
    id_args = {kind: ids}
    limiter = limiter or RateLimiter("default", None)
    started = time.monotonic()
    if mode == "sync":
        with client:
            result = cancel_orders(client, **id_args, limiter=limiter, **options)
    else:

        async def go() -> BatchResult:
            async with client:
                return await cancel_orders_async(client, **id_args, limiter=limiter, **options)

        result = asyncio.run(go())
    return result, time.monotonic() - started


# --- row 1: an answer dripped a byte at a time ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_an_answer_dripped_a_byte_a_second_ends_within_timeout_total(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(3)
    server = serve(always(Drip(interval=1.0)), exchange)
    result, elapsed = batch(mode, server.url, ids, timeout_total=3.0)
    assert elapsed <= 3.0 + SLACK, f"took {elapsed:.1f}s"
    assert_every_id_once(result, ids)
    assert [order.id for order in result.unconfirmed] == ids  # sent, and maybe applied


# --- row 5: answers bounded in bytes -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("flood", [Flood(size=100 * 1024 * 1024), Flood()], ids=["100MB-body", "endless-chunked"])
def test_an_answer_past_the_byte_cap_is_a_lost_answer(mode: str, flood: Flood, serve: Any) -> None:
    exchange, ids = new_exchange(3)
    server = serve(always(flood), exchange)
    result, elapsed = batch(mode, server.url, ids, max_tries=2, timeout_total=10.0)
    assert elapsed <= 10.0 + SLACK
    assert_every_id_once(result, ids)
    assert [order.id for order in result.unconfirmed] == ids
    assert all(f"larger than {MAX_ANSWER_BYTES} bytes" in order.error.message for order in result.unconfirmed)
    assert server.count == 2  # a lost answer is asked again, boundedly


@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_bomb_is_cut_at_the_cap_once_decoded(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(3)
    server = serve(always(gzip_bomb()), exchange)
    result, _ = batch(mode, server.url, ids, max_tries=2)
    assert [order.id for order in result.unconfirmed] == ids
    assert all("larger than" in order.error.message for order in result.unconfirmed)


@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_compressed_answer_is_read_as_usual(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(45)
    server = serve(always(DelegateGzipped()), exchange)
    result, _ = batch(mode, server.url, ids)
    assert [order.uuid for order in result.success] == ids
    assert all(request.headers["accept-encoding"] == "gzip, deflate" for request in server.requests)


@pytest.mark.parametrize("encoding", ["br", "gzip, gzip", "compress"])
def test_an_encoding_not_asked_for_is_a_lost_answer(encoding: str, serve: Any) -> None:
    exchange, ids = new_exchange(3)
    server = serve(always(Reply(200, b"xx", headers={"Content-Encoding": encoding})), exchange)
    result, _ = batch("sync", server.url, ids, max_tries=1)
    assert [order.id for order in result.unconfirmed] == ids
    assert all("not asked for" in order.error.message for order in result.unconfirmed)


def test_the_cap_counts_every_byte_read_in_the_bounded_block_only(serve: Any) -> None:
    server = serve(always(Flood(size=3 * 1024 * 1024)))
    with connect(server.url, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, timeout=5.0) as client:
        http = client.get_httpx_client()
        assert install(http)
        with bounded(5.0), pytest.raises(httpx.ReadError, match="larger than"):
            http.get(server.url)
        # Outside a batch the transport's own bounds hold: the same cap.
        with pytest.raises(httpx.ReadError, match="larger than"):
            http.get(server.url)


def test_a_client_with_a_transport_of_its_own_gets_hooks_and_is_not_reported_as_bounded() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    assert not install(http)
    assert not install(http)  # twice changes nothing
    assert len(http.event_hooks["response"]) == 1 and len(http.event_hooks["request"]) == 1
    assert http.get("https://api.upbit.com/").status_code == 200


# --- row 2: JSON nested 100,000 deep ------------------------------------------------------------------


def test_json_too_deep_to_read_is_a_value_error_not_a_recursion_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        load_json(deep_json())


def test_the_generated_call_calls_a_deep_200_an_invalid_response(serve: Any) -> None:
    server = serve(always(Reply(200, deep_json())))
    with Client(base_url=server.url) as client, pytest.raises(InvalidResponse, match="RecursionError"):
        cancel_orders_by_ids.sync_detailed(client=client, uuids=[str(uuid.uuid4())])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [200, 502, 500])
def test_a_deep_body_on_any_status_is_reported_with_the_ids_of_its_request(mode: str, status: int, serve: Any) -> None:
    exchange, ids = new_exchange(3)
    server = serve(always(Reply(status, deep_json())), exchange)
    result, _ = batch(mode, server.url, ids, max_tries=2)
    assert_every_id_once(result, ids)
    assert [order.id for order in result.unconfirmed] == ids
    assert {order.error.status for order in result.unconfirmed} == {status}


@pytest.mark.parametrize("mode", MODES)
def test_a_418_is_a_block_whatever_its_body(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(2 * UUIDS_PER_CANCEL + 5)
    server = serve(always(Reply(418, deep_json(inside_error=True))), exchange)
    result, _ = batch(mode, server.url, ids)
    assert_every_id_once(result, ids)
    assert result.blocked is not None and result.blocked.status == 418
    assert server.count <= chunks(len(ids))  # no chunk is sent again once the block is known


# --- row 3: an absurd block ------------------------------------------------------------------------------


def test_a_block_message_naming_an_absurd_time_is_read_as_the_longest_block() -> None:
    assert block_seconds("Blocked for 99999999999999999 hours.") == MAX_BLOCK_SECONDS
    assert block_seconds("Blocked for " + "9" * 5000 + " seconds.") == MAX_BLOCK_SECONDS
    assert block_seconds("Blocked for 60 seconds.") == 60.0


def test_a_block_until_past_any_calendar_still_reads_as_a_message() -> None:
    assert "blocked" in str(KeyBlocked("default", 1e300, "a peer wrote it"))


@pytest.mark.parametrize("mode", MODES)
def test_an_absurd_418_blocks_for_an_hour_and_later_batches_work_after_it(mode: str, serve: Any) -> None:
    now = [1_000_000.0]
    limiter = RateLimiter("default", None, clock=lambda: now[0])
    exchange, ids = new_exchange(3)
    server = serve(first(1, error_reply(418, "blocked", "Blocked for 99999999999999999 hours.")), exchange)
    result, _ = batch(mode, server.url, ids, limiter=limiter)
    assert result.blocked is not None
    assert_every_id_once(result, ids)
    # Within the block: nothing is sent, and the report says so (no OverflowError from the block's end).
    during, _ = batch(mode, server.url, ids, limiter=limiter)
    assert [order.id for order in during.not_sent] == ids
    assert server.count == 1
    # After the longest block, the same process cancels against a healthy exchange.
    now[0] += MAX_BLOCK_SECONDS + 1
    after, _ = batch(mode, server.url, ids, limiter=limiter)
    assert [order.uuid for order in after.success] == ids


# --- row 6: headers nobody can read -------------------------------------------------------------------------


def test_unreadable_pacing_headers_read_as_absent() -> None:
    assert parse_remaining_req("group=default; min=1800; sec=" + "9" * 5000) is None
    assert parse_remaining_req("group=default; min=1800; sec=29") is not None
    assert parse_date_header("Mon, 01 Jan 99999999999 00:00:00 GMT") is None
    assert parse_date_header("x" * 100_000) is None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "headers",
    [
        {"Remaining-Req": "group=default; min=1800; sec=" + "9" * 5000},
        {"Remaining-Req": "group=" + "g" * 3000 + "; sec=1"},
        {"Date": "Mon, 01 Jan 99999999999 00:00:00 GMT"},
        {"Date": "\x7f garbage \xff"},
    ],
    ids=["sec-5000-digits", "group-3000-chars", "date-year-99999999999", "date-garbage"],
)
def test_a_header_that_cannot_be_read_is_ignored_and_the_body_decides(
    mode: str, headers: dict[str, str], serve: Any
) -> None:
    exchange, ids = new_exchange(45)
    server = serve(always(DelegateWith(headers)), exchange)
    result, _ = batch(mode, server.url, ids)
    assert [order.uuid for order in result.success] == ids


# --- row 12: a URL too long to send -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_ids_that_make_the_url_too_long_are_not_sent(mode: str, serve: Any) -> None:
    exchange, _ = new_exchange(0)
    server = serve(always(Reply(200, {})), exchange)
    ids = [f"{n}-" + "x" * 10_000 for n in range(20)]
    result, _ = batch(mode, server.url, ids, kind="identifiers", confirm=True)
    assert server.count == 0
    assert [order.id for order in result.not_sent] == ids
    assert result.requests_sent == 0
    assert all("URL too long" in order.why for order in result.not_sent)


# --- row 13: the status decides the class --------------------------------------------------------------------


def test_the_status_decides_the_error_class_and_the_name_only_narrows_it() -> None:
    assert type(error_from_response(418, "too_many_requests", "slow down")) is TemporarilyBlocked
    assert type(error_from_response(429, "blocked", "x")) is RateLimited
    assert type(error_from_response(429, "too_many_requests", "x")) is RateLimited


@pytest.mark.parametrize("mode", MODES)
def test_a_418_named_too_many_requests_is_a_block(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(3)
    server = serve(always(error_reply(418, "too_many_requests", "Too many requests.")), exchange)
    result, _ = batch(mode, server.url, ids)
    assert result.blocked is not None
    assert "Upbit blocked this client" in result.blocked.message
    assert server.count == 1


# --- the deadline holds below httpx: connect and write too ---------------------------------------------------


def test_a_deadline_already_past_refuses_to_connect_as_a_connect_timeout() -> None:
    with connect("http://127.0.0.1:9", access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY) as client:
        http = client.get_httpx_client()
        with bounded(0.001):
            time.sleep(0.01)
            with pytest.raises(httpx.ConnectTimeout):
                http.get("http://127.0.0.1:9")
    assert issubclass(httpx.ConnectTimeout, httpx.TransportError)
    assert httpcore.ConnectTimeout is not None

"""The sandbox exchange's own rules: every error name it answers with, the query hash, the rate limit,
cancel semantics, thread safety, the in-process transport, the loopback server and the command."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, unquote_plus

import httpx
import jwt
import pytest

from tests.keys import OTHER_SECRET
from tests.limits import IDENTIFIERS_PER_CANCEL, UUIDS_PER_CANCEL, chunks
from tests.sandbox_support import bearer, make_token, remaining_sec, signed_call, upbit_query_hash, wire_query
from upbit_auth import UpbitAuth
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.models import CancelOrdersResult, UpbitError
from upbit_sandbox import (
    DEMO_ACCESS_KEY,
    DEMO_SECRET_KEY,
    ENDPOINT_PATH,
    UNKNOWN_ORDER_MARKET,
    SandboxExchange,
    SandboxTransport,
    demo_uuid,
    running_server,
    start_server,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


class FrozenClock:
    """An injectable clock a test moves by hand."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def exchange() -> SandboxExchange:
    book = SandboxExchange(rate_limit_per_second=None)
    book.seed_demo_orders(open_orders=30)
    return book


def one_order_query() -> str:
    return wire_query("uuids", [demo_uuid("demo-0001")])


# --- authentication ------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer   ", "Basic c2FuZGJveDpzZWNyZXQ="])
def test_missing_bearer_token_is_no_authorization_token(exchange: SandboxExchange, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = exchange.handle("DELETE", f"{ENDPOINT_PATH}?{one_order_query()}", headers, b"")
    assert (response.status, response.error_name) == (401, "no_authorization_token")
    assert exchange.order(demo_uuid("demo-0001")).state == "wait"


def test_unknown_access_key_is_invalid_access_key(exchange: SandboxExchange) -> None:
    response = signed_call(exchange, one_order_query(), access_key="someone-else")
    assert (response.status, response.error_name) == (401, "invalid_access_key")


def test_wrong_secret_is_jwt_verification(exchange: SandboxExchange) -> None:
    response = signed_call(exchange, one_order_query(), secret=OTHER_SECRET)
    assert (response.status, response.error_name) == (401, "jwt_verification")
    assert exchange.order(demo_uuid("demo-0001")).state == "wait"


@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_both_documented_algorithms_are_accepted(exchange: SandboxExchange, algorithm: str) -> None:
    response = signed_call(exchange, one_order_query(), algorithm=algorithm)
    assert response.status == 200
    assert response.body["success"]["count"] == 1


def test_hs384_is_rejected(exchange: SandboxExchange) -> None:
    response = signed_call(exchange, one_order_query(), algorithm="HS384")
    assert (response.status, response.error_name) == (401, "jwt_verification")


def test_unsigned_alg_none_token_is_rejected(exchange: SandboxExchange) -> None:
    raw_query = one_order_query()
    claims = {"access_key": DEMO_ACCESS_KEY, "nonce": str(uuid.uuid4()), "query_hash": upbit_query_hash(raw_query)}
    token = jwt.encode({**claims, "query_hash_alg": "SHA512"}, None, algorithm="none")
    response = exchange.handle("DELETE", f"{ENDPOINT_PATH}?{raw_query}", bearer(token), b"")
    assert (response.status, response.error_name) == (401, "jwt_verification")


def test_header_alg_that_does_not_match_the_signature_is_rejected(exchange: SandboxExchange) -> None:
    raw_query = one_order_query()
    token = make_token(raw_query, algorithm="HS256")
    _, payload, signature = token.split(".")
    relabelled = base64.urlsafe_b64encode(json.dumps({"alg": "HS512", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    response = exchange.handle(
        "DELETE", f"{ENDPOINT_PATH}?{raw_query}", bearer(f"{relabelled}.{payload}.{signature}"), b""
    )
    assert (response.status, response.error_name) == (401, "jwt_verification")


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJIUzUxMiJ9.e30"])
def test_garbage_token_is_jwt_verification(exchange: SandboxExchange, token: str) -> None:
    response = exchange.handle("DELETE", f"{ENDPOINT_PATH}?{one_order_query()}", bearer(token), b"")
    assert (response.status, response.error_name) == (401, "jwt_verification")


def test_token_without_nonce_is_rejected(exchange: SandboxExchange) -> None:
    raw_query = one_order_query()
    claims = {"access_key": DEMO_ACCESS_KEY, "query_hash": upbit_query_hash(raw_query), "query_hash_alg": "SHA512"}
    token = jwt.encode(claims, DEMO_SECRET_KEY, algorithm="HS512")
    response = exchange.handle("DELETE", f"{ENDPOINT_PATH}?{raw_query}", bearer(token), b"")
    assert (response.status, response.error_name) == (401, "jwt_verification")


def test_reused_nonce_is_nonce_used_even_after_a_different_answer(exchange: SandboxExchange) -> None:
    nonce = str(uuid.uuid4())
    first = signed_call(exchange, one_order_query(), nonce=nonce)
    again = signed_call(exchange, wire_query("uuids", [demo_uuid("demo-0002")]), nonce=nonce)
    assert first.status == 200
    assert (again.status, again.error_name) == (401, "nonce_used")
    assert exchange.order(demo_uuid("demo-0002")).state == "wait"


def test_nonces_are_tracked_per_access_key(exchange: SandboxExchange) -> None:
    exchange.add_credentials("second-key", OTHER_SECRET)
    nonce = str(uuid.uuid4())
    assert signed_call(exchange, one_order_query(), nonce=nonce).status == 200
    other = signed_call(exchange, one_order_query(), nonce=nonce, access_key="second-key", secret=OTHER_SECRET)
    assert other.status == 200


# --- the query hash ------------------------------------------------------------------------------------


def test_query_without_hash_claims_is_invalid_query_payload(exchange: SandboxExchange) -> None:
    token = make_token("")  # signed as if there were no query string
    response = exchange.handle("DELETE", f"{ENDPOINT_PATH}?{one_order_query()}", bearer(token), b"")
    assert (response.status, response.error_name) == (401, "invalid_query_payload")


def test_hash_alg_other_than_sha512_is_invalid_query_payload(exchange: SandboxExchange) -> None:
    response = signed_call(exchange, one_order_query(), query_hash_alg="SHA256")
    assert (response.status, response.error_name) == (401, "invalid_query_payload")


def test_hash_of_the_still_encoded_query_is_rejected(exchange: SandboxExchange) -> None:
    raw_query = wire_query("uuids", [demo_uuid("demo-0001"), demo_uuid("demo-0002")])
    assert "%5B%5D" in raw_query
    undecoded = hashlib.sha512(raw_query.encode()).hexdigest()
    response = signed_call(exchange, raw_query, query_hash=undecoded)
    assert (response.status, response.error_name) == (401, "invalid_query_payload")


def test_hash_of_the_query_in_another_order_is_rejected(exchange: SandboxExchange) -> None:
    first, second = demo_uuid("demo-0001"), demo_uuid("demo-0002")
    response = signed_call(
        exchange,
        wire_query("uuids", [first, second]),
        query_hash=upbit_query_hash(wire_query("uuids", [second, first])),
    )
    assert (response.status, response.error_name) == (401, "invalid_query_payload")


def test_plus_stays_plus_in_the_hash_but_is_a_space_in_a_value(exchange: SandboxExchange) -> None:
    spaced = exchange.add_order(identifier="a b", market="KRW-BTC")
    plussed = exchange.add_order(identifier="a+b", market="KRW-ETH")
    raw_query = "identifiers[]=a+b&identifiers[]=a%2Bb"
    read_as_space = hashlib.sha512(unquote_plus(raw_query).encode()).hexdigest()
    rejected = signed_call(exchange, raw_query, query_hash=read_as_space)
    assert (rejected.status, rejected.error_name) == (401, "invalid_query_payload")

    accepted = signed_call(exchange, raw_query)
    assert accepted.status == 200
    assert [order["uuid"] for order in accepted.body["success"]["orders"]] == [spaced.uuid, plussed.uuid]


@pytest.mark.parametrize("identifier", ["주문 1&2+3=4", "with space", "a&b", "100%", "émoji-🚀"])
def test_identifiers_with_unicode_spaces_and_separators_round_trip(exchange: SandboxExchange, identifier: str) -> None:
    order = exchange.add_order(identifier=identifier, market="KRW-ETH")
    response = signed_call(exchange, wire_query("identifiers", [identifier]))
    assert response.status == 200
    assert response.body["success"]["orders"] == [{"uuid": order.uuid, "market": "KRW-ETH", "identifier": identifier}]
    assert exchange.order(order.uuid).state == "cancel"


def test_brackets_unencoded_on_the_wire_are_read_the_same(exchange: SandboxExchange) -> None:
    response = signed_call(exchange, f"uuids[]={demo_uuid('demo-0001')}")
    assert response.status == 200
    assert response.body["success"]["count"] == 1


# --- parameters and routing ----------------------------------------------------------------------------


def test_any_body_is_query_parameter_not_supported(exchange: SandboxExchange) -> None:
    response = signed_call(exchange, one_order_query(), body=b'{"uuids": ["x"]}')
    assert (response.status, response.error_name) == (400, "QUERY_PARAMETER_NOT_SUPPORTED")
    assert exchange.order(demo_uuid("demo-0001")).state == "wait"


def test_params_only_in_the_body_are_query_parameter_not_supported(exchange: SandboxExchange) -> None:
    response = signed_call(exchange, "", body=f"uuids[]={demo_uuid('demo-0001')}".encode())
    assert (response.status, response.error_name) == (400, "QUERY_PARAMETER_NOT_SUPPORTED")


@pytest.mark.parametrize(
    "raw_query",
    [
        "",
        f"uuids[]={demo_uuid('demo-0001')}&identifiers[]=demo-0002",
        wire_query("uuids", [str(uuid.uuid4()) for _ in range(UUIDS_PER_CANCEL + 1)]),
        "uuids=abc",
        f"uuids[]={demo_uuid('demo-0001')}&market=KRW-BTC",
        "uuids[]=",
        "identifiers[]",
    ],
    ids=["neither", "both", "one-too-many", "no-brackets", "unknown-key", "empty-value", "no-value"],
)
def test_parameter_rules_are_validation_error(exchange: SandboxExchange, raw_query: str) -> None:
    response = signed_call(exchange, raw_query)
    assert (response.status, response.error_name) == (400, "validation_error")
    assert len(exchange.orders("cancel")) == 3  # only the seeded cancelled ones
    assert len(exchange.orders("wait")) == 30


@pytest.mark.parametrize(("kind", "most"), [("uuids", UUIDS_PER_CANCEL), ("identifiers", IDENTIFIERS_PER_CANCEL)])
def test_each_id_parameters_own_max_items_is_accepted(exchange: SandboxExchange, kind: str, most: int) -> None:
    names = [f"demo-{n:04d}" for n in range(1, most + 1)]
    assert len(exchange.orders("wait")) >= most, "the fixture seeds too few open orders for this spec"
    response = signed_call(
        exchange, wire_query(kind, [demo_uuid(name) for name in names] if kind == "uuids" else names)
    )
    assert response.status == 200
    assert response.body["success"]["count"] == most


@pytest.mark.parametrize(("method", "path"), [("PUT", ENDPOINT_PATH), ("DELETE", "/v1/orders"), ("POST", "/v1/x")])
def test_wrong_method_or_path_is_404_with_the_error_shape(exchange: SandboxExchange, method: str, path: str) -> None:
    response = signed_call(exchange, one_order_query(), method=method, path=path)
    assert response.status == 404
    assert set(response.body["error"]) == {"name", "message"}
    assert response.headers["Remaining-Req"].startswith("group=default; min=")


# --- cancel semantics ----------------------------------------------------------------------------------


def test_open_filled_cancelled_and_unknown_orders_land_where_upbit_puts_them(exchange: SandboxExchange) -> None:
    unknown = str(uuid.uuid4())
    ids = [demo_uuid("demo-0001"), demo_uuid("demo-filled-0001"), demo_uuid("demo-cancelled-0001"), unknown]
    response = signed_call(exchange, wire_query("uuids", ids))
    assert response.status == 200
    assert response.body["success"] == {
        "count": 1,
        "orders": [{"uuid": ids[0], "market": "KRW-BTC", "identifier": "demo-0001"}],
    }
    failed = response.body["failed"]
    assert failed["count"] == 3
    assert [order["uuid"] for order in failed["orders"]] == ids[1:]
    assert failed["orders"][2] == {"uuid": unknown, "market": UNKNOWN_ORDER_MARKET, "identifier": None}
    assert exchange.order(ids[0]).state == "cancel"
    assert exchange.order(ids[1]).state == "done"


def test_unknown_identifier_is_failed_with_null_uuid_and_market(exchange: SandboxExchange) -> None:
    response = signed_call(exchange, wire_query("identifiers", ["no-such-order"]))
    assert response.body["failed"]["orders"] == [{"uuid": None, "market": None, "identifier": "no-such-order"}]


def test_unknown_ids_can_be_listed_with_their_fields_left_out() -> None:
    book = SandboxExchange(unknown_order_fields="absent")
    by_identifier = signed_call(book, wire_query("identifiers", ["no-such-order"]))
    assert by_identifier.body["failed"]["orders"] == [{"identifier": "no-such-order"}]
    by_uuid = signed_call(book, wire_query("uuids", ["no-such-uuid"]))
    assert by_uuid.body["failed"]["orders"] == [{"uuid": "no-such-uuid"}]


def test_cancelling_twice_moves_the_order_to_failed(exchange: SandboxExchange) -> None:
    assert signed_call(exchange, one_order_query()).body["success"]["count"] == 1
    again = signed_call(exchange, one_order_query())
    assert again.body["success"]["count"] == 0
    assert again.body["failed"]["orders"][0]["uuid"] == demo_uuid("demo-0001")


def test_duplicated_ids_are_reported_once(exchange: SandboxExchange) -> None:
    known, unknown = demo_uuid("demo-0001"), str(uuid.uuid4())
    response = signed_call(exchange, wire_query("uuids", [known, unknown, known, unknown]))
    assert response.body["success"]["count"] == 1
    assert [order["uuid"] for order in response.body["success"]["orders"]] == [known]
    assert [order["uuid"] for order in response.body["failed"]["orders"]] == [unknown]


def test_legacy_order_without_identifier_reports_null_identifier(exchange: SandboxExchange) -> None:
    order = exchange.add_order(market="KRW-XRP")
    response = signed_call(exchange, wire_query("uuids", [order.uuid]))
    assert response.body["success"]["orders"] == [{"uuid": order.uuid, "market": "KRW-XRP", "identifier": None}]


def test_demo_seed_is_deterministic_and_documented() -> None:
    first, second = SandboxExchange(), SandboxExchange()
    orders = first.seed_demo_orders(open_orders=4, filled=2, cancelled=1)
    assert orders == second.seed_demo_orders(open_orders=4, filled=2, cancelled=1)
    assert [order.identifier for order in orders] == [
        "demo-0001",
        "demo-0002",
        "demo-0003",
        "demo-0004",
        "demo-filled-0001",
        "demo-filled-0002",
        "demo-cancelled-0001",
    ]
    assert Counter(order.state for order in orders) == {"wait": 4, "done": 2, "cancel": 1}
    assert all(order.uuid == demo_uuid(str(order.identifier)) for order in orders)
    with pytest.raises(ValueError, match="already in the book"):
        first.seed_demo_orders(open_orders=1)


def test_add_order_refuses_duplicate_uuid_or_identifier(exchange: SandboxExchange) -> None:
    with pytest.raises(ValueError, match="uuid"):
        exchange.add_order(demo_uuid("demo-0001"))
    with pytest.raises(ValueError, match="identifier"):
        exchange.add_order(identifier="demo-0001")


# --- rate limit ----------------------------------------------------------------------------------------


def test_rate_limit_counts_down_per_whole_second_window_then_429() -> None:
    clock = FrozenClock(1_000.2)
    book = SandboxExchange(clock=clock)
    book.seed_demo_orders(open_orders=0)
    secs = [remaining_sec(signed_call(book, one_order_query())) for _ in range(30)]
    assert secs == list(range(29, -1, -1))
    clock.now = 1_000.99
    limited = signed_call(book, one_order_query())
    assert (limited.status, limited.error_name, remaining_sec(limited)) == (429, "too_many_requests", 0)
    clock.now = 1_001.0
    fresh = signed_call(book, one_order_query())
    assert (fresh.status, remaining_sec(fresh)) == (200, 29)


def test_rate_limit_is_per_access_key_and_configurable() -> None:
    clock = FrozenClock()
    book = SandboxExchange(
        {DEMO_ACCESS_KEY: DEMO_SECRET_KEY, "second-key": OTHER_SECRET}, rate_limit_per_second=2, clock=clock
    )
    assert [signed_call(book, one_order_query()).status for _ in range(3)] == [200, 200, 429]
    other = signed_call(book, one_order_query(), access_key="second-key", secret=OTHER_SECRET)
    assert (other.status, remaining_sec(other)) == (200, 1)


def test_rate_limit_off_never_429s() -> None:
    book = SandboxExchange(rate_limit_per_second=None, clock=FrozenClock())
    statuses = {signed_call(book, one_order_query()).status for _ in range(100)}
    assert statuses == {200}


def test_requests_that_prove_no_key_spend_no_budget() -> None:
    book = SandboxExchange(rate_limit_per_second=2, clock=FrozenClock())
    for _ in range(5):
        assert signed_call(book, one_order_query(), secret=OTHER_SECRET).status == 401
        assert book.handle("GET", "/nope", {}, b"").status == 404
    assert signed_call(book, one_order_query()).status == 200


def test_a_429_burns_the_nonce_so_a_retry_needs_a_new_one() -> None:
    book = SandboxExchange(rate_limit_per_second=1, clock=FrozenClock())
    assert signed_call(book, one_order_query()).status == 200
    nonce = str(uuid.uuid4())
    assert signed_call(book, one_order_query(), nonce=nonce).status == 429
    book.clock = FrozenClock(2_000.0)
    assert signed_call(book, one_order_query(), nonce=nonce).error_name == "nonce_used"


@pytest.mark.parametrize("offset", [0.7, -0.3])
def test_windows_follow_the_exchange_clock_set_off_from_ours(offset: float) -> None:
    clock = FrozenClock(1_000.2)
    book = SandboxExchange(clock=clock, clock_offset=offset, rate_limit_per_second=2)
    book.seed_demo_orders(open_orders=0)
    boundary = math.floor(1_000.2 + offset) + 1 - offset  # where the exchange's next second starts, our clock
    assert [signed_call(book, one_order_query()).status for _ in range(3)] == [200, 200, 429]
    clock.now = boundary - 0.001
    assert signed_call(book, one_order_query()).status == 429  # our clock may have ticked; the exchange's has not
    clock.now = boundary
    assert signed_call(book, one_order_query()).status == 200


@pytest.mark.parametrize("offset", [0.0, 0.7, -0.3])
def test_every_answer_is_dated_by_the_exchange_clock(offset: float) -> None:
    clock = FrozenClock(1_700_000_000.5)
    book = SandboxExchange(clock=clock, clock_offset=offset)
    answers = [signed_call(book, one_order_query()), book.handle("PUT", "/", {}, b"")]
    expected = formatdate(math.floor(1_700_000_000.5 + offset), usegmt=True)
    assert [answer.headers["Date"] for answer in answers] == [expected, expected]


def test_the_server_sends_one_date_header_from_the_exchange_clock() -> None:
    book = SandboxExchange(clock_offset=-3600.0)
    with running_server(book) as url:
        response = httpx.request("DELETE", f"{url}{ENDPOINT_PATH}", params={"uuids[]": "x"})
    dates = response.headers.get_list("Date")
    assert len(dates) == 1
    # An hour behind the machine's clock, to the second (a second of slack for the request itself).
    assert abs(parsedate_to_datetime(dates[0]).timestamp() - (time.time() - 3600)) <= 2


def test_every_answer_carries_remaining_req(exchange: SandboxExchange) -> None:
    answers = [
        signed_call(exchange, one_order_query()),
        signed_call(exchange, one_order_query(), secret=OTHER_SECRET),
        signed_call(exchange, "uuids=x"),
        exchange.handle("PUT", "/", {}, b""),
    ]
    assert all(answer.headers["Remaining-Req"].startswith("group=default; min=1800; sec=") for answer in answers)


# --- request log and threads ---------------------------------------------------------------------------


def test_request_log_records_what_was_sent(exchange: SandboxExchange) -> None:
    assert exchange.requests == []
    raw_query = one_order_query()
    signed_call(exchange, raw_query)
    exchange.handle("GET", "/nope", {}, b"")
    first, second = exchange.requests
    assert (first.method, first.target, first.status, first.access_key) == (
        "DELETE",
        f"{ENDPOINT_PATH}?{raw_query}",
        200,
        DEMO_ACCESS_KEY,
    )
    assert (second.status, second.access_key, second.error_name) == (404, None, "not_found")
    exchange.clear_requests()
    assert exchange.requests == []


CHUNK = min(15, UUIDS_PER_CANCEL)  # ids per request in the race below


def test_concurrent_cancels_cancel_each_order_exactly_once() -> None:
    book = SandboxExchange(rate_limit_per_second=None)
    book.seed_demo_orders(open_orders=60)
    ids = [demo_uuid(f"demo-{n:04d}") for n in range(1, 61)]
    successes: list[str] = []
    successes_lock = threading.Lock()

    def worker(offset: int) -> None:
        for start in range(0, 60, CHUNK):
            # Every thread asks for every order, in a different rotation, so they race for each one.
            chunk = (ids[offset:] + ids[:offset])[start : start + CHUNK]
            answer = signed_call(book, wire_query("uuids", chunk))
            assert answer.status == 200
            with successes_lock:
                successes.extend(order["uuid"] for order in answer.body["success"]["orders"])

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in range(0, 60, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(successes) == sorted(ids)
    assert len(book.requests) == len(threads) * chunks(60, CHUNK)
    assert book.orders("wait") == []


def test_concurrent_requests_never_exceed_the_rate_limit() -> None:
    book = SandboxExchange(clock=FrozenClock())
    statuses: list[int] = []
    barrier = threading.Barrier(10)

    def worker() -> None:
        barrier.wait()
        for _ in range(5):
            statuses.append(signed_call(book, one_order_query()).status)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(statuses) == {200: 30, 429: 20}


# --- in-process transport with the generated client ----------------------------------------------------


def sandbox_client(book: SandboxExchange) -> Client:
    auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    return Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": book.transport()})


def test_transport_is_an_httpx_mock_transport(exchange: SandboxExchange) -> None:
    transport = exchange.transport()
    assert isinstance(transport, httpx.MockTransport)
    assert isinstance(transport, SandboxTransport)


def test_generated_client_sync_call_through_the_transport(exchange: SandboxExchange) -> None:
    with sandbox_client(exchange) as client:
        response = cancel_orders_by_ids.sync_detailed(
            client=client, uuids=[demo_uuid("demo-0001"), demo_uuid("demo-filled-0001")]
        )
    assert response.status_code == 200
    assert isinstance(response.parsed, CancelOrdersResult)
    assert [order.identifier for order in response.parsed.success.orders] == ["demo-0001"]
    assert [order.identifier for order in response.parsed.failed.orders] == ["demo-filled-0001"]
    assert response.headers["Remaining-Req"] == "group=default; min=1800; sec=30"  # limit off: full budget


async def test_generated_client_async_calls_through_the_transport_overlap_their_latency() -> None:
    book = SandboxExchange(rate_limit_per_second=None, latency=0.5)
    book.seed_demo_orders(open_orders=5)
    client = sandbox_client(book)
    started = time.perf_counter()
    async with client:
        responses = await asyncio.gather(
            *(cancel_orders_by_ids.asyncio_detailed(client=client, identifiers=[f"demo-{n:04d}"]) for n in range(1, 6))
        )
    elapsed = time.perf_counter() - started
    assert [r.status_code for r in responses] == [200] * 5
    assert all(isinstance(r.parsed, CancelOrdersResult) and r.parsed.success.count == 1 for r in responses)
    # Five 0.5 s answers overlapping prove asyncio.sleep; a blocking sleep would take 2.5 s (the bound
    # leaves a loaded machine 1.5 s).
    assert 0.5 <= elapsed < 2.0


def test_sync_latency_is_applied() -> None:
    book = SandboxExchange(latency=0.2)
    with sandbox_client(book) as client:
        started = time.perf_counter()
        cancel_orders_by_ids.sync_detailed(client=client, uuids=["x"])
    assert time.perf_counter() - started >= 0.2


def test_sdk_identifier_with_a_space_reaches_the_exchange_intact(exchange: SandboxExchange) -> None:
    order = exchange.add_order(identifier="with space")
    with sandbox_client(exchange) as client:
        response = cancel_orders_by_ids.sync_detailed(client=client, identifiers=["with space"])
    assert isinstance(response.parsed, CancelOrdersResult)
    assert [o.uuid for o in response.parsed.success.orders] == [order.uuid]


def test_sdk_error_answer_is_parsed_from_the_transport() -> None:
    book = SandboxExchange()
    auth = UpbitAuth(DEMO_ACCESS_KEY, OTHER_SECRET)
    with Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": book.transport()}) as client:
        response = cancel_orders_by_ids.sync_detailed(client=client, uuids=["x"])
    assert response.status_code == 401
    assert isinstance(response.parsed, UpbitError)
    assert response.parsed.error.name == "jwt_verification"


# --- loopback server and command -----------------------------------------------------------------------


def test_server_serves_the_generated_client_over_keep_alive_http11(exchange: SandboxExchange) -> None:
    server, url = start_server(exchange)
    try:
        assert url.startswith("http://127.0.0.1:")
        assert server.server_address[0] == "127.0.0.1"
        auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
        with Client(base_url=url, httpx_args={"auth": auth}) as client:
            answers = [
                cancel_orders_by_ids.sync_detailed(client=client, identifiers=[f"demo-{n:04d}"]) for n in (1, 2, 3)
            ]
            assert all(answer.status_code == 200 for answer in answers)
            assert {
                answer.parsed.success.count for answer in answers if isinstance(answer.parsed, CancelOrdersResult)
            } == {1}
            raw = client.get_httpx_client().get("/v1/no-such-path")
            assert raw.http_version == "HTTP/1.1"
            assert raw.status_code == 404
            server.stop()
            # stop() cuts the kept-alive connection: the client cannot be answered any more.
            with pytest.raises(httpx.TransportError):
                client.get_httpx_client().get("/v1/no-such-path")
    finally:
        server.stop()
    assert [record.status for record in exchange.requests] == [200, 200, 200, 404]


def test_server_reads_chunked_and_sized_bodies(exchange: SandboxExchange) -> None:
    auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    with running_server(exchange) as url, httpx.Client(base_url=url, auth=auth) as client:
        sized = client.request("DELETE", ENDPOINT_PATH, params={"uuids[]": "x"}, content=b"uuids[]=x")
        chunked = client.request("DELETE", ENDPOINT_PATH, params={"uuids[]": "x"}, content=iter([b"uuids", b"[]=x"]))
        after = client.request("DELETE", ENDPOINT_PATH, params={"uuids[]": demo_uuid("demo-0001")})
    assert sized.json()["error"]["name"] == "QUERY_PARAMETER_NOT_SUPPORTED"
    assert chunked.json()["error"]["name"] == "QUERY_PARAMETER_NOT_SUPPORTED"
    # The same connection still parses the next request, so the bodies were consumed exactly.
    assert after.status_code == 200


def test_server_passes_the_raw_encoded_target_to_the_exchange(exchange: SandboxExchange) -> None:
    identifier = "주문 1&2+3"
    order = exchange.add_order(identifier=identifier)
    raw_query = f"identifiers%5B%5D={quote(identifier, safe='')}"
    with running_server(exchange) as url:
        response = httpx.request("DELETE", f"{url}{ENDPOINT_PATH}?{raw_query}", headers=bearer(make_token(raw_query)))
    assert response.status_code == 200
    assert response.json()["success"]["orders"][0]["uuid"] == order.uuid
    assert exchange.requests[-1].target == f"{ENDPOINT_PATH}?{raw_query}"


def test_upbit_sandbox_command_serves_until_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "upbit_sandbox", "--port", "0", "--rate-limit", "0", "--orders", "3"),
            *("--clock-offset", "-7200", "--latency-ms", "30"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                break
        settings = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
        url = settings["UPBIT_OPEN_API_SERVER_URL"]
        assert url.startswith("http://127.0.0.1:")
        assert settings["UPBIT_OPEN_API_ACCESS_KEY"] == DEMO_ACCESS_KEY
        assert settings["UPBIT_OPEN_API_SECRET_KEY"] == DEMO_SECRET_KEY
        assert any("not a real Upbit secret" in line for line in lines)
        auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
        response = httpx.request("DELETE", f"{url}{ENDPOINT_PATH}", params={"identifiers[]": "demo-0003"}, auth=auth)
        assert response.status_code == 200
        assert response.json()["success"]["count"] == 1
        assert response.headers["Remaining-Req"] == "group=default; min=1800; sec=30"
        assert any("clock offset: -7200 s" in line and "latency: 30 ms" in line for line in lines)
        # The exchange's clock runs two hours behind the machine's; each answer waits 30 ms.
        assert abs(parsedate_to_datetime(response.headers["Date"]).timestamp() - (time.time() - 7200)) <= 2
        assert response.elapsed.total_seconds() >= 0.03
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()

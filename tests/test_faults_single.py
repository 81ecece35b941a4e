"""Single calls (generated ``*_detailed`` + ``errors.unwrap``) against a loopback server misbehaving on purpose.

Guarantee under test: a single call ends in a parsed body, a typed ``UpbitClientError`` naming what
went wrong, or (only when no usable answer arrived at all) an ``httpx.TransportError``; never a raw
``KeyError``/``JSONDecodeError``/``TypeError``, never a retry of its own (one request per call).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.faults import (
    Action,
    CloseMidBody,
    Delegate,
    FaultServer,
    Reply,
    ResetBeforeAnswer,
    ResetMidResponse,
    Stall,
    always,
    error_reply,
    html_reply,
    refused_url,
)
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel.errors import (
    AuthenticationError,
    InvalidResponse,
    PermissionDenied,
    RateLimited,
    ServerError,
    TemporarilyBlocked,
    UnexpectedStatus,
    UpbitClientError,
    unwrap,
)
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.models import CancelOrdersResult
from upbit_sandbox import SandboxExchange

# Only the stalled-read test waits for the read timeout; everywhere else an answer comes, and a patient
# read timeout keeps a scheduler hiccup on a loaded 2-core machine from turning it into a ReadTimeout.
READ_TIMEOUT = 0.3
PATIENT_READ_TIMEOUT = 2.0
# A loopback connect only times out when the machine is starved: that is not the fault under test.
CONNECT_TIMEOUT = 5.0
IDS = ["6c1eac69-b9bc-4fbf-9982-e9c4641c453f", "e7f41e24-7199-4cf4-9b02-72971cb69a4d"]


def _client(url: str, read_timeout: float) -> Client:
    return Client(
        base_url=url,
        timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT),
        httpx_args={"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)},
    )


def call_sync(url: str, read_timeout: float = PATIENT_READ_TIMEOUT) -> CancelOrdersResult:
    with _client(url, read_timeout) as client:
        return unwrap(cancel_orders_by_ids.sync_detailed(client=client, uuids=IDS))


async def call_async(url: str, read_timeout: float = PATIENT_READ_TIMEOUT) -> CancelOrdersResult:
    async with _client(url, read_timeout) as client:
        return unwrap(await cancel_orders_by_ids.asyncio_detailed(client=client, uuids=IDS))


@pytest.fixture
def exchange() -> SandboxExchange:
    book = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    for uuid in IDS:
        book.add_order(uuid)
    return book


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run_call(mode: str, url: str, read_timeout: float = PATIENT_READ_TIMEOUT) -> CancelOrdersResult:
    import asyncio

    return call_sync(url, read_timeout) if mode == "sync" else asyncio.run(call_async(url, read_timeout))


def raised_by(mode: str, url: str, read_timeout: float = PATIENT_READ_TIMEOUT) -> BaseException:
    """The exception the call raised; fails the test if it returned or raised something untyped."""
    try:
        run_call(mode, url, read_timeout)
    except (UpbitClientError, httpx.TransportError) as exc:
        return exc
    except Exception as exc:  # pragma: no cover - this is the failure being tested for
        pytest.fail(f"raw {type(exc).__name__} escaped the unwrap path: {exc!r}")
    pytest.fail("the call returned although the server misbehaved")


@pytest.fixture
def server_for(exchange: SandboxExchange) -> Iterator[Any]:
    servers: list[FaultServer] = []

    def start(action: Action) -> FaultServer:
        server = FaultServer(always(action), backend=exchange).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_the_fault_server_delegates_good_requests_to_the_verifying_sandbox(mode: str, server_for: Any) -> None:
    server = server_for(Delegate())
    result = run_call(mode, server.url)
    assert sorted(order.uuid for order in result.success.orders) == sorted(IDS)
    assert server.count == 1
    assert server.requests[0].ids == IDS


def test_connection_refused_is_an_httpx_connect_error(mode: str) -> None:
    url = refused_url()
    exc = raised_by(mode, url)
    assert isinstance(exc, httpx.ConnectError)


@pytest.mark.parametrize(
    "action",
    [ResetBeforeAnswer(), ResetMidResponse(), CloseMidBody()],
    ids=["reset-before-answer", "reset-mid-response", "closed-mid-body"],
)
def test_lost_answer_is_an_httpx_transport_error_after_one_request(mode: str, server_for: Any, action: Action) -> None:
    server = server_for(action)
    exc = raised_by(mode, server.url)
    assert isinstance(exc, httpx.TransportError)
    assert server.count == 1


def test_stalled_read_times_out_within_the_client_timeout(mode: str, server_for: Any) -> None:
    server = server_for(Stall(5.0))
    started = time.monotonic()
    exc = raised_by(mode, server.url, READ_TIMEOUT)
    elapsed = time.monotonic() - started
    assert isinstance(exc, httpx.ReadTimeout)
    assert elapsed < READ_TIMEOUT + 2.0  # the stall lasts 5 s: this bound is the client's timeout, with slack
    assert server.count == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_proxy_html_on_an_undocumented_status_is_unexpected_status(mode: str, server_for: Any, status: int) -> None:
    server = server_for(html_reply(status))
    exc = raised_by(mode, server.url)
    assert isinstance(exc, UnexpectedStatus)
    assert exc.status_code == status
    assert b"<html>" in exc.content
    assert server.count == 1


# Bodies that a documented status cannot carry: each must become InvalidResponse naming the status.
NO_FAILED = {"count": 0, "orders": []}
BAD_BODIES: list[tuple[str, int, Any]] = [
    ("html-500", 500, "<html><body>Internal Server Error</body></html>"),
    ("html-401", 401, "<html>401</html>"),
    ("not-json", 200, "definitely not json"),
    ("empty", 200, b""),
    ("truncated-json", 200, '{"success": {"count": 1, "orders": [{"uuid": "'),
    ("json-list", 200, []),
    ("json-null", 200, None),
    ("json-string", 200, "abc"),
    ("error-without-message", 401, {"error": {"name": "jwt_verification"}}),
    ("error-not-object", 429, {"error": "too many"}),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body"), [case[1:] for case in BAD_BODIES], ids=[case[0] for case in BAD_BODIES])
def test_unreadable_documented_body_is_invalid_response(mode: str, server_for: Any, status: int, body: Any) -> None:
    server = server_for(Reply(status, body if isinstance(body, (bytes, str)) else json.dumps(body)))
    exc = raised_by(mode, server.url)
    assert isinstance(exc, InvalidResponse), f"{type(exc).__name__}: {exc}"
    assert exc.status_code == status
    assert f"HTTP {status}" in str(exc)
    assert server.count == 1


# A JSON object at the top is the exchange saying what it did: the seed marks every field of the 200
# "Required: No", so missing, null, extra or odd fields are read, never refused (the batch then keeps
# every order the answer names; see test_liberal_reading.py).
READABLE_BODIES: list[tuple[str, Any]] = [
    ("missing-success", {"failed": {"count": 0, "orders": []}}),
    ("missing-failed", {"success": {"count": 0, "orders": []}}),
    ("orders-int", {"success": {"count": 1, "orders": 5}, "failed": NO_FAILED}),
    ("orders-str", {"success": {"count": 1, "orders": "abc"}, "failed": NO_FAILED}),
    ("orders-object", {"success": {"count": 1, "orders": {"uuid": "x"}}, "failed": NO_FAILED}),
    ("order-no-uuid", {"success": {"count": 1, "orders": [{"market": "KRW-BTC"}]}, "failed": NO_FAILED}),
    ("success-null", {"success": None, "failed": NO_FAILED}),
    ("count-two", {"success": {"count": "two", "orders": []}, "failed": NO_FAILED}),
    ("uuid-int", {"success": {"count": 1, "orders": [{"uuid": 7, "market": "KRW-BTC"}]}, "failed": NO_FAILED}),
    ("market-null", {"success": NO_FAILED, "failed": {"count": 1, "orders": [{"uuid": "u", "market": None}]}}),
    ("empty-object", {}),
]  # fmt: skip


@pytest.mark.parametrize("body", [case[1] for case in READABLE_BODIES], ids=[case[0] for case in READABLE_BODIES])
def test_a_200_object_with_missing_null_or_odd_fields_is_read_not_refused(
    mode: str, server_for: Any, body: Any
) -> None:
    server = server_for(Reply(200, body))
    # The point is parsing, not timing: a patient client, so a starved machine cannot turn it into a timeout.
    client = Client(base_url=server.url, httpx_args={"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)})
    if mode == "sync":
        with client:
            result = unwrap(cancel_orders_by_ids.sync_detailed(client=client, uuids=IDS))
    else:

        async def call() -> CancelOrdersResult:
            async with client:
                return unwrap(await cancel_orders_by_ids.asyncio_detailed(client=client, uuids=IDS))

        result = asyncio.run(call())
    assert isinstance(result, CancelOrdersResult)
    assert server.count == 1


AUTH_CASES = [
    (401, "jwt_verification", AuthenticationError, "access and secret keys"),
    (401, "invalid_query_payload", AuthenticationError, "query hash"),
    (401, "invalid_access_key", AuthenticationError, "access and secret keys"),
    (401, "no_authorization_ip", AuthenticationError, "allowed IP"),
    (401, "out_of_scope", PermissionDenied, "Make Orders"),
    (403, "out_of_scope", PermissionDenied, "Make Orders"),
]


@pytest.mark.parametrize(("status", "name", "kind", "hint"), AUTH_CASES, ids=[f"{c[0]}-{c[1]}" for c in AUTH_CASES])
def test_auth_errors_are_typed_name_what_to_check_and_are_sent_once(
    mode: str, server_for: Any, status: int, name: str, kind: type[Exception], hint: str
) -> None:
    server = server_for(error_reply(status, name, "server says no"))
    exc = raised_by(mode, server.url)
    assert type(exc) is kind
    assert isinstance(exc, AuthenticationError)
    assert (exc.status, exc.name, exc.message) == (status, name, "server says no")
    assert name in str(exc)
    assert hint in str(exc)
    assert server.count == 1


def test_429_is_rate_limited_and_not_retried_by_a_single_call(mode: str, server_for: Any) -> None:
    server = server_for(error_reply(429, "too_many_requests", "Too many requests."))
    exc = raised_by(mode, server.url)
    assert isinstance(exc, RateLimited)
    assert exc.status == 429
    assert server.count == 1


def test_418_is_temporarily_blocked_with_the_block_message(mode: str, server_for: Any) -> None:
    message = "Too many 429s. Blocked for 60 seconds."
    server = server_for(error_reply(418, "temporarily_blocked", message))
    exc = raised_by(mode, server.url)
    assert isinstance(exc, TemporarilyBlocked)
    assert message in str(exc)
    assert "wait" in str(exc)
    assert server.count == 1


def test_500_with_upbit_error_body_is_server_error(mode: str, server_for: Any) -> None:
    server = server_for(error_reply(500, "server_error", "oops"))
    exc = raised_by(mode, server.url)
    assert isinstance(exc, ServerError)
    assert exc.status == 500

"""Replays of real HTTP exchanges with the loopback sandbox, recorded by vcrpy (pytest-recording).

``make test`` (plain ``pytest``, record mode ``none``) replays ``tests/cassettes/*.yaml`` and never opens
a socket: each test asserts what the SDK makes of the recorded answers. ``make cassettes`` runs this
file with ``--record-mode=rewrite``: then each test starts its own seeded sandbox on 127.0.0.1 and
records afresh. Requests are recorded under a fixed placeholder origin (the sandbox's port changes on
every run) and without the ``Authorization`` header; ``test_cassettes_hold_no_credentials`` guards that.
Matching ignores headers, so the random nonce of a replayed request does not matter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from vcr.request import Request as VcrRequest

from tests.keys import OTHER_SECRET
from tests.sandbox_support import signed_call, wire_query
from upbit_auth import UpbitAuth
from upbit_cancel.errors import AuthenticationError, RateLimited, UpbitAPIError, error_from_response, unwrap
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.errors import InvalidRequest
from upbit_client.models import CancelOrdersResult, UpbitError
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, ENDPOINT_PATH, SandboxExchange, demo_uuid, start_server

CASSETTE_DIR = Path(__file__).resolve().parent / "cassettes"
RECORDED_ORIGIN = "http://upbit-sandbox.invalid"
# Nothing listens on the discard port: if replay ever let a request through, it fails instead of going anywhere.
REPLAY_URL = "http://127.0.0.1:9"
CASSETTES = (
    "all_cancelled.yaml",
    "partial_failure.yaml",
    "by_identifiers.yaml",
    "validation_error.yaml",
    "bad_signature.yaml",
    "rate_limited.yaml",
)
UNKNOWN_UUID = demo_uuid("not-in-the-book")


def _placeholder_origin(request: VcrRequest) -> VcrRequest:
    """Swap the sandbox's random port for a fixed origin; applied on record and before matching on replay."""
    parts = urlsplit(request.uri)
    canonical = urlsplit(RECORDED_ORIGIN)
    request.uri = urlunsplit((canonical.scheme, canonical.netloc, parts.path, parts.query, parts.fragment))
    return request


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        # Host carries the sandbox's random port; Authorization carries the signed token.
        "filter_headers": ["authorization", "host"],
        "before_record_request": _placeholder_origin,
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTE_DIR)


@dataclass
class Sandbox:
    """Where the SDK sends requests, and, only while recording, the live exchange behind it."""

    url: str
    exchange: SandboxExchange | None

    @property
    def recording(self) -> bool:
        return self.exchange is not None


class FrozenClock:
    def __call__(self) -> float:
        return 7_000.0


@pytest.fixture
def sandbox(record_mode: str) -> Iterator[Sandbox]:
    if record_mode == "none":
        yield Sandbox(REPLAY_URL, None)
        return
    # The frozen clock keeps every recorded request in one rate window, so recordings are reproducible.
    exchange = SandboxExchange(clock=FrozenClock())
    exchange.seed_demo_orders(open_orders=10)
    server, url = start_server(exchange)
    try:
        yield Sandbox(url, exchange)
    finally:
        server.stop()


def sdk_client(sandbox: Sandbox, secret: str = DEMO_SECRET_KEY) -> Client:
    return Client(base_url=sandbox.url, httpx_args={"auth": UpbitAuth(DEMO_ACCESS_KEY, secret)})


@pytest.mark.vcr
@pytest.mark.default_cassette("all_cancelled.yaml")
def test_all_cancelled(sandbox: Sandbox) -> None:
    ids = [demo_uuid(f"demo-{n:04d}") for n in (1, 2, 3)]
    with sdk_client(sandbox) as client:
        response = cancel_orders_by_ids.sync_detailed(client=client, uuids=ids)
    result = unwrap(response)
    assert isinstance(result, CancelOrdersResult)
    assert result.success.count == 3
    assert [order.uuid for order in result.success.orders] == ids
    assert [order.identifier for order in result.success.orders] == ["demo-0001", "demo-0002", "demo-0003"]
    assert [order.market for order in result.success.orders] == ["KRW-BTC", "KRW-ETH", "KRW-XRP"]
    assert (result.failed.count, result.failed.orders) == (0, [])
    assert response.headers["Remaining-Req"] == "group=default; min=1800; sec=29"


@pytest.mark.vcr
@pytest.mark.default_cassette("all_cancelled.yaml")
async def test_all_cancelled_async(sandbox: Sandbox) -> None:
    ids = [demo_uuid(f"demo-{n:04d}") for n in (1, 2, 3)]
    async with sdk_client(sandbox) as client:
        response = await cancel_orders_by_ids.asyncio_detailed(client=client, uuids=ids)
    result = unwrap(response)
    assert [order.identifier for order in result.success.orders] == ["demo-0001", "demo-0002", "demo-0003"]


@pytest.mark.vcr
@pytest.mark.default_cassette("partial_failure.yaml")
def test_partial_failure(sandbox: Sandbox) -> None:
    ids = [demo_uuid("demo-0004"), demo_uuid("demo-filled-0001"), demo_uuid("demo-cancelled-0001"), UNKNOWN_UUID]
    with sdk_client(sandbox) as client:
        result = unwrap(cancel_orders_by_ids.sync_detailed(client=client, uuids=ids))
    assert [order.identifier for order in result.success.orders] == ["demo-0004"]
    assert result.failed.count == 3
    assert [(order.uuid, order.market) for order in result.failed.orders] == [
        (ids[1], "KRW-XRP"),
        (ids[2], "KRW-ETH"),
        (UNKNOWN_UUID, ""),
    ]
    assert result.failed.orders[2].identifier is None


@pytest.mark.vcr
@pytest.mark.default_cassette("by_identifiers.yaml")
def test_by_identifiers(sandbox: Sandbox) -> None:
    with sdk_client(sandbox) as client:
        response = cancel_orders_by_ids.sync_detailed(
            client=client, identifiers=["demo-0005", "demo-0006", "no-such-order"]
        )
    assert response.status_code == 200
    result = unwrap(response)
    assert [order.identifier for order in result.success.orders] == ["demo-0005", "demo-0006"]
    assert [order.uuid for order in result.success.orders] == [demo_uuid("demo-0005"), demo_uuid("demo-0006")]
    assert [(order.uuid, order.market, order.identifier) for order in result.failed.orders] == [
        ("", "", "no-such-order")
    ]


@pytest.mark.vcr
@pytest.mark.default_cassette("validation_error.yaml")
def test_validation_error_for_21_ids_sent_raw(sandbox: Sandbox) -> None:
    ids = [demo_uuid(f"bulk-{n:02d}") for n in range(21)]
    # The SDK refuses 21 ids before sending anything ...
    with sdk_client(sandbox) as client, pytest.raises(InvalidRequest):
        cancel_orders_by_ids.sync_detailed(client=client, uuids=ids)
    # ... so the exchange's own answer is recorded from plain httpx, signed by the same auth hook.
    with httpx.Client(base_url=sandbox.url, auth=UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)) as http:
        response = http.delete(ENDPOINT_PATH, params={"uuids[]": ids})
    assert response.status_code == 400
    error = UpbitError.from_dict(response.json())
    assert error.error.name == "validation_error"
    assert "20" in error.error.message
    typed = error_from_response(response.status_code, error.error.name, error.error.message)
    assert type(typed) is UpbitAPIError


@pytest.mark.vcr
@pytest.mark.default_cassette("bad_signature.yaml")
def test_bad_signature(sandbox: Sandbox) -> None:
    with sdk_client(sandbox, secret=OTHER_SECRET) as client:
        response = cancel_orders_by_ids.sync_detailed(client=client, uuids=[demo_uuid("demo-0007")])
    assert response.status_code == 401
    assert isinstance(response.parsed, UpbitError)
    assert response.parsed.error.name == "jwt_verification"
    with pytest.raises(AuthenticationError) as raised:
        unwrap(response)
    assert (raised.value.status, raised.value.name) == (401, "jwt_verification")
    if sandbox.exchange is not None:
        assert sandbox.exchange.order(demo_uuid("demo-0007")).state == "wait"


@pytest.mark.vcr
@pytest.mark.default_cassette("rate_limited.yaml")
def test_rate_limited(sandbox: Sandbox) -> None:
    if sandbox.exchange is not None:
        # Spend 29 of the 30 in-process (unrecorded), so the cassette holds only the last 200 and the 429.
        for _ in range(29):
            assert signed_call(sandbox.exchange, wire_query("uuids", [str(uuid.uuid4())])).status == 200
    with sdk_client(sandbox) as client:
        last = cancel_orders_by_ids.sync_detailed(client=client, uuids=[demo_uuid("demo-0008")])
        limited = cancel_orders_by_ids.sync_detailed(client=client, uuids=[demo_uuid("demo-0009")])
    assert unwrap(last).success.count == 1
    assert last.headers["Remaining-Req"] == "group=default; min=1800; sec=0"
    assert limited.status_code == 429
    assert limited.headers["Remaining-Req"] == "group=default; min=1800; sec=0"
    with pytest.raises(RateLimited) as raised:
        unwrap(limited)
    assert raised.value.name == "too_many_requests"


def test_every_cassette_is_recorded() -> None:
    assert sorted(path.name for path in CASSETTE_DIR.glob("*.yaml")) == sorted(CASSETTES)


@pytest.mark.parametrize("name", CASSETTES)
def test_cassettes_hold_no_credentials(name: str) -> None:
    text = (CASSETTE_DIR / name).read_text(encoding="utf-8")
    assert "eyJ" not in text  # the start of every JWT
    assert "Bearer" not in text
    assert "authorization" not in text.lower()
    assert DEMO_SECRET_KEY not in text
    assert OTHER_SECRET not in text
    assert RECORDED_ORIGIN in text
    assert "127.0.0.1" not in text

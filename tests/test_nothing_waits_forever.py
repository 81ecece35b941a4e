"""Nothing waits forever: against a server that accepts and never answers, every path returns on time.

Guarantee under test (docs/guarantees.md, "Nothing waits forever"): the generated ``Client`` has a
finite timeout by default; the sync batch honours ``timeout_total`` like the async one (it returns
within ``timeout_total`` plus one second whatever the server does), the confirm phase included.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.conftest import new_exchange
from tests.faults import LoseAnswer, Stall, always, assert_every_id_once, first
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel import BatchResult, cancel_orders, cancel_orders_async
from upbit_cancel.ratelimit import RateLimiter
from upbit_client import AuthenticatedClient, Client
from upbit_client.api.order import cancel_orders_by_ids

SILENCE = 30.0  # longer than any test waits: the server stops (and lets go) when the test ends
# The promise is timeout_total plus one second of the SDK's own work. On a loaded 2-core machine (the
# suite runs on two workers, beside mypy and the generator) the test's process may wait that long
# again for a CPU: the bound allows it, and stays far below the server's silence.
LOADED_MACHINE_SLACK = 2.0


def test_the_generated_clients_have_a_finite_timeout_by_default() -> None:
    for client in (
        Client(base_url="http://127.0.0.1:9"),
        AuthenticatedClient(base_url="http://127.0.0.1:9", token="t"),
    ):
        for http in (client.get_httpx_client(), client.get_async_httpx_client()):
            timeout = http.timeout
            assert None not in (timeout.connect, timeout.read, timeout.write, timeout.pool)
            assert timeout.read == 5.0


def test_a_single_call_with_a_short_client_timeout_gives_up_on_a_silent_server(serve: Any) -> None:
    exchange, ids = new_exchange(1)
    server = serve(always(Stall(SILENCE)), exchange)
    started = time.monotonic()
    with Client(base_url=server.url, timeout=httpx.Timeout(0.5)) as client, pytest.raises(httpx.ReadTimeout):
        cancel_orders_by_ids.sync_detailed(client=client, uuids=ids)
    assert time.monotonic() - started < 2.0


def silent_batch(mode: str, url: str, ids: list[str], **options: Any) -> tuple[BatchResult, float]:
    # A client that would wait forever on its own: only timeout_total can end the batch.
    client = Client(base_url=url, timeout=None, httpx_args={"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)})
    options.setdefault("limiter", RateLimiter("default", None))
    started = time.monotonic()
    if mode == "sync":
        with client:
            result = cancel_orders(client, uuids=ids, **options)
    else:

        async def go() -> BatchResult:
            async with client:
                return await cancel_orders_async(client, uuids=ids, **options)

        result = asyncio.run(go())
    return result, time.monotonic() - started


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_batch_returns_within_timeout_total_plus_a_second_on_a_silent_server(mode: str, serve: Any) -> None:
    exchange, ids = new_exchange(40)
    server = serve(always(Stall(SILENCE)), exchange)
    result, elapsed = silent_batch(mode, server.url, ids, timeout_total=2.0)
    assert elapsed <= 2.0 + 1.0 + LOADED_MACHINE_SLACK, f"took {elapsed:.2f}s"
    assert_every_id_once(result, ids)
    assert not result.success and not result.failed
    # Whatever was sent may have been applied (unconfirmed); what never went out is not_sent.
    assert result.unconfirmed
    assert {order.error.name for order in result.unconfirmed} == {"timeout_total"}
    assert server.count >= 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_confirm_phase_is_bounded_by_timeout_total_too(mode: str, serve: Any) -> None:
    """The cancel is carried out but its answer is lost; the order lookup then meets a silent server."""
    exchange, ids = new_exchange(3)
    server = serve(first(1, LoseAnswer(), then=Stall(SILENCE)), exchange)
    result, elapsed = silent_batch(mode, server.url, ids, timeout_total=1.0, max_tries=1)
    assert elapsed <= 1.0 + 1.0 + LOADED_MACHINE_SLACK, f"took {elapsed:.2f}s"
    assert [request.method for request in server.requests] == ["DELETE", "GET"]
    assert [order.id for order in result.unconfirmed] == ids
    assert all("order lookup" in order.error.message for order in result.unconfirmed)


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_a_timeout_total_that_could_never_end_or_never_start_is_refused_before_sending(bad: float) -> None:
    exchange, ids = new_exchange(1)
    client = Client(base_url="https://api.upbit.com", httpx_args={"transport": exchange.transport()})
    with client, pytest.raises(ValueError, match=r"timeout_total must be a positive, finite number.*given"):
        cancel_orders(client, uuids=ids, timeout_total=bad)
    assert exchange.requests == []


def test_the_sync_batch_leaves_the_callers_client_timeout_as_it_was() -> None:
    seen: list[dict[str, float | None]] = []
    exchange, ids = new_exchange(2)
    sandbox = exchange.transport()

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return sandbox.handle_request(request)

    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    timeout = httpx.Timeout(7.0)
    with Client(
        base_url="https://api.upbit.com",
        timeout=timeout,
        httpx_args={"auth": auth, "transport": httpx.MockTransport(spy)},
    ) as client:
        cancel_orders(client, uuids=ids[:1], timeout_total=2.0, limiter=RateLimiter("default", None))
        cancel_orders_by_ids.sync_detailed(client=client, uuids=ids[1:])
        assert client.get_httpx_client().timeout == timeout
    # Inside the batch the request was bounded by what was left of timeout_total; outside it, untouched.
    assert all(value is not None and value <= 2.0 for value in seen[0].values())
    assert seen[1] == {"connect": 7.0, "read": 7.0, "write": 7.0, "pool": 7.0}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("bad", [0, -2])
def test_a_max_in_flight_below_one_is_refused_before_sending(mode: str, bad: int) -> None:
    exchange, ids = new_exchange(1)
    client = Client(base_url="https://api.upbit.com", httpx_args={"transport": exchange.transport()})
    with client, pytest.raises(ValueError, match=rf"max_in_flight must be at least 1 or None; given: {bad}"):
        if mode == "sync":
            cancel_orders(client, uuids=ids, max_in_flight=bad)
        else:
            asyncio.run(cancel_orders_async(client, uuids=ids, max_in_flight=bad))
    assert exchange.requests == []

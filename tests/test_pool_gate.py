"""An async batch lets one request at a time into the connection pool, and the next once the first is on the wire.

httpcore's async pool hands every request arriving before the previous one has started the same idle
connection; all but one then find it busy and start over, each start-over scanning the whole pool (issue 16:
about three per request at a window boundary, most of the client's CPU there). ``pool_gate`` prevents it.
These tests hold what the gate must never cost: requests still fly together (the gate opens when a request
is on the wire, not when it is answered), a request failing before the wire does not hold the gate, and a
batch cancelled while requests wait for their turn sends none of them and gives their permits back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import UUIDS_PER_CANCEL as N
from upbit_cancel import BatchCancelled, cancel_orders_async, connect, reading
from upbit_cancel.pool_gate import PoolGate
from upbit_cancel.ratelimit import RateLimiter
from upbit_client import Client
from upbit_sandbox import SandboxExchange, running_server


def sandbox(count: int, latency: float = 0.0) -> tuple[SandboxExchange, list[str]]:
    exchange = SandboxExchange(
        credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None, latency=latency
    )
    return exchange, [exchange.add_order(f"o-{n:05d}").uuid for n in range(count)]


@pytest.fixture
def served() -> Iterator[tuple[SandboxExchange, list[str], str]]:
    exchange, ids = sandbox(5 * N)
    with running_server(exchange) as url:
        yield exchange, ids, url


def http_client(url: str, hooks: dict[str, list[object]] | None = None, read_timeout: float = 5.0) -> Client:
    """A connect() client over loopback HTTP: its own network, so the batch uses the gate."""
    return connect(
        url,
        access_key=TEST_ACCESS_KEY,
        secret_key=TEST_SECRET_KEY,
        timeout=httpx.Timeout(read_timeout),
        httpx_args={"event_hooks": hooks or {}},
    )


# --- the gate itself ----------------------------------------------------------------------------------


async def test_the_second_turn_comes_only_once_the_first_is_released_and_releasing_twice_frees_one() -> None:
    gate = PoolGate()
    first = await gate.turn(1.0)
    second = asyncio.ensure_future(gate.turn(5.0))
    third = asyncio.ensure_future(gate.turn(5.0))
    await asyncio.sleep(0.01)
    assert first is not None and not second.done()
    first.release()
    first.release()  # a second release of the same turn must not let the third in too
    got = await second
    await asyncio.sleep(0.01)
    assert got is not None and not third.done()
    got.release()
    assert await third is not None


async def test_a_turn_that_does_not_come_in_time_is_none_and_holds_nothing() -> None:
    gate = PoolGate()
    first = await gate.turn(1.0)
    assert await gate.turn(0.02) is None
    assert first is not None
    first.release()
    assert await gate.turn(0.02) is not None


async def test_a_task_cancelled_while_waiting_for_its_turn_holds_none() -> None:
    gate = PoolGate()
    first = await gate.turn(1.0)
    waiting = asyncio.ensure_future(gate.turn(5.0))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert first is not None
    first.release()
    assert await gate.turn(0.02) is not None


async def test_the_stream_tells_once_per_request_when_it_is_on_the_wire_on_a_new_or_a_kept_connection(
    served: tuple[SandboxExchange, list[str], str],
) -> None:
    _, _, url = served
    calls: list[int] = []
    async with http_client(url) as client:
        http = client.get_async_httpx_client()
        assert reading.install(http)
        for request in range(3):  # the first connects, the others reuse the connection
            with reading.bounded(5.0, on_wire=lambda request=request: calls.append(request)):
                await http.get("/v1/orders/uuids")
    assert calls == [0, 1, 2]


def test_a_mock_transport_does_not_report_the_wire() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    reading.install(http)
    assert not reading.install(http)


# --- the batch with the gate --------------------------------------------------------------------------


async def test_requests_of_an_async_batch_are_in_flight_together_not_one_after_another() -> None:
    """The gate opens when a request is on the wire: all five go out before the first answer (1 s away) comes."""
    exchange, ids = sandbox(5 * N, latency=1.0)
    events: list[str] = []

    async def sent(request: httpx.Request) -> None:
        events.append("sent")

    async def answered(response: httpx.Response) -> None:
        events.append("answered")

    with running_server(exchange) as url:
        async with http_client(url, {"request": [sent], "response": [answered]}) as client:
            result = await cancel_orders_async(
                client, uuids=ids, limiter=RateLimiter("default", None), max_in_flight=5, confirm=False
            )
    assert result.all_cancelled and len(result.success) == 5 * N
    assert events == ["sent"] * 5 + ["answered"] * 5


async def test_a_request_failing_before_it_reaches_the_wire_lets_the_next_ones_in(
    served: tuple[SandboxExchange, list[str], str],
) -> None:
    exchange, ids, url = served
    calls = 0

    async def fail_the_first(request: httpx.Request) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a hook that fails")

    async with http_client(url, {"request": [fail_the_first]}) as client:
        result = await cancel_orders_async(
            client, uuids=ids, limiter=RateLimiter("default", None), max_in_flight=5, confirm=False, timeout_total=20
        )
    assert len(result.unconfirmed) == N and result.unconfirmed[0].error.name == "client_error"
    assert len(result.success) == 4 * N and len(exchange.requests) == 4


async def test_a_batch_cancelled_while_requests_wait_for_their_turn_sends_none_of_them_and_gives_permits_back(
    served: tuple[SandboxExchange, list[str], str],
) -> None:
    exchange, ids, url = served
    limiter = RateLimiter("default", None)
    entered = asyncio.Event()

    async def hold_the_first(request: httpx.Request) -> None:
        # Runs inside the gate (after signing, before the pool): the other four wait for their turn.
        if not entered.is_set():
            entered.set()
            await asyncio.Event().wait()

    async with http_client(url, {"request": [hold_the_first]}, read_timeout=0.1) as client:
        task = asyncio.create_task(cancel_orders_async(client, uuids=ids, limiter=limiter, max_in_flight=5))
        await entered.wait()
        while limiter.in_flight < 5:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(BatchCancelled) as cancelled:
            await task
    report = cancelled.value.report
    assert exchange.requests == []
    assert [order.id for order in report.not_sent] == ids[N:]
    assert [order.id for order in report.unconfirmed] == ids[:N]  # the held one: whether it left is not known
    assert limiter.in_flight == 0

"""The async batch and sweep on both of anyio's event loops, asyncio and trio: cancelled, they still report.

Rule under test (docs/outcomes.md, "Stopping an async batch"): cancelling an async batch or sweep, by the
task or by an enclosing cancel scope, stops sending, lets requests in flight be answered (within the
grace), and hands the partial report, every id once, to ``report_to`` before the cancellation goes on.
Under asyncio the cancellation goes on as ``BatchCancelled`` (an ``asyncio.CancelledError``) carrying the
report; under trio as trio's own ``Cancelled``, which no library may replace with another exception type.
Each test runs once per loop (``anyio_backend`` in tests/conftest.py).
"""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

from tests.faults import assert_every_id_once
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import UUIDS_PER_CANCEL as N
from upbit_auth import UpbitAuth
from upbit_cancel import BatchCancelled, BatchResult, cancel_open_orders_async, cancel_orders_async
from upbit_cancel.ratelimit import RateLimiter
from upbit_client import Client
from upbit_sandbox import SandboxExchange
from upbit_sandbox.book import seed_open_orders

pytestmark = pytest.mark.anyio


class Slow(httpx.AsyncBaseTransport):
    """The sandbox's transport, each request taking ``seconds`` (slept through anyio: any event loop)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await anyio.sleep(self.seconds)
        return await self.inner.handle_async_request(request)


def exchange_with(count: int) -> tuple[SandboxExchange, list[str]]:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    return exchange, [exchange.add_order(f"o-{n:05d}").uuid for n in range(count)]


def slow_client(exchange: SandboxExchange, seconds: float) -> Client:
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    transport = Slow(exchange.transport(), seconds)
    return Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": transport})


def cancellation_of(anyio_backend: str) -> type[BaseException]:
    """What a cancelled batch raises on this loop."""
    return BatchCancelled if anyio_backend == "asyncio" else BaseException


async def test_a_batch_runs_to_the_end_and_hands_its_report_to_report_to(anyio_backend: str) -> None:
    exchange, ids = exchange_with(3 * N)
    reports: list[BatchResult] = []
    async with slow_client(exchange, 0.0) as client:
        result = await cancel_orders_async(client, uuids=ids, report_to=reports.append)
    assert reports == [result]
    assert [order.uuid for order in result.success] == ids and not result.interrupted


async def test_a_cancelled_batch_answers_in_flight_then_hands_the_partial_report_over_and_stays_cancelled(
    anyio_backend: str,
) -> None:
    exchange, ids = exchange_with(10 * N)
    reports: list[BatchResult] = []
    raised: list[BaseException] = []
    async with slow_client(exchange, 0.3) as client:
        started = time.monotonic()
        with anyio.move_on_after(0.15) as scope:
            try:
                await cancel_orders_async(
                    client,
                    uuids=ids,
                    limiter=RateLimiter("default", 2, async_sleep=anyio.sleep),
                    max_in_flight=2,
                    report_to=reports.append,
                )
            except BaseException as exc:
                raised.append(exc)
                raise
        waited = time.monotonic() - started
    assert scope.cancelled_caught, "the cancellation went on to the scope that asked for it"
    assert len(raised) == 1 and isinstance(raised[0], anyio.get_cancelled_exc_class())
    assert isinstance(raised[0], BatchCancelled) == (anyio_backend == "asyncio")
    [report] = reports
    assert report.interrupted
    assert_every_id_once(report, ids)
    # The two requests in flight were answered within the grace: their orders are in the report.
    assert [order.uuid for order in report.success] == ids[: 2 * N]
    assert [order.id for order in report.not_sent] == ids[2 * N :]
    if isinstance(raised[0], BatchCancelled):
        assert raised[0].report is report
    assert waited < 1.5


async def test_a_batch_cancelled_before_it_starts_sends_nothing_and_reports_every_id_not_sent(
    anyio_backend: str,
) -> None:
    exchange, ids = exchange_with(2 * N)
    reports: list[BatchResult] = []
    async with slow_client(exchange, 0.0) as client:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await cancel_orders_async(client, uuids=ids, report_to=reports.append)
    [report] = reports
    assert report.interrupted and report.requests_sent == 0
    assert [order.id for order in report.not_sent] == ids
    assert not exchange.requests


async def test_a_cancelled_sweep_hands_its_partial_report_over_with_every_listed_order_once(
    anyio_backend: str,
) -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    orders = seed_open_orders(exchange, 90, markets=("KRW-BTC",))  # one page: one listing
    reports: list[BatchResult] = []
    async with slow_client(exchange, 0.2) as client:
        # The listing takes 0.2 s; the cancel scope ends while the first cancels are in flight.
        with anyio.move_on_after(0.5) as scope:
            await cancel_open_orders_async(
                client,
                limiter=RateLimiter("default", 2, async_sleep=anyio.sleep),
                max_in_flight=2,
                report_to=reports.append,
            )
    assert scope.cancelled_caught
    [report] = reports
    assert report.interrupted and report.listings_sent == 1
    assert_every_id_once(report, [order.uuid for order in orders])
    assert report.success and report.not_sent


async def test_a_report_to_that_raises_costs_nothing_but_a_logged_warning(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    exchange, ids = exchange_with(N)

    def broken(report: BatchResult) -> None:
        raise RuntimeError("a broken sink")

    async with slow_client(exchange, 0.0) as client:
        result = await cancel_orders_async(client, uuids=ids, report_to=broken)
    assert [order.uuid for order in result.success] == ids
    assert "report_to callback raised; ignored" in caplog.text

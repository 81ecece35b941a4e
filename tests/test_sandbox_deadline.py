"""The sandbox's in-process latency honours the client's deadline, as a network would (issue 24, item 5).

A latency fault of 10 s against ``timeout_total=1.0`` (or a 1 s timeout on a single call) must end the
call after about 1 s: the in-process transport waits out the request's read timeout, which ``connect()``
narrows to what is left of ``timeout_total``, then raises ``httpx.ReadTimeout``. The exchange carried the
request out all the same (as a server the client gave up on would) and logs it with no status. Bounds on
time are generous (the machines are loaded); a transport that slept the whole fault would take 10 s.
"""

from __future__ import annotations

import time

import httpx
import pytest

from upbit_auth import UpbitAuth
from upbit_cancel import cancel_orders, cancel_orders_async, connect
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, demo_uuid

LATENCY = 10.0
"""Far past the deadline: a transport that ignored the deadline would hold the test this long."""
DEADLINE = 1.0
SLACK = 3.0
"""Generous: the promise is "by about the deadline", and the only other outcome is the whole LATENCY."""


def carried_out_without_an_answer(exchange: SandboxExchange, label: str) -> None:
    assert exchange.order(demo_uuid(label)).state == "cancel"
    assert [(record.status, record.fault) for record in exchange.requests][:1] == [(None, "latency")]


def test_a_sync_batch_on_the_fixture_returns_by_its_timeout_total_under_a_latency_fault(
    upbit_exchange: SandboxExchange, upbit_client: Client
) -> None:
    upbit_exchange.faults.latency(LATENCY)
    started = time.monotonic()
    report = cancel_orders(upbit_client, identifiers=["demo-0001"], timeout_total=DEADLINE)
    took = time.monotonic() - started
    assert took < DEADLINE + SLACK, f"returned after {took:.2f}s with timeout_total={DEADLINE}"
    assert not report.all_cancelled  # no answer arrived in time: the order's fate is not known to the report
    carried_out_without_an_answer(upbit_exchange, "demo-0001")


def test_a_sync_single_call_on_the_fixture_times_out_at_its_read_timeout(
    upbit_exchange: SandboxExchange, upbit_client: Client
) -> None:
    upbit_exchange.faults.latency(LATENCY)
    client = upbit_client.with_timeout(httpx.Timeout(DEADLINE))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout, match="read timeout of 1s"):
        cancel_orders_by_ids.sync_detailed(client=client, identifiers=["demo-0002"])
    assert time.monotonic() - started < DEADLINE + SLACK
    carried_out_without_an_answer(upbit_exchange, "demo-0002")


@pytest.mark.anyio
async def test_an_async_batch_on_the_fixture_returns_by_its_timeout_total_on_either_loop(
    upbit_exchange: SandboxExchange, upbit_async_client: Client, anyio_backend: str
) -> None:
    upbit_exchange.faults.latency(LATENCY)
    started = time.monotonic()
    report = await cancel_orders_async(upbit_async_client, identifiers=["demo-0003"], timeout_total=DEADLINE)
    assert time.monotonic() - started < DEADLINE + SLACK
    assert not report.all_cancelled
    carried_out_without_an_answer(upbit_exchange, "demo-0003")


@pytest.mark.anyio
async def test_an_async_single_call_on_the_fixture_times_out_at_its_read_timeout_on_either_loop(
    upbit_exchange: SandboxExchange, upbit_async_client: Client, anyio_backend: str
) -> None:
    upbit_exchange.faults.latency(LATENCY)
    client = upbit_async_client.with_timeout(httpx.Timeout(DEADLINE))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await cancel_orders_by_ids.asyncio_detailed(client=client, identifiers=["demo-0004"])
    assert time.monotonic() - started < DEADLINE + SLACK
    carried_out_without_an_answer(upbit_exchange, "demo-0004")


def test_the_exchanges_standing_latency_past_the_read_timeout_times_out_too() -> None:
    """``SandboxExchange(latency=...)`` delays the request on its way in: past the read timeout the client
    gives up before it arrives, on a bare generated client as on a ``connect()`` one."""
    exchange = SandboxExchange(latency=LATENCY, rate_limit_per_second=None)
    exchange.seed_demo_orders(open_orders=2)
    auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    client = Client(
        base_url="https://api.upbit.com",
        timeout=httpx.Timeout(DEADLINE),
        httpx_args={"auth": auth, "transport": exchange.transport()},
    )
    started = time.monotonic()
    with client, pytest.raises(httpx.ReadTimeout):
        cancel_orders_by_ids.sync_detailed(client=client, identifiers=["demo-0001"])
    assert time.monotonic() - started < DEADLINE + SLACK
    carried_out_without_an_answer(exchange, "demo-0001")


def test_an_answer_held_back_less_than_the_read_timeout_still_arrives() -> None:
    exchange = SandboxExchange(rate_limit_per_second=None)
    exchange.seed_demo_orders(open_orders=2)
    exchange.faults.latency(0.2)
    with connect(
        "https://api.upbit.com",
        access_key=DEMO_ACCESS_KEY,
        secret_key=DEMO_SECRET_KEY,
        timeout=5.0,
        httpx_args={"transport": exchange.transport()},
    ) as client:
        assert cancel_orders(client, identifiers=["demo-0001"], timeout_total=5.0).all_cancelled
    assert [(record.status, record.fault) for record in exchange.requests] == [(200, "latency")]

"""The batch cancel against the verifying sandbox exchange (in-process transport and loopback HTTP server)."""

from __future__ import annotations

import asyncio
import math
from collections import Counter

import httpx
import pytest

from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders, cancel_orders_async
from upbit_cancel.results import BatchResult
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import SandboxExchange, running_server

MAX_ITEMS = next(rule.max_items for rule in cancel_orders_by_ids.QUERY_RULES if rule.python_name == "uuids") or 1
PER_SECOND = cancel_orders_by_ids.RATE_LIMIT.per_second if cancel_orders_by_ids.RATE_LIMIT else 30


def sandbox(latency: float = 0.0) -> SandboxExchange:
    return SandboxExchange(
        credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=PER_SECOND, latency=latency
    )


def client_for(exchange: SandboxExchange, secret: str = TEST_SECRET_KEY) -> Client:
    auth = UpbitAuth(TEST_ACCESS_KEY, secret)
    return Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": exchange.transport()})


def statuses(exchange: SandboxExchange) -> Counter[int]:
    return Counter(record.status for record in exchange.requests)


async def test_1000_orders_in_50_requests_without_a_429_on_an_exchange_clock_ahead_of_ours() -> None:
    # How fast is for ``make bench`` (docs/benchmarks.md), not for a unit test on a shared machine.
    exchange = sandbox(latency=0.02)
    exchange.clock.offset = 0.7
    ids = [exchange.add_order().uuid for _ in range(1000)]
    async with client_for(exchange) as client:
        result = await cancel_orders_async(client, uuids=ids)
    assert statuses(exchange) == Counter({200: math.ceil(1000 / MAX_ITEMS)})
    assert len(result.success) == 1000 and result.all_cancelled
    assert result.rate_limited == 0 and result.retries == 0
    assert {order.state for order in exchange.orders()} == {"cancel"}


def test_sync_batch_is_paced_by_the_limiter_without_a_429() -> None:
    exchange = sandbox()
    ids = [exchange.add_order().uuid for _ in range((PER_SECOND + 5) * MAX_ITEMS)]
    with client_for(exchange) as client:
        result = cancel_orders(client, uuids=ids)
    assert statuses(exchange) == Counter({200: PER_SECOND + 5})
    assert len(result.success) == len(ids)
    assert result.remaining_req is not None and result.remaining_req.group == "default"


def mixed_book(exchange: SandboxExchange) -> list[str]:
    identifiers = []
    for index in range(3 * MAX_ITEMS + 4):
        state = "done" if index % 5 == 0 else "cancel" if index % 7 == 0 else "wait"
        identifiers.append(exchange.add_order(identifier=f"client-{index}", state=state).identifier or "")
    return [*identifiers, "client-unknown", "client-1", "client-2"]


def test_sync_and_async_give_the_same_report_on_the_sandbox() -> None:
    reports = []
    for mode in ("sync", "async"):
        exchange = sandbox()
        given = mixed_book(exchange)
        result: BatchResult
        if mode == "sync":
            with client_for(exchange) as client:
                result = cancel_orders(client, identifiers=given)
        else:

            async def go(exchange: SandboxExchange = exchange, given: list[str] = given) -> BatchResult:
                async with client_for(exchange) as client:
                    return await cancel_orders_async(client, identifiers=given)

            result = asyncio.run(go())
        # uuids are random per book: compare what identifies an order across the two books.
        report = result.to_dict()
        for group in ("success", "failed"):
            for order in report[group]["orders"]:
                order.pop("uuid")
        reports.append(report)
    assert reports[0] == reports[1]
    assert reports[0]["success"]["count"] > 0 and reports[0]["failed"]["count"] > 0
    total = sum(reports[0][group]["count"] for group in ("success", "failed", "unconfirmed"))
    assert total == len(set(given))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_wrong_secret_is_reported_once_per_chunk_and_never_retried(mode: str) -> None:
    exchange = sandbox()
    ids = [exchange.add_order().uuid for _ in range(2 * MAX_ITEMS)]
    client = client_for(exchange, secret="not-the-secret")
    if mode == "sync":
        with client:
            result = cancel_orders(client, uuids=ids)
    else:

        async def go() -> BatchResult:
            async with client:
                return await cancel_orders_async(client, uuids=ids)

        result = asyncio.run(go())
    assert statuses(exchange) == Counter({401: 2})
    # Refused whole: nothing applied (the orders are still open), so failed (rejected), not maybe cancelled.
    assert {order.error.name for order in result.failed if order.error} == {"jwt_verification"}
    assert {order.reason for order in result.failed} == {"rejected"}
    assert len(result.failed) == len(ids)
    assert {order.state for order in exchange.orders()} == {"wait"}


async def test_two_batches_of_one_key_share_the_second_budget() -> None:
    exchange = sandbox(latency=0.01)
    first = [exchange.add_order().uuid for _ in range(PER_SECOND * MAX_ITEMS)]
    second = [exchange.add_order().uuid for _ in range(PER_SECOND * MAX_ITEMS)]
    async with client_for(exchange) as one, client_for(exchange) as two:
        results = await asyncio.gather(cancel_orders_async(one, uuids=first), cancel_orders_async(two, uuids=second))
    assert statuses(exchange) == Counter({200: 2 * PER_SECOND})
    assert sum(len(result.success) for result in results) == 2 * PER_SECOND * MAX_ITEMS


def test_over_real_http_on_loopback() -> None:
    exchange = sandbox()
    ids = [exchange.add_order().uuid for _ in range(2 * MAX_ITEMS + 1)]
    with running_server(exchange) as url:
        auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
        with Client(base_url=url, timeout=httpx.Timeout(5.0), httpx_args={"auth": auth}) as client:
            result = cancel_orders(client, uuids=ids + ids[:3])
    assert [order.uuid for order in result.success] == ids
    assert statuses(exchange) == Counter({200: 3})

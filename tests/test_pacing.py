"""Single generated calls paced by one ``PacedTransport`` passed to the generated ``Client``."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders
from upbit_cancel.pacing import PacedTransport, operations
from upbit_cancel.ratelimit import KeyBlocked, limiter_for
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import SandboxExchange

BASE_URL = "https://api.upbit.com"


def sandbox(**options: float) -> SandboxExchange:
    return SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, **options)


def paced_client(transport: httpx.BaseTransport) -> Client:
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    return Client(base_url=BASE_URL, httpx_args={"auth": auth, "transport": PacedTransport(transport)})


def test_the_rate_limit_group_of_each_operation_comes_from_the_generated_registry() -> None:
    found = {(op.method, op.path.pattern): op.rate_limit for op in operations()}
    assert found[(cancel_orders_by_ids.METHOD, f"^{cancel_orders_by_ids.PATH}$")] == cancel_orders_by_ids.RATE_LIMIT
    paced = PacedTransport(httpx.MockTransport(lambda request: httpx.Response(200)))
    assert paced.rate_limit_for(httpx.Request("DELETE", f"{BASE_URL}/v1/orders/uuids?uuids[]=a")) is not None
    assert paced.rate_limit_for(httpx.Request("PUT", f"{BASE_URL}/v1/orders/uuids")) is None
    assert paced.rate_limit_for(httpx.Request("DELETE", f"{BASE_URL}/v1/other")) is None


def test_a_loop_of_single_calls_meets_no_429_on_an_exchange_whose_clock_runs_ahead() -> None:
    exchange = sandbox(clock_offset=0.7, latency=0.002)
    orders = [exchange.add_order().uuid for _ in range(45)]
    with paced_client(exchange.transport()) as client:
        statuses = [cancel_orders_by_ids.sync_detailed(client=client, uuids=[order]).status_code for order in orders]
    assert statuses == [200] * len(orders)
    assert len(exchange.orders("wait")) == 0
    # The calls used (and taught) the process-wide limiter of the key in the JWT.
    limiter = limiter_for(TEST_ACCESS_KEY, cancel_orders_by_ids.RATE_LIMIT)
    assert limiter.in_flight == 0 and limiter.phase.lo is not None


def test_concurrent_async_single_calls_share_the_budget() -> None:
    exchange = sandbox(latency=0.002)
    orders = [exchange.add_order().uuid for _ in range(45)]

    async def run() -> list[int]:
        async with paced_client(exchange.transport()) as client:
            answers = await asyncio.gather(
                *(cancel_orders_by_ids.asyncio_detailed(client=client, uuids=[order]) for order in orders)
            )
        return [answer.status_code for answer in answers]

    assert asyncio.run(run()) == [200] * len(orders)


def test_a_418_blocks_the_key_for_every_client_of_the_process_and_nothing_more_is_sent() -> None:
    seen: list[httpx.Request] = []

    def blocked(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"error": {"name": "too_many_requests_blocked", "message": "Blocked for 60 seconds."}}
        return httpx.Response(418, content=json.dumps(body).encode())

    with paced_client(httpx.MockTransport(blocked)) as client:
        assert cancel_orders_by_ids.sync_detailed(client=client, uuids=["a"]).status_code == 418
        with pytest.raises(KeyBlocked) as raised:
            cancel_orders_by_ids.sync_detailed(client=client, uuids=["b"])
    assert len(seen) == 1
    assert "nothing was sent" in str(raised.value)
    # A batch of the same key in the same process, on another client, sends nothing either.
    exchange = sandbox()
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    with Client(base_url=BASE_URL, httpx_args={"auth": auth, "transport": exchange.transport()}) as other:
        order_id = exchange.add_order().uuid
        result = cancel_orders(other, uuids=[order_id])
    assert exchange.requests == []
    assert result.blocked is not None and result.blocked.status == 418
    assert [order.id for order in result.not_sent] == [order_id]


def test_requests_of_operations_without_a_rate_limit_pass_unpaced() -> None:
    paced = PacedTransport(httpx.MockTransport(lambda request: httpx.Response(204)))
    with httpx.Client(transport=paced) as http:
        assert [http.get(f"{BASE_URL}/v1/ticker").status_code for _ in range(100)] == [204] * 100

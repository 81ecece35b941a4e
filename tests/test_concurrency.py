"""8 threads and 50 asyncio tasks cancelling through one shared client and one shared limiter.

Against the verifying sandbox with Upbit's 30 requests/s limit on: no nonce is ever reused (the
sandbox would answer ``nonce_used``; the nonces are also collected off the wire), the shared limiter
keeps the whole process within the budget (no 429 at all, so none beyond the bounded retries), and
every id of every batch is accounted for exactly once and cancelled.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter

import httpx
import jwt

from tests.faults import assert_every_id_once, reported_ids
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders, cancel_orders_async
from upbit_cancel.results import BatchResult
from upbit_client import Client
from upbit_sandbox import SandboxExchange, SandboxTransport


class NonceRecordingTransport(SandboxTransport):
    """The sandbox transport, noting the nonce of every request before the exchange sees it."""

    def __init__(self, exchange: SandboxExchange) -> None:
        super().__init__(exchange)
        self.nonces: list[str] = []
        self._lock = threading.Lock()

    def _note(self, request: httpx.Request) -> None:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        with self._lock:
            self.nonces.append(jwt.decode(token, options={"verify_signature": False})["nonce"])

    def sync_handler(self, request: httpx.Request) -> httpx.Response:
        self._note(request)
        return super().sync_handler(request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        self._note(request)
        return await super().async_handler(request)


def setup(batches: int, per_batch: int) -> tuple[SandboxExchange, NonceRecordingTransport, Client, list[list[str]]]:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=30, latency=0.005)
    ids = [[exchange.add_order(str(uuid.uuid4())).uuid for _ in range(per_batch)] for _ in range(batches)]
    transport = NonceRecordingTransport(exchange)
    client = Client(
        base_url="https://api.upbit.com",
        httpx_args={"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY), "transport": transport},
    )
    return exchange, transport, client, ids


def check(
    exchange: SandboxExchange, transport: NonceRecordingTransport, results: list[BatchResult], ids: list[list[str]]
) -> None:
    log = exchange.requests
    names = Counter(record.error_name for record in log)
    assert names["nonce_used"] == 0
    assert len(transport.nonces) == len(log)
    assert len(set(transport.nonces)) == len(transport.nonces), "a nonce was reused"
    assert names["too_many_requests"] == 0, f"the shared limiter let {names['too_many_requests']} requests hit 429"
    assert sum(result.rate_limited for result in results) == names["too_many_requests"]
    # The budget per whole second was never exceeded on the exchange's own clock.
    assert sum(result.requests_sent for result in results) == len(log)
    for result, batch_ids in zip(results, ids, strict=True):
        assert_every_id_once(result, batch_ids)
        assert len(result.success) == len(batch_ids)
    assert not exchange.orders("wait")


def test_eight_threads_share_one_client_and_limiter() -> None:
    exchange, transport, client, ids = setup(batches=8, per_batch=100)  # 40 requests: more than one second's budget
    results: list[BatchResult | None] = [None] * 8
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            results[index] = cancel_orders(client, uuids=ids[index], timeout_total=20.0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with client:
        threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors
    check(exchange, transport, [r for r in results if r is not None], ids)


def test_fifty_tasks_share_one_client_and_limiter() -> None:
    exchange, transport, client, ids = setup(batches=50, per_batch=20)  # 50 requests

    async def go() -> list[BatchResult]:
        async with client:
            return list(
                await asyncio.wait_for(
                    asyncio.gather(*(cancel_orders_async(client, identifiers=None, uuids=batch) for batch in ids)),
                    timeout=30,
                )
            )

    results = asyncio.run(go())
    check(exchange, transport, results, ids)


def test_threads_and_tasks_together_stay_within_the_budget() -> None:
    exchange, transport, client, ids = setup(batches=12, per_batch=60)  # 36 requests
    thread_ids, task_ids = ids[:4], ids[4:]
    thread_results: list[BatchResult] = []
    lock = threading.Lock()

    def work(batch: list[str]) -> None:
        result = cancel_orders(client, uuids=batch, timeout_total=20.0)
        with lock:
            thread_results.append(result)

    async def tasks() -> list[BatchResult]:
        return list(await asyncio.gather(*(cancel_orders_async(client, uuids=batch) for batch in task_ids)))

    threads = [threading.Thread(target=work, args=(batch,)) for batch in thread_ids]
    for thread in threads:
        thread.start()
    task_results = asyncio.run(tasks())
    for thread in threads:
        thread.join(timeout=30)
    client.get_httpx_client().close()
    assert len(thread_results) == len(thread_ids)
    by_ids = {frozenset(reported_ids(result)): result for result in thread_results}
    ordered = [by_ids[frozenset(batch)] for batch in thread_ids]
    check(exchange, transport, ordered + task_results, thread_ids + task_ids)

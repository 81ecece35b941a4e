"""Interruption never loses what was learned: Ctrl-C, SIGTERM and task cancellation give a partial report.

Guarantee under test (docs/guarantees.md, "Interruption"): in the library, Ctrl-C in the sync batch
raises ``BatchInterrupted`` (a ``KeyboardInterrupt``) and cancelling the async batch raises
``BatchCancelled`` (an ``asyncio.CancelledError``), each carrying ``.report`` with every id exactly
once: answered ids as answered, the request in flight unconfirmed (or answered, in async, when its
answer arrives within the grace), ids never sent under ``not_sent``. ``upbit-cancel`` stops sending
on SIGINT or SIGTERM (and the other signals of ``tests/test_report_always_out.py``'s table), prints the
report and exits 128 + the signal's number (130, 143).
"""

from __future__ import annotations

import _thread
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults import FaultyExchange, assert_every_id_once
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import UUIDS_PER_CANCEL as N
from upbit_auth import UpbitAuth
from upbit_cancel import BatchCancelled, BatchInterrupted, BatchResult, cancel_orders, cancel_orders_async
from upbit_cancel.ratelimit import RateLimiter
from upbit_client import Client
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, start_server

UPBIT_CANCEL = Path(sys.executable).parent / "upbit-cancel"


def sandbox(count: int, **options: Any) -> tuple[SandboxExchange, list[str]]:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None, **options)
    return exchange, [exchange.add_order(f"o-{n:05d}").uuid for n in range(count)]


def client_for(transport: httpx.BaseTransport | httpx.AsyncBaseTransport) -> Client:
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    return Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": transport})


def test_ctrl_c_in_the_sync_batch_raises_a_keyboard_interrupt_carrying_the_report() -> None:
    exchange, ids = sandbox(5 * N)

    def stop_after_two_chunks(done: int, total: int) -> None:
        if done == 2 * N:
            raise KeyboardInterrupt

    with client_for(exchange.transport()) as client, pytest.raises(KeyboardInterrupt) as caught:
        cancel_orders(
            client,
            uuids=ids,
            on_progress=stop_after_two_chunks,
            limiter=RateLimiter("default", None),
            max_in_flight=1,  # one chunk at a time: which ids were sent is exact
        )
    assert isinstance(caught.value, BatchInterrupted)
    report = caught.value.report
    assert report.interrupted
    assert_every_id_once(report, ids)
    assert [order.uuid for order in report.success] == ids[: 2 * N]
    assert [order.id for order in report.not_sent] == ids[2 * N :]
    assert not report.unconfirmed and not report.failed
    # Nothing was sent after the interrupt: the unsent orders are still open.
    assert {order.uuid for order in exchange.orders("wait")} == set(ids[2 * N :])
    assert f"{2 * N} cancelled" in str(caught.value) and f"{3 * N} not sent" in str(caught.value)


def test_ctrl_c_while_a_request_is_in_flight_leaves_that_chunk_unconfirmed() -> None:
    exchange, ids = sandbox(3 * N)
    faulty = FaultyExchange(exchange)

    def interrupt_mid_request(request: httpx.Request, process: Any) -> httpx.Response:
        process()  # the exchange acts; the user presses Ctrl-C before the answer is read
        raise KeyboardInterrupt

    faulty.faults.extend([lambda request, process: process(), interrupt_mid_request])
    limiter = RateLimiter("default", 30)
    with client_for(faulty.transport()) as client, pytest.raises(BatchInterrupted) as caught:
        cancel_orders(client, uuids=ids, limiter=limiter, max_in_flight=1)
    report = caught.value.report
    assert_every_id_once(report, ids)
    assert [order.uuid for order in report.success] == ids[:N]
    assert [order.id for order in report.unconfirmed] == ids[N : 2 * N]
    assert {order.error.name for order in report.unconfirmed} == {"interrupted"}
    assert [order.id for order in report.not_sent] == ids[2 * N :]
    # The interrupted request's permit was handed back: it does not hold the budget for minutes.
    assert limiter.in_flight == 0


def upbit_cancel_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("upbit-cancel-")]


def test_ctrl_c_stops_the_threaded_sync_batch_at_once_and_its_workers_soon_after() -> None:
    """Ctrl-C (SIGINT to the main thread) while worker threads have requests in flight and more wait."""
    exchange, ids = sandbox(1000, latency=1.0)  # every request sent is still in flight when Ctrl-C comes
    limiter = RateLimiter("default", 10)  # 10 a second: the batch would take 5 s
    progress_threads: set[int] = set()

    def on_progress(done: int, total: int) -> None:
        progress_threads.add(threading.get_ident())

    timer = threading.Timer(0.5, _thread.interrupt_main)
    with client_for(exchange.transport()) as client, pytest.raises(BatchInterrupted) as caught:
        timer.start()
        cancel_orders(client, uuids=ids, limiter=limiter, on_progress=on_progress)
    timer.join()
    report = caught.value.report
    assert report.interrupted
    assert_every_id_once(report, ids)
    assert report.unconfirmed, "requests were in flight when Ctrl-C came"
    assert {order.error.name for order in report.unconfirmed} == {"interrupted"}
    assert len(report.not_sent) > len(ids) // 2
    # Workers send nothing more and end once their request in flight is answered.
    deadline = time.monotonic() + 5.0
    while upbit_cancel_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not upbit_cancel_threads()
    assert limiter.in_flight == 0
    # What the report says was never sent was never sent: those orders are still open.
    assert {order.id for order in report.not_sent} <= {order.uuid for order in exchange.orders("wait")}
    assert progress_threads == {threading.get_ident()}, "on_progress runs in the calling thread"


async def test_a_cancelled_async_batch_hands_back_the_permits_of_requests_it_cut_off() -> None:
    """Requests in flight longer than the grace are cut off; their permits must not hold the budget for minutes."""
    exchange, ids = sandbox(600, latency=1.0)
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    limiter = RateLimiter("default", 30)
    # A read timeout of 0.05 s: the grace after cancelling (the sandbox's own latency ignores it).
    async with Client(
        base_url="https://api.upbit.com",
        timeout=httpx.Timeout(0.05),
        httpx_args={"auth": auth, "transport": exchange.transport()},
    ) as client:
        task = asyncio.create_task(cancel_orders_async(client, uuids=ids, limiter=limiter))
        while limiter.in_flight < 20:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert limiter.in_flight == 0


async def test_cancelling_the_async_batch_waits_for_answers_in_flight_and_carries_the_report() -> None:
    exchange, ids = sandbox(10 * N, latency=0.3)
    async with client_for(exchange.transport()) as client:
        report: BatchResult | None = None

        async def cancel_some() -> None:
            nonlocal report
            try:
                await cancel_orders_async(client, uuids=ids, limiter=RateLimiter("default", 2), max_in_flight=2)
            except BatchCancelled as cancelled:
                report = cancelled.report
                raise

        task = asyncio.create_task(cancel_some())
        await asyncio.sleep(0.15)  # two chunks in flight (0.3 s each), the rest waiting
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        waited = time.monotonic() - started
    assert report is not None and report.interrupted
    assert_every_id_once(report, ids)
    # The two requests in flight were allowed to finish: their answers are in the report.
    assert len(report.success) == 2 * N and [order.uuid for order in report.success] == ids[: 2 * N]
    assert [order.id for order in report.not_sent] == ids[2 * N :]
    assert waited < 1.0
    assert len(exchange.orders("cancel")) == 2 * N


def run_command(
    exchange: SandboxExchange, url: str, ids: list[str], tmp_path: Path, signum: int, after: int
) -> tuple[int, str, str]:
    """Run the command and send ``signum`` once the exchange has answered ``after`` requests."""
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}
    env |= {"UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY, "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY}
    argv = [str(UPBIT_CANCEL), "--uuids-from", str(tmp_path / "ids.txt"), "--json", "--server-url", url]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 20
    while len(exchange.requests) < after and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    child.send_signal(signum)
    out, err = child.communicate(timeout=30)
    return child.returncode, out, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_command_prints_the_report_and_exits_128_plus_the_signal_when_interrupted(
    tmp_path: Path, signum: int
) -> None:
    # 10 requests a second: 600 ids (30 chunks) take about 3 s; the signal comes after 12 answers.
    exchange = SandboxExchange(rate_limit_per_second=10)
    ids = [exchange.add_order(f"o-{n:05d}").uuid for n in range(600)]
    server, url = start_server(exchange)
    try:
        status, out, err = run_command(exchange, url, ids, tmp_path, signum, after=12)
    finally:
        server.stop()
    assert status == 128 + signum, err
    assert DEMO_SECRET_KEY not in out + err and "Traceback" not in err
    report = json.loads(out)
    groups = ("success", "failed", "unconfirmed", "not_sent")
    reported = [order["uuid"] for group in groups for order in report[group]["orders"]]
    assert sorted(reported) == sorted(ids)  # every id exactly once
    cancelled = {order.uuid for order in exchange.orders("cancel")}
    success = {order["uuid"] for order in report["success"]["orders"]}
    unconfirmed = {order["uuid"] for order in report["unconfirmed"]["orders"]}
    not_sent = {order["uuid"] for order in report["not_sent"]["orders"]}
    assert success and not_sent
    assert cancelled <= success | unconfirmed  # every order the exchange cancelled is reported as such
    assert not not_sent & cancelled  # what the report calls not sent is still open
    assert err.count("\n") == 1 and "interrupted" in err

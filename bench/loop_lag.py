"""Section 13 of ``make bench``: how long an async batch stalls the event loop it runs on.

A bot runs its batch beside other tasks (market data, heartbeats). A ticker task on the same loop
sleeps 2 ms again and again and records how late each wake-up is; beside it runs an async batch of
1,000 orders against the loopback sandbox (in its own process). A run's figure is its worst tick;
a cell's figure is the median of the runs' worst ticks (and the p99 of all ticks). Cells:

- no store (the limiter in memory);
- a Redis store on loopback;
- the same Redis behind a proxy that holds every chunk of its answers 20 ms: a store that answers
  each command 20 ms late. A limiter that waits on Redis on the loop shows it here.

Target (issue 22): the median worst tick <= 10 ms in every cell.

``python bench/loop_lag.py --proxy LISTEN_PORT TARGET_HOST:PORT DELAY_S`` is the delaying proxy,
run in a process of its own so it never competes with the measured loop for the GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

TICK = 0.002
"""Seconds the ticker sleeps between wake-ups."""
TARGET = 0.010
"""The median worst tick a cell may have (issue 22)."""
SLOW_STORE = 0.020
"""Seconds the slow store's proxy holds every chunk, each way."""


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(TICK)
        lags.append(max(0.0, loop.time() - before - TICK))


def _one_run(tools: ModuleType, url: str, uuids: list[str], store: str | None) -> tuple[list[float], Any]:
    """One async batch with the ticker beside it: (every tick's lag, the batch's result)."""
    from upbit_cancel import cancel_orders_async, connect

    # A connect() client, as users build it: its one transport (and the batch's pool gate with it).
    client = connect(url, access_key=tools.DEMO_ACCESS_KEY, secret_key=tools.DEMO_SECRET_KEY, timeout=10.0)

    async def run() -> tuple[list[float], Any]:
        lags: list[float] = []
        stop = asyncio.Event()
        async with client:
            client.get_async_httpx_client()
            ticker = asyncio.ensure_future(_ticker(lags, stop))
            await asyncio.sleep(0.05)  # the ticker is running before the batch starts
            lags.clear()
            try:
                result = await cancel_orders_async(client, uuids=uuids, rate_limit_store=store)
            finally:
                stop.set()
                await ticker
        return lags, result

    return asyncio.run(run())


@contextmanager
def _slow_proxy(target: str, delay: float) -> Iterator[str]:
    """``target`` (``redis://host:port/db``) behind a proxy process that holds every answer ``delay`` s."""
    match = re.match(r"redis://([^:/]+):(\d+)(/.*)?$", target)
    if match is None:
        raise SystemExit(f"bench: cannot put a proxy before {target!r}")
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--proxy", "0", f"{match[1]}:{match[2]}", repr(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip() or 0)
        if not port:
            raise SystemExit("bench: the delaying proxy did not start")
        yield f"redis://127.0.0.1:{port}{match[3] or '/0'}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def _cell(tools: ModuleType, label: str, store: str | None, runs: int, orders: int) -> None:
    worst: list[float] = []
    every: list[float] = []
    rate_limited = 0
    for _ in range(runs):
        with tools._sandbox(orders, rate_limit=tools.PER_SECOND) as (url, uuids):
            lags, result = _one_run(tools, url, uuids, store)
        worst.append(max(lags, default=0.0))
        every.extend(lags)
        rate_limited += result.rate_limited
    p99 = statistics.quantiles(every, n=100)[98] if len(every) >= 100 else max(every, default=0.0)
    verdict = "met" if statistics.median(worst) <= TARGET else "MISSED"
    each = ", ".join(f"{w * 1000:.0f}" for w in worst)
    tools._line(
        f"{label}",
        f"worst tick median {statistics.median(worst) * 1000:5.1f} ms (runs {each})"
        f"  p99 {p99 * 1000:4.1f} ms  429 {rate_limited}  target <= {TARGET * 1000:.0f} ms: {verdict}",
    )


def bench_loop_lag(tools: ModuleType, runs: int = 5, orders: int = 1000) -> None:
    """Section 13 (``tools`` is bench/run.py: its sandbox, Redis and line printer)."""
    print(f"\n13. event-loop lag beside an async batch of {orders:,} orders: a ticker sleeps {TICK * 1000:.0f} ms")
    print(f"    and records how late it wakes; per cell the median of {runs} runs' worst ticks, p99 of all ticks")
    _cell(tools, "no store", None, runs, orders)
    with tools._redis() as store_url:
        if store_url is None:
            tools._line("Redis store", "skipped: redis-server is not installed")
            return
        _cell(tools, "Redis store on loopback", store_url, runs, orders)
        with _slow_proxy(store_url, SLOW_STORE) as slow:
            _cell(tools, f"Redis store answering {SLOW_STORE * 1000:.0f} ms late", slow, runs, orders)


# --- the delaying proxy (its own process) ---------------------------------------------------------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Forward each chunk ``delay`` s after it arrived, in order (chunks keep flowing meanwhile)."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def later() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(later())
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay, data))
    queue.put_nowait((0.0, b""))
    with contextlib.suppress(ConnectionError):
        await sender


async def _proxy(port: int, target: str, delay: float) -> None:
    host, _, target_port = target.rpartition(":")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(target_port))
        await asyncio.gather(_pipe(reader, upstream_writer, 0.0), _pipe(upstream_reader, writer, delay))

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--proxy":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # no teardown: the bench is done with it
        asyncio.run(_proxy(int(sys.argv[2]), sys.argv[3], float(sys.argv[4])))
    else:
        raise SystemExit(__doc__)

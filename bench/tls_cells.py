"""Section 16 of ``make bench``: 1,000 orders over TLS through a link that delays every packet (issue 26).

The sandbox (``upbit-sandbox --tls`` / ``--http2``, a process of its own) sits behind its delaying
link (``--link-latency-ms RTT``: every chunk forwarded RTT/2 late each way, the TCP handshake charged
a round trip), so TCP and TLS handshakes pay round trips as over a real link. Cells, per round trip
(0, 20, 50, 100 ms) and per wire (plain HTTP/1.1, HTTP/1.1 over TLS, HTTP/2 over TLS), side by side:

- **fresh process**: a new Python process imports the SDK, ``connect()``s and cancels 1,000 orders
  (async); timed from spawn to exit;
- **new client**: a new ``connect()`` client in a warm process (fresh limiter), its first batch;
- **warm**: the next batch of that client, its connections kept alive;
- **idle**: the same client idle 6 s (past httpx's default 5 s keep-alive), then a batch.

Each run starts at another point of the exchange's second (clock 0.3 s off ours). floor = to the
exchange's window the last chunk needs + one round trip (a chunk reaches the exchange RTT/2 after it
leaves). Targets (issue 26): warm <= floor + 0.15 s + 2 RTT; idle <= floor + 0.15 s + 3 RTT; fresh
process <= floor + 1 s + 3 RTT; 0 x 429 everywhere. ``CLIENT`` (below) is how the bench builds a
client, so a variant (``warm=N``...) is measured by changing one place.

``python bench/tls_cells.py --fresh URL CA HTTP2 FIRST`` is the fresh process.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

OFFSET = 0.3
"""The exchange's clock runs this far ahead of ours (as in section 8)."""
IDLE = 6.0
"""Seconds the idle cell waits: past httpx's default keep-alive expiry of 5 s."""
WIRES = ("http", "https", "h2")
"""Plain HTTP/1.1, HTTP/1.1 over TLS (the stdlib server), HTTP/2 over TLS (hypercorn, ALPN)."""
CELLS = ("fresh process", "new client", "warm", "idle")
CLIENT_OPTIONS: dict[str, Any] = {}
"""Extra keywords for ``connect()`` in every cell (a variant under test)."""


def _client(url: str, ca: str | None, http2: bool) -> Any:
    from upbit_cancel import connect
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    httpx_args: dict[str, Any] = {}
    if ca:
        httpx_args["verify"] = ca
    if http2:
        httpx_args["http2"] = True
    return connect(
        url,
        access_key=DEMO_ACCESS_KEY,
        secret_key=DEMO_SECRET_KEY,
        timeout=10.0,
        httpx_args=httpx_args,
        **CLIENT_OPTIONS,
    )


def _ids(first: int, count: int = 1000) -> list[str]:
    from upbit_sandbox import demo_uuid

    return [demo_uuid(f"demo-{n:04d}") for n in range(first, first + count)]


def fresh(url: str, ca: str, http2: str, first: str) -> int:
    """``--fresh``: what a kill switch started from cold does: import, connect, cancel 1,000 orders, exit."""
    from upbit_cancel import cancel_orders_async

    client = _client(url, ca or None, http2 == "1")

    async def run() -> Any:
        async with client:
            return await cancel_orders_async(client, uuids=_ids(int(first)))

    result = asyncio.run(run())
    print(json.dumps({"429": result.rate_limited, "requests": result.requests_sent, "done": len(result.success)}))
    return 0


@contextmanager
def _sandbox(tools: ModuleType, wire: str, rtt: float, orders: int) -> Iterator[tuple[str, str]]:
    """``upbit-sandbox`` for ``wire`` behind a link of round trip ``rtt``: (URL, CA file or "")."""
    command = shutil.which("upbit-sandbox", path=str(Path(sys.executable).parent)) or "upbit-sandbox"
    options = {"http": [], "https": ["--tls"], "h2": ["--http2"]}[wire]
    server = subprocess.Popen(
        [
            command,
            *options,
            *("--port", "0", "--orders", str(orders), "--rate-limit", str(tools.PER_SECOND)),
            *("--clock-offset", repr(OFFSET), "--link-latency-ms", str(rtt * 1000)),
        ],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=tools._die_with_this_process,
    )
    try:
        assert server.stdout is not None
        head = "".join(server.stdout.readline() for _ in range(5 if wire == "http" else 6))
        url = re.search(r"listening on (https?://127\.0\.0\.1:\d+)", head)
        ca = re.search(r"CA certificate to trust: (\S+)", head)
        if url is None or (wire != "http" and ca is None):
            raise SystemExit(f"bench: upbit-sandbox did not start: {head!r}")
        tools.reset_limiters()
        yield url[1], ca[1] if ca else ""
    finally:
        server.terminate()
        server.wait(timeout=10)


def _floor(start: float, rtt: float, chunks: int, per_second: int) -> float:
    """Least wall time from ``start``: to the window the last chunk needs, then a round trip."""
    windows = math.ceil(chunks / per_second) - 1
    if not windows:
        return rtt
    one_way = rtt / 2
    boundary = math.floor(start + OFFSET + one_way) + 1 - OFFSET - one_way
    return boundary + (windows - 1) - start + rtt


def _target(cell: str, rtt: float) -> float:
    if cell == "fresh process":
        return 1.0 + 3 * rtt
    if cell == "warm":
        return 0.15 + 2 * rtt
    return 0.15 + 3 * rtt  # idle (and a new client, held to the idle target)


def _at(fraction: float, rtt: float) -> float:
    """Sleep to ``fraction`` into the exchange's next second (as the request will reach it)."""
    now = time.time()
    target = math.floor(now + OFFSET + rtt / 2) + 1 - OFFSET - rtt / 2 + fraction
    time.sleep(max(0.0, target - now))
    return time.time()


def _fresh_run(tools: ModuleType, url: str, ca: str, http2: bool, first: int, start: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--fresh", url, ca, "1" if http2 else "0", str(first)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("UPBIT_")}
    time.sleep(max(0.0, start - time.time()))
    begin = time.time()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    end = time.time()
    if done.returncode != 0:
        raise SystemExit(f"bench: the fresh process failed: {done.stderr[-2000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "begin": begin, "end": end}


def _kept_runs(
    tools: ModuleType, url: str, ca: str, http2: bool, first: int, fraction: float, rtt: float, idle: float
) -> Any:
    """One client: its first batch, the next one (warm), then one after ``idle`` seconds idle."""
    from upbit_cancel import cancel_orders_async

    tools.reset_limiters()  # a new client of a fresh limiter: as a process that has not sent yet
    client = _client(url, ca or None, http2)
    rows: dict[str, dict[str, Any]] = {}

    async def batch(cell: str, offset: int) -> None:
        begin = time.time()
        result = await cancel_orders_async(client, uuids=_ids(first + offset))
        rows[cell] = {
            "429": result.rate_limited,
            "requests": result.requests_sent,
            "done": len(result.success),
            "begin": begin,
            "end": time.time(),
        }

    async def run() -> None:
        async with client:
            _at(fraction, rtt)
            await batch("new client", 0)
            _at(fraction, rtt)
            await batch("warm", 1000)
            await asyncio.sleep(idle)
            _at(fraction, rtt)
            await batch(CELLS[3], 2000)

    asyncio.run(run())
    return rows


def bench_tls(
    tools: ModuleType, rtts: list[float], runs: int, wires: tuple[str, ...] = WIRES, idle: float = IDLE
) -> list[dict[str, Any]]:
    print(f"\n16. 1,000 orders (async) over TLS and plain HTTP through a link delaying every packet ({runs} runs per")
    print(f"    cell; exchange clock {OFFSET:+.1f} s from ours). Cells: {', '.join(CELLS)} ({idle:g} s).")
    print("    Figures: 429s worst,")
    print("    requests median, wall - floor median/worst (s), met: runs within the target (fresh process")
    print("    floor + 1 s + 3 RTT; warm + 0.15 s + 2 RTT; new client and idle + 0.15 s + 3 RTT)")
    if CLIENT_OPTIONS:
        print(f"    connect() options: {CLIENT_OPTIONS}")
    chunks = math.ceil(1000 / tools.PER_REQUEST)
    fractions = [((index * 0.618) % 1.0) * 0.98 + 0.01 for index in range(runs)]
    rows: list[dict[str, Any]] = []
    with tools._stall_meter() as meter:
        for rtt in rtts:
            for wire in wires:
                figures: dict[str, list[dict[str, Any]]] = {cell: [] for cell in CELLS}
                with _sandbox(tools, wire, rtt, orders=4000 * runs) as (url, ca):
                    for run, fraction in enumerate(fractions):
                        first = 1 + run * 4000
                        start = _at(fraction, rtt)
                        figures["fresh process"].append(_fresh_run(tools, url, ca, wire == "h2", first, start))
                        for cell, row in _kept_runs(
                            tools, url, ca, wire == "h2", first + 1000, fraction, rtt, idle
                        ).items():
                            figures[cell].append(row)
                for cell, values in figures.items():
                    overs = [v["end"] - v["begin"] - _floor(v["begin"], rtt, chunks, tools.PER_SECOND) for v in values]
                    stalls = [meter.stalled(v["begin"], v["end"]) for v in values]
                    target = _target(cell, rtt)
                    met = sum(over <= target for over in overs)
                    requests = statistics.median(v["requests"] for v in values)
                    tools._line(
                        f"{wire:<5} {cell:<13} RTT {rtt * 1000:3.0f} ms (target {target:.2f} s)",
                        f"429 {max(v['429'] for v in values)}  req {requests:.0f}  "
                        f"over {tools._summary(overs)}  stall {tools._summary(stalls)}  met {met}/{len(values)}  "
                        f"cancelled min {min(v['done'] for v in values)}",
                    )
                    rows.append({"wire": wire, "cell": cell, "rtt": rtt, "over": overs, "stall": stalls})
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--fresh":
        sys.exit(fresh(*sys.argv[2:]))
    raise SystemExit("usage: tls_cells.py --fresh URL CA HTTP2 FIRST (make bench runs the section: --only 16)")

"""``make bench``: the SDK against the loopback sandbox exchange, every figure a ratio measured side by side.

1. Per-request overhead: the generated call + ``UpbitAuth`` against a raw ``httpx.Client`` that signs
   inline (the floor), interleaved in rounds so machine noise hits both alike. Target <= 1.05x.
2. 1,000 orders on a sandbox enforcing 30 requests/s in whole-second windows: requests used, 429s,
   wall time against even pacing (50/30 s), for the async and sync batch, and a naive client
   (50 requests at once, no limiter) for contrast; then the same with 20 ms added per request.
3. Client cost per order as N grows (20 ... 20,000) with the limit off.
4. Cold import time of ``upbit_auth`` + ``upbit_client`` against ``import httpx, jwt`` alone.

``--quick`` runs smaller counts (used by the tests to prove the script works and leaks no secret).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import jwt

from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders, cancel_orders_async
from upbit_cancel.ratelimit import RateLimiter, reset_limiters
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, demo_uuid

EVEN_PACING_1000 = 50 / 30  # seconds: 50 requests at 30/s spread evenly


def _line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}")


@contextmanager
def _sandbox(orders: int, *, rate_limit: int | None, latency: float = 0.0) -> Iterator[tuple[str, list[str]]]:
    """``upbit-sandbox`` in its own process (so it does not share the GIL with the client being measured)."""
    command = shutil.which("upbit-sandbox", path=str(Path(sys.executable).parent)) or "upbit-sandbox"
    server = subprocess.Popen(
        [
            command,
            *("--port", "0", "--orders", str(orders)),
            *("--rate-limit", str(rate_limit or 0), "--latency-ms", str(latency * 1000)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", server.stdout.readline())
        if match is None:
            raise SystemExit("bench: upbit-sandbox did not start")
        reset_limiters()
        yield match[1], [demo_uuid(f"demo-{n:04d}") for n in range(1, orders + 1)]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


# --- 1. per-request overhead -------------------------------------------------------------------------


def _raw_request(http: httpx.Client, url: str, uuids: list[str]) -> int:
    """The floor: hand-built query, inline SHA-512 + PyJWT signing, plain JSON decode."""
    query = "&".join(f"uuids%5B%5D={quote(value, safe='')}" for value in uuids)
    claims = {
        "access_key": DEMO_ACCESS_KEY,
        "nonce": str(uuid.uuid4()),
        "query_hash": hashlib.sha512(unquote(query).encode()).hexdigest(),
        "query_hash_alg": "SHA512",
    }
    token = jwt.encode(claims, DEMO_SECRET_KEY, algorithm="HS512")
    response = http.request("DELETE", f"{url}/v1/orders/uuids?{query}", headers={"Authorization": f"Bearer {token}"})
    json.loads(response.content)
    return response.status_code


def bench_overhead(rounds: int, per_round: int) -> float:
    print("\n1. Per-request overhead (loopback sandbox, limit off, 20 uuids per request)")
    with _sandbox(20, rate_limit=None) as (url, uuids):
        sdk = Client(base_url=url, httpx_args={"auth": UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)})
        raw = httpx.Client()
        with sdk, raw:

            def run_sdk() -> None:
                for _ in range(per_round):
                    assert cancel_orders_by_ids.sync_detailed(client=sdk, uuids=uuids).status_code == 200

            def run_raw() -> None:
                for _ in range(per_round):
                    assert _raw_request(raw, url, uuids) == 200

            run_sdk(), run_raw()  # warm both connection pools and code paths
            sdk_times: list[float] = []
            raw_times: list[float] = []
            for index in range(rounds):
                # Alternate which goes first so a drift in machine load cannot favour one side.
                order: list[tuple[Callable[[], None], list[float]]] = [(run_sdk, sdk_times), (run_raw, raw_times)]
                for run, times in order if index % 2 == 0 else reversed(order):
                    start = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - start)
    sdk_per = statistics.median(sdk_times) / per_round
    raw_per = statistics.median(raw_times) / per_round
    ratio = statistics.median(s / r for s, r in zip(sdk_times, raw_times, strict=True))
    _line("raw httpx.Client + inline signing, per request", f"{raw_per * 1e6:8.0f} us")
    _line("SDK: generated call + UpbitAuth, per request", f"{sdk_per * 1e6:8.0f} us")
    _line("ratio SDK / raw (median of paired rounds; target <= 1.05)", f"{ratio:8.3f}x")
    return ratio


# --- 2. 1,000 orders at the rate-limit floor ---------------------------------------------------------


def _naive_async(url: str, uuids: list[str]) -> tuple[int, int]:
    """50 requests fired at once with no limiter and no retry: how many 429s a naive client meets."""

    async def go() -> tuple[int, int]:
        auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
        async with Client(base_url=url, httpx_args={"auth": auth}) as client:
            chunks = [uuids[i : i + 20] for i in range(0, len(uuids), 20)]
            answers = await asyncio.gather(
                *(cancel_orders_by_ids.asyncio_detailed(client=client, uuids=chunk) for chunk in chunks)
            )
        return len(answers), sum(1 for answer in answers if answer.status_code == 429)

    return asyncio.run(go())


def _one_batch(name: str, orders: int, latency: float) -> tuple[float, Any]:
    with _sandbox(orders, rate_limit=30, latency=latency) as (url, uuids):
        auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
        client = Client(base_url=url, httpx_args={"auth": auth}, timeout=httpx.Timeout(10.0))
        start = time.perf_counter()
        if name == "async":

            async def run() -> Any:
                async with client:
                    return await cancel_orders_async(client, uuids=uuids)

            result = asyncio.run(run())
        else:
            with client:
                result = cancel_orders(client, uuids=uuids)
        return time.perf_counter() - start, result


def bench_rate_limited(orders: int, latency: float, repeats: int) -> dict[str, Any]:
    title = f"{orders:,} orders, sandbox enforcing 30/s in whole-second windows, {latency * 1000:.0f} ms per request"
    print(f"\n2. {title} ({repeats} runs each; where in the wall-clock second a run starts moves its time)")
    even = orders / 20 / 30
    figures: dict[str, Any] = {}
    for name in ("async", "sync"):
        runs = [_one_batch(name, orders, latency) for _ in range(repeats)]
        walls = sorted(wall for wall, _ in runs)
        sent = sorted({result.requests_sent for _, result in runs})
        limited = sum(result.rate_limited for _, result in runs)
        cancelled = min(len(result.success) for _, result in runs)
        accounted = {len(r.success) + len(r.failed) + len(r.unconfirmed) for _, r in runs}
        target = 1.1 + 2 * (latency + 0.001) if name == "async" else 1.1 * even
        _line(f"{name} batch: requests sent per run / 429s in all runs", f"{sent} / {limited}")
        _line(f"{name} batch: fewest cancelled / ids accounted for", f"{cancelled} / {sorted(accounted)} of {orders}")
        _line(
            f"{name} batch: median wall vs even pacing {even:.2f} s (target <= {target:.2f} s)",
            f"{statistics.median(walls):6.3f} s = {statistics.median(walls) / even:.2f}x (max {walls[-1]:.3f} s)",
        )
        figures[name] = {"requests": sent, "429s": limited, "walls": walls}
    with _sandbox(orders, rate_limit=30, latency=latency) as (url, uuids):
        sent_naive, limited_naive = _naive_async(url, uuids)
    _line("naive async (all chunks at once, no limiter): requests / 429s", f"{sent_naive} / {limited_naive}")
    return figures


# --- 3. client cost per order as N grows -------------------------------------------------------------


def bench_scaling(counts: list[int]) -> None:
    print("\n3. Wall time as N grows (limit off, async batch, loopback)")
    per_order: list[float] = []
    points: list[tuple[int, float]] = []
    for count in counts:
        with _sandbox(count, rate_limit=None) as (url, uuids):

            async def run(url: str = url, uuids: list[str] = uuids) -> Any:
                auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
                async with Client(base_url=url, httpx_args={"auth": auth}) as client:
                    # The limit is off on both sides: this measures the client's own cost per order. A limiter
                    # of another group has no budget of its own and is not paced by the answers' Remaining-Req.
                    unpaced = RateLimiter("bench-unlimited", None)
                    return await cancel_orders_async(client, uuids=uuids, limiter=unpaced, max_in_flight=8)

            start = time.perf_counter()
            result = asyncio.run(run())
            wall = time.perf_counter() - start
        assert len(result.success) == count, f"only {len(result.success)} of {count} cancelled"
        if points:
            # The slope between two sizes: what one more order costs, without the fixed start-up cost.
            previous_count, previous_wall = points[-1]
            per_order.append((wall - previous_wall) / (count - previous_count))
            slope = f", {per_order[-1] * 1e6:6.1f} us per extra order"
        else:
            slope = ""
        points.append((count, wall))
        _line(f"N = {count:>6,}", f"{wall:7.3f} s{slope}")
    if len(per_order) > 1:
        _line("cost per extra order, largest N / second step (flat = ~1)", f"{per_order[-1] / per_order[0]:.2f}x")


# --- 4. cold import ----------------------------------------------------------------------------------


def _import_time(statement: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_import(repeats: int) -> None:
    print("\n4. Cold import (fresh interpreter each time, median)")
    empty = _import_time("pass", repeats)
    base = _import_time("import httpx, jwt", repeats)
    sdk = _import_time("import upbit_auth, upbit_client, upbit_cancel.batch, upbit_client.api.order", repeats)
    _line("python -c pass", f"{empty * 1000:6.0f} ms")
    _line("import httpx, jwt", f"{base * 1000:6.0f} ms")
    _line("import upbit_auth + upbit_client (+ batch, api)", f"{sdk * 1000:6.0f} ms")
    _line("ratio SDK / httpx+jwt (interpreter start included)", f"{sdk / base:6.2f}x")
    _line("ratio of import cost alone (interpreter start subtracted)", f"{(sdk - empty) / (base - empty):6.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: proves the script runs")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    if args.quick:
        bench_overhead(rounds=3, per_round=20)
        bench_rate_limited(100, latency=0.0, repeats=1)
        bench_scaling([20, 200, 400])
        bench_import(repeats=2)
    else:
        bench_overhead(rounds=15, per_round=200)
        bench_rate_limited(1000, latency=0.0, repeats=5)
        bench_rate_limited(1000, latency=0.020, repeats=5)
        bench_scaling([20, 200, 2000, 20000])
        bench_import(repeats=9)
    return 0


if __name__ == "__main__":
    sys.exit(main())

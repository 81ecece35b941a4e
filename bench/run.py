"""``make bench``: the SDK against the loopback sandbox exchange, every figure measured side by side.

1. Per-request overhead: the generated call + ``UpbitAuth`` against a raw ``httpx.Client`` that signs
   inline (the floor), interleaved in rounds so machine noise hits both alike. Target <= 1.05x.
2. 1,000 orders, sync and async, against sandboxes whose clock is set off from ours (``--clock-offset``)
   with 0 and 20 ms latency: 429s, requests and wall time minus the floor, for a fresh limiter and a
   warm one (the next batch of the same process), median and worst of ``--runs`` runs per cell.
8. 1,000 orders, sync and async, at 0, 20, 50 and 100 ms one-way latency, fresh and warm, against targets.
9. The next batch of a process after an async batch was cancelled mid-way (its permits handed back).
5. 4 and 8 processes x 300 orders on one account at once, with and without the Redis store.
6. What the Redis path adds per request on loopback.
3. Client cost per order as N grows (20 ... 20,000) with the limit off.
4. Cold import time of ``upbit_auth`` + ``upbit_client`` against ``import httpx, jwt`` alone; ``upbit-cancel --help``,
   and ``upbit-cancel --open --dry-run`` from spawn to the sandbox's first request.
12. 1,000 open orders (4 markets, 10 % ``watch``): ``cancel_open_orders`` against Upbit's own filter
   cancel (``DELETE /v1/orders/open``) called at its 1 per 2 s until nothing is left: wall time,
   requests, 429s and orders left open.
13. Event-loop lag: a 2 ms ticker beside an async batch of 1,000 orders, without a store, through Redis,
   and through a Redis that answers 20 ms late (``bench/loop_lag.py``).

16. 3 pockets x 600 open orders swept at once (``sweep_pockets_async``) against 1 pocket x 600,
   alternating in one run: wall, wall minus the floor, 429s, orders left (``bench/pockets.py``).

17. The guard (dead-man's switch): detection after a heartbeat's deadline, the idle guard's CPU and
   memory, deadline to scope empty against its floor, and against the ``DELETE /v1/orders/open`` loop
   (``bench/guard_bench.py``).

18. 1,000 orders over TLS (HTTP/1.1 and HTTP/2) and plain HTTP through a link delaying every packet,
   at 0-100 ms round trip: a fresh process, a new client, a warm one, one after a 6 s gap and one whose
   connections the server cut (``bench/tls_cells.py``).
19. upbit-sdk 1.1.0 (its own venv) over the same TLS link: async gather and sync loop, fresh process and
   warm client (``bench/upbit_sdk_cells.py``).

14. The sandbox server after a storm of 2,000 idle connections: how long the storm takes to open and
   the first request after it (issue 23; the tests only assert that it answers).

5 and 10 end with their cold-start cells (``bench/cold_bench.py``): N fresh processes on a fresh store, from
spawn to the last exit, against one process with no store sending the same orders (``--only 20``: those alone).

``--only 1,8,13`` runs just those sections (full counts), for a side-by-side look at a few cells
(``--only 16 --runs 3``: the TLS cells, 3 runs each).

``--quick`` runs smaller counts (used by the tests to prove the script works and leaks no secret).
Sections 5 and 6 need ``redis-server`` (Debian package) for their store cells, and say so without it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import jwt

from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders, cancel_orders_async
from upbit_cancel.ratelimit import Permit, RateLimiter, reset_limiters
from upbit_cancel.redis_store import SharedBudget
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.registry import OPERATIONS
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, demo_uuid

# The spec's limits, from the generated registry: a change of openapi.yaml moves the bench with it.
_CANCEL = OPERATIONS["cancel_orders_by_ids"]
PER_REQUEST = _CANCEL.parameter("uuids").max_items or 1
"""uuids per request (``maxItems`` of ``uuids[]``): the batch's chunk size."""
PER_SECOND = _CANCEL.rate_limit.per_second if _CANCEL.rate_limit is not None else 30
"""Order List Cancel's requests per second (``x-rate-limit``), the sandboxes' limit here."""
CHUNKS_1000 = math.ceil(1000 / PER_REQUEST)
"""Requests 1,000 orders take."""


def _die_with_this_process() -> None:
    """``preexec_fn`` for every helper process: the kernel stops it when the bench goes away.

    A bench killed from outside (a test's timeout, Ctrl-C) must not leave a sandbox, a redis-server
    or the real-time stall meter running on the machine. Linux only (``prctl(PR_SET_PDEATHSIG)``).
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def _line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}")


@contextmanager
def _sandbox(
    orders: int, *, rate_limit: int | None, latency: float = 0.0, clock_offset: float = 0.0
) -> Iterator[tuple[str, list[str]]]:
    """``upbit-sandbox`` in its own process (so it does not share the GIL with the client being measured)."""
    command = shutil.which("upbit-sandbox", path=str(Path(sys.executable).parent)) or "upbit-sandbox"
    server = subprocess.Popen(
        [
            command,
            *("--port", "0", "--orders", str(orders)),
            *("--rate-limit", str(rate_limit or 0), "--latency-ms", str(latency * 1000)),
            *("--clock-offset", repr(clock_offset)),
        ],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_this_process,
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
    print(f"\n1. Per-request overhead (loopback sandbox, limit off, {PER_REQUEST} uuids per request)")
    with _sandbox(PER_REQUEST, rate_limit=None) as (url, uuids):
        sdk = Client(base_url=url, httpx_args={"auth": UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)})
        raw = httpx.Client()
        with sdk, raw:

            def run_sdk() -> None:
                for _ in range(per_round):
                    assert cancel_orders_by_ids.sync_detailed(client=sdk, uuids=uuids).status_code == 200

            def run_raw() -> None:
                for _ in range(per_round):
                    assert _raw_request(raw, url, uuids) == 200

            # Warm both connection pools and code paths.
            run_sdk()
            run_raw()
            sdk_times: list[float] = []
            raw_times: list[float] = []
            sdk_cpu: list[float] = []
            raw_cpu: list[float] = []
            for index in range(rounds):
                # Alternate which goes first so a drift in machine load cannot favour one side.
                order: list[tuple[Callable[[], None], list[float], list[float]]] = [
                    (run_sdk, sdk_times, sdk_cpu),
                    (run_raw, raw_times, raw_cpu),
                ]
                for run, times, cpu in order if index % 2 == 0 else reversed(order):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    run()
                    times.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - start_cpu)
    sdk_per = statistics.median(sdk_times) / per_round
    raw_per = statistics.median(raw_times) / per_round
    ratio = statistics.median(s / r for s, r in zip(sdk_times, raw_times, strict=True))
    cpu_ratio = statistics.median(s / r for s, r in zip(sdk_cpu, raw_cpu, strict=True))
    _line("raw httpx.Client + inline signing, per request", f"{raw_per * 1e6:8.0f} us")
    _line("SDK: generated call + UpbitAuth, per request", f"{sdk_per * 1e6:8.0f} us")
    _line("ratio SDK / raw (median of paired rounds; target <= 1.05)", f"{ratio:8.3f}x")
    # The client's own CPU time: what the SDK adds, without the time spent waiting for the server (a stall of
    # the machine while the client runs still counts: a virtual machine's guest cannot tell it apart).
    _line(
        "client CPU per request: raw / SDK",
        f"{statistics.median(raw_cpu) / per_round * 1e6:5.0f} us / "
        f"{statistics.median(sdk_cpu) / per_round * 1e6:5.0f} us",
    )
    _line("ratio of client CPU time SDK / raw (median of paired rounds)", f"{cpu_ratio:8.3f}x")
    return ratio


# --- 2. 1,000 orders against an exchange whose clock is not ours --------------------------------------


def _naive_async(url: str, uuids: list[str]) -> tuple[int, int]:
    """Every chunk's request fired at once with no limiter and no retry: how many 429s a naive client meets."""

    async def go() -> tuple[int, int]:
        auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
        async with Client(base_url=url, httpx_args={"auth": auth}) as client:
            chunks = [uuids[i : i + PER_REQUEST] for i in range(0, len(uuids), PER_REQUEST)]
            answers = await asyncio.gather(
                *(cancel_orders_by_ids.asyncio_detailed(client=client, uuids=chunk) for chunk in chunks)
            )
        return len(answers), sum(1 for answer in answers if answer.status_code == 429)

    return asyncio.run(go())


def _exchange_boundary_after(t: float, offset: float, latency: float) -> float:
    """The local send time after ``t`` from which requests reach the exchange in its next whole second."""
    return math.floor(t + offset + latency) + 1 - offset - latency


def _floor(start: float, offset: float, latency: float, chunks: int) -> float:
    """Least wall time: the exchange's windows needed (30 per second), plus a round trip (sync and async alike:
    both keep as many requests in flight as the budget allows)."""
    windows = math.ceil(chunks / PER_SECOND) - 1
    to_window = 0.0
    if windows:
        to_window = _exchange_boundary_after(start, offset, latency) + (windows - 1) - start
    return to_window + latency


def _run_batch(
    mode: str, url: str, uuids: list[str], store: str | None = None, at: Callable[[], float] | None = None
) -> tuple[Any, float, float]:
    """One batch: (result, local time the batch was called, local time it returned).

    The client is made and opened first, and ``at`` (if given) is slept to only then: a process keeps
    its client, and what is timed is the batch, not httpx building an SSL context (~20 ms here).
    """
    auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    client = Client(base_url=url, httpx_args={"auth": auth}, timeout=httpx.Timeout(10.0))
    if mode == "async":

        async def run() -> tuple[Any, float, float]:
            async with client:
                client.get_async_httpx_client()
                start = at() if at is not None else time.time()
                result = await cancel_orders_async(client, uuids=uuids, rate_limit_store=store)
                return result, start, time.time()

        return asyncio.run(run())
    with client:
        client.get_httpx_client()
        start = at() if at is not None else time.time()
        result = cancel_orders(client, uuids=uuids, rate_limit_store=store)
        return result, start, time.time()


def _sleep_until(moment: float) -> float:
    time.sleep(max(0.0, moment - time.time()))
    return time.time()


def _start_at(offset: float, latency: float, fraction: float) -> float:
    """Sleep until ``fraction`` into the exchange's second after the next boundary (windows from before are over)."""
    target = _exchange_boundary_after(time.time(), offset, latency) + fraction
    time.sleep(max(0.0, target - time.time()))
    return time.time()


# --- host stalls -----------------------------------------------------------------------------------

_STALL_METER = r"""
import os, sys, time
try:  # real-time priority: it runs the moment its timer fires, unless the whole machine is stalled
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
except (AttributeError, OSError):
    pass
out = open(sys.argv[1], "a", buffering=1)
last = time.time()
while True:
    time.sleep(0.002)
    now = time.time()
    if now - last > 0.012:
        out.write(f"{last + 0.002!r} {now!r}\n")
    last = now
"""


class StallMeter:
    """Time this machine was stalled (no process of it ran), measured by a process of its own.

    A tiny real-time-priority process wakes every 2 ms and logs each wake-up more than 10 ms late:
    at that priority it runs the moment its timer fires unless the virtual machine itself is not
    running (the host took its CPUs) or the kernel is stuck, so its gaps are time no process here
    had, the batch included. Not real-time priority (no permission): gaps include CPU contention.
    """

    def __init__(self) -> None:
        import tempfile

        self._file = Path(tempfile.mkstemp(prefix="bench-stalls-")[1])
        self._process = subprocess.Popen(
            [sys.executable, "-c", _STALL_METER, str(self._file)], preexec_fn=_die_with_this_process
        )

    def stalled(self, start: float, end: float) -> float:
        """Seconds of stall inside ``[start, end]`` (local clock)."""
        time.sleep(0.02)  # let the meter log a stall that ended just now
        total = 0.0
        for line in self._file.read_text().splitlines():
            begin, finish = (float(x) for x in line.split())
            total += max(0.0, min(finish, end) - max(begin, start))
        return total

    def close(self) -> None:
        self._process.kill()
        self._process.wait(timeout=10)
        self._file.unlink(missing_ok=True)


@contextmanager
def _stall_meter() -> Iterator[StallMeter]:
    meter = StallMeter()
    try:
        yield meter
    finally:
        meter.close()


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} / {max(values):6.3f}"


CLEAN_STALL = 0.02
"""A run during which the machine stalled less than this (seconds) in all is a clean run."""


def _clean(values: dict[str, list[float]]) -> str:
    """The runs the machine did not stall: how many, and their wall - floor median/worst."""
    clean = [over for over, stall in zip(values["over"], values["stall"], strict=True) if stall < CLEAN_STALL]
    return f"clean {len(clean)}: " + (_summary(clean) if clean else "   -   /    -  ")


def bench_offsets(
    offsets: list[float], latencies: list[float], runs: int, modes: tuple[str, ...] = ("async", "sync")
) -> list[dict[str, Any]]:
    print(f"\n2. 1,000 orders vs an exchange clock set off from ours ({runs} runs per cell, each at another")
    print("   point of the exchange's second). fresh: a new limiter (as a new process); warm: the next batch of")
    print("   the same process. Figures: 429s median/worst, requests median/worst, wall - floor median/worst (s),")
    print("   then the machine's stall during the batch and wall - floor - stall, median/worst (s), and the")
    print(f"   clean runs (machine stalled < {CLEAN_STALL * 1000:.0f} ms in all): how many, wall - floor median/worst.")
    print("   floor = time to the exchange's next second + a round trip;")
    print("   wall = from the call of cancel_orders to its return (the client already open)")
    rows: list[dict[str, Any]] = []
    fractions = [((index * 0.618) % 1.0) * 0.98 + 0.01 for index in range(runs)]
    with _stall_meter() as meter:
        for latency in latencies:
            for offset in offsets:
                orders = runs * 2 * len(modes) * 1000
                with _sandbox(orders, rate_limit=PER_SECOND, latency=latency, clock_offset=offset) as (url, uuids):
                    pool = iter(uuids[i : i + 1000] for i in range(0, len(uuids), 1000))
                    for mode in modes:
                        names = ("429", "requests", "over", "stall", "net", "cancelled")
                        figures: dict[str, dict[str, list[float]]] = {
                            kind: {name: [] for name in names} for kind in ("fresh", "warm")
                        }
                        for fraction in fractions:
                            reset_limiters()  # a fresh process knows nothing of the exchange's phase
                            for kind in ("fresh", "warm"):
                                result, start, end = _run_batch(
                                    mode,
                                    url,
                                    next(pool),
                                    at=partial(_start_at, offset, latency, fraction),
                                )
                                over = end - start - _floor(start, offset, latency, CHUNKS_1000)
                                stall = meter.stalled(start, end)
                                figures[kind]["429"].append(result.rate_limited)
                                figures[kind]["requests"].append(result.requests_sent)
                                figures[kind]["over"].append(over)
                                figures[kind]["stall"].append(stall)
                                figures[kind]["net"].append(over - stall)
                                figures[kind]["cancelled"].append(len(result.success))
                        for kind, values in figures.items():
                            label = f"{mode:<5} {kind:<5} offset {offset:+.1f} s, latency {latency * 1000:2.0f} ms"
                            _line(
                                label,
                                f"429 {statistics.median(values['429']):.0f}/{max(values['429']):.0f}  "
                                f"req {statistics.median(values['requests']):.0f}/{max(values['requests']):.0f}  "
                                f"over {_summary(values['over'])}  stall {_summary(values['stall'])}  "
                                f"over-stall {_summary(values['net'])}  {_clean(values)}  "
                                f"cancelled min {min(values['cancelled']):.0f}",
                            )
                            rows.append({"mode": mode, "kind": kind, "offset": offset, "latency": latency, **values})
    with _sandbox(1000, rate_limit=PER_SECOND) as (url, uuids):
        sent_naive, limited_naive = _naive_async(url, uuids)
    naive = f"naive async (all {CHUNKS_1000} chunks at once, no limiter): requests / 429s"
    _line(naive, f"{sent_naive} / {limited_naive}")
    return rows


# --- 8. 1,000 orders at the latency bots really have ---------------------------------------------------


def bench_latency(
    latencies: list[float], runs: int, offset: float = 0.3, modes: tuple[str, ...] = ("sync", "async")
) -> list[dict[str, Any]]:
    """Sync (worker threads) and async against sandboxes 0-100 ms away: both must reach the same floor."""
    print(f"\n8. 1,000 orders, sync and async, at 0-100 ms one-way latency ({runs} runs per cell, exchange clock")
    print(f"   {offset:+.1f} s from ours, each run at another point of its second). The sandbox delays each request")
    print("   (``--latency-ms``), so a round trip is that latency. fresh: a new limiter; warm: the next batch of the")
    print("   process. Figures as in section 2; target: wall - floor <= 0.15 s + 2 round trips (warm),")
    print("   1 s + 2 round trips (fresh); met: runs within target, and within it once the stall is subtracted")
    rows: list[dict[str, Any]] = []
    fractions = [((index * 0.618) % 1.0) * 0.98 + 0.01 for index in range(runs)]
    with _stall_meter() as meter:
        for latency in latencies:
            with _sandbox(
                runs * 2 * len(modes) * 1000, rate_limit=PER_SECOND, latency=latency, clock_offset=offset
            ) as (
                url,
                uuids,
            ):
                pool = iter(uuids[i : i + 1000] for i in range(0, len(uuids), 1000))
                for mode in modes:
                    names = ("429", "requests", "over", "stall", "net", "cancelled")
                    figures: dict[str, dict[str, list[float]]] = {
                        kind: {name: [] for name in names} for kind in ("fresh", "warm")
                    }
                    for fraction in fractions:
                        reset_limiters()  # a fresh process knows nothing of the exchange's phase
                        for kind in ("fresh", "warm"):
                            result, start, end = _run_batch(
                                mode, url, next(pool), at=partial(_start_at, offset, latency, fraction)
                            )
                            over = end - start - _floor(start, offset, latency, CHUNKS_1000)
                            stall = meter.stalled(start, end)
                            figures[kind]["429"].append(result.rate_limited)
                            figures[kind]["requests"].append(result.requests_sent)
                            figures[kind]["over"].append(over)
                            figures[kind]["stall"].append(stall)
                            figures[kind]["net"].append(over - stall)
                            figures[kind]["cancelled"].append(len(result.success))
                    for kind, values in figures.items():
                        target = (0.15 if kind == "warm" else 1.0) + 2 * latency
                        met = sum(over <= target for over in values["over"])
                        met_net = sum(net <= target for net in values["net"])
                        _line(
                            f"{mode:<5} {kind:<5} latency {latency * 1000:3.0f} ms (target {target:.2f} s)",
                            f"429 {statistics.median(values['429']):.0f}/{max(values['429']):.0f}  "
                            f"req {statistics.median(values['requests']):.0f}/{max(values['requests']):.0f}  "
                            f"over {_summary(values['over'])}  stall {_summary(values['stall'])}  "
                            f"over-stall {_summary(values['net'])}  {_clean(values)}  "
                            f"met {met}/{runs}, less stall {met_net}/{runs}  "
                            f"cancelled min {min(values['cancelled']):.0f}",
                        )
                        rows.append({"mode": mode, "kind": kind, "latency": latency, **values})
    return rows


# --- 9. the batch after a cancelled one ----------------------------------------------------------------


def _cancel_mid_way(url: str, uuids: list[str], after: float) -> Any:
    """An async batch cancelled ``after`` seconds in, and again during its grace: requests in flight are cut off."""
    auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)

    async def run() -> Any:
        async with Client(base_url=url, httpx_args={"auth": auth}, timeout=httpx.Timeout(10.0)) as client:
            client.get_async_httpx_client()
            task = asyncio.ensure_future(cancel_orders_async(client, uuids=uuids))
            await asyncio.sleep(after)
            task.cancel()
            await asyncio.sleep(0.01)
            task.cancel()  # a second Ctrl-C, or a caller's own timeout around the batch
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return asyncio.run(run())


def bench_after_cancel(runs: int, latency: float = 0.05, offset: float = 0.3, orders: int = 1000) -> None:
    print(f"\n9. The next batch of a process after an async batch was cancelled mid-way ({runs} runs, latency")
    print(f"   {latency * 1000:.0f} ms): the first batch is cancelled 0.3 s in, and again 10 ms later, cutting off the")
    print(f"   requests in flight; then {orders:,} orders, async. Beside it, in the same runs, the same batch after")
    print("   one that finished (the control). Target: 0 x 429, wall - floor <= 0.15 s + 2 round trips")
    fractions = [((index * 0.618) % 1.0) * 0.98 + 0.01 for index in range(runs)]
    names = ("429", "requests", "over", "stall", "net", "cancelled")
    figures: dict[str, dict[str, list[float]]] = {kind: {name: [] for name in names} for kind in ("cancel", "done")}
    with (
        _stall_meter() as meter,
        _sandbox(runs * 4 * orders, rate_limit=PER_SECOND, latency=latency, clock_offset=offset) as (url, uuids),
    ):
        pool = iter(uuids[i : i + orders] for i in range(0, len(uuids), orders))
        for fraction in fractions:
            for kind in ("cancel", "done"):
                reset_limiters()
                _start_at(offset, latency, fraction)
                if kind == "cancel":
                    _cancel_mid_way(url, next(pool), after=0.3)
                else:
                    _run_batch("async", url, next(pool))
                at = partial(_start_at, offset, latency, fraction)
                result, start, end = _run_batch("async", url, next(pool), at=at)
                over = end - start - _floor(start, offset, latency, math.ceil(orders / PER_REQUEST))
                stall = meter.stalled(start, end)
                values = figures[kind]
                values["429"].append(result.rate_limited)
                values["requests"].append(result.requests_sent)
                values["over"].append(over)
                values["stall"].append(stall)
                values["net"].append(over - stall)
                values["cancelled"].append(len(result.success))
    for kind, values in figures.items():
        label = "after a cancelled batch" if kind == "cancel" else "after a finished one (control)"
        _line(
            f"{label}, latency {latency * 1000:.0f} ms (target {0.15 + 2 * latency:.2f} s)",
            f"429 {statistics.median(values['429']):.0f}/{max(values['429']):.0f}  "
            f"req {statistics.median(values['requests']):.0f}/{max(values['requests']):.0f}  "
            f"over {_summary(values['over'])}  stall {_summary(values['stall'])}  "
            f"over-stall {_summary(values['net'])}  {_clean(values)}  cancelled min {min(values['cancelled']):.0f}",
        )


def bench_simulated(offsets: list[float], round_trips: list[float], runs: int) -> None:
    """Section 2's cells on the simulated exchange (``tests/pacing_sim.py``): the limiter alone, no machine."""
    import importlib.util

    # The simulator is the tests' (tests/pacing_sim.py); loaded by path, as the bench runs as a script.
    spec = importlib.util.spec_from_file_location(
        "pacing_sim", Path(__file__).parent.parent / "tests" / "pacing_sim.py"
    )
    assert spec is not None and spec.loader is not None
    sim = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sim)
    GROUP, SimClock, SimExchange, floor_time, run_batch = (
        sim.GROUP,
        sim.SimClock,
        sim.SimExchange,
        sim.floor_time,
        sim.run_batch,
    )

    print("\n7. The same pacing on the simulated exchange and network (a fake clock: no scheduler, no stalls;")
    print(f"   {runs} starting points per cell; async, 30 in flight, the backlog told). 429s worst, requests worst,")
    print("   wall - floor median/worst (s); floor as in section 2 (one-way latency = half the round trip)")
    fractions = [((index * 0.618) % 1.0) * 0.98 + 0.01 for index in range(runs)]
    for round_trip in round_trips:
        latency = round_trip / 2
        for offset in offsets:
            figures: dict[str, dict[str, list[float]]] = {
                k: {"429": [], "req": [], "over": []} for k in ("fresh", "warm")
            }
            for fraction in fractions:
                exchange = SimExchange(offset, PER_SECOND)
                # Start ``fraction`` into the exchange's second, as section 2 does.
                start = math.floor(1_000_000 + offset + latency) + 1 + fraction - offset - latency
                clock = SimClock(start)
                limiter = RateLimiter(GROUP, PER_SECOND, clock=clock)
                for kind in ("fresh", "warm"):
                    begin = clock.now
                    run = run_batch(
                        limiter,
                        clock,
                        exchange,
                        chunks=CHUNKS_1000,
                        latency=latency,
                        max_in_flight=PER_SECOND,
                        backlog=True,  # as the batch tells its limiter (probes)
                    )
                    figures[kind]["429"].append(run.rate_limited)
                    figures[kind]["req"].append(run.requests)
                    figures[kind]["over"].append(
                        run.finished - begin - floor_time(begin, exchange, CHUNKS_1000, latency)
                    )
                    # The next batch starts at the same point of a later exchange second.
                    clock.now = begin + math.ceil(run.finished - begin) + 1
            for kind, values in figures.items():
                _line(
                    f"sim {kind:<5} offset {offset:+.1f} s, round trip {round_trip * 1000:2.0f} ms",
                    f"429 {max(values['429']):.0f}  req {max(values['req']):.0f}  over {_summary(values['over'])}",
                )


# --- 5. several processes on one account, with and without the Redis store ---------------------------


@contextmanager
def _redis() -> Iterator[str | None]:
    """A throwaway redis-server on a free loopback port, or None if the Debian package is not installed.

    A port picked free can be taken by another process before redis-server binds it (the test suite
    starts many servers at once): each attempt checks that the server answering is the one started
    (its process id), with socket timeouts, so the bench never talks to a stranger or hangs on one.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    import redis

    for _ in range(5):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_this_process,
        )
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        deadline = time.monotonic() + 10
        ours = False
        while server.poll() is None and time.monotonic() < deadline and not ours:
            try:
                ours = int(client.info("server")["process_id"]) == server.pid
                if not ours:
                    break  # another redis-server holds the port
            except (redis.RedisError, KeyError, ValueError):
                time.sleep(0.02)
        client.close()
        if ours:
            try:
                yield url
            finally:
                server.terminate()
                server.wait(timeout=10)
            return
        server.kill()
        server.wait(timeout=10)
    raise SystemExit("bench: redis-server did not start on a free loopback port in 5 attempts")


def worker(url: str, store: str | None) -> int:
    """``--worker``: one process of the account. Reads ``START FIRST COUNT`` lines, answers one JSON line each."""
    for line in sys.stdin:
        start, first, count = line.split()
        uuids = [demo_uuid(f"demo-{n:04d}") for n in range(int(first), int(first) + int(count))]
        reset_limiters()  # each run is a fresh process: it knows only what the store tells it
        result, _, end = _run_batch("async", url, uuids, store=store, at=partial(_sleep_until, float(start)))
        done = {
            "wall": end - float(start),
            "429": result.rate_limited,
            "requests": result.requests_sent,
            "cancelled": len(result.success),
        }
        print(json.dumps(done), flush=True)
    return 0


def _answer_of(process: subprocess.Popen[str], workers: list[subprocess.Popen[str]]) -> dict[str, Any]:
    """The next JSON line of a ``--worker``; a worker that dies or stays silent stops the bench (never hangs it)."""
    import select

    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 120.0)
    line = process.stdout.readline() if ready else ""
    if not line:
        for other in workers:
            other.kill()
        raise SystemExit(f"bench: a --worker process {'exited' if ready else 'gave no answer in 120 s'}")
    answer: dict[str, Any] = json.loads(line)
    return answer


def bench_processes(counts: list[int], per_process: int, runs: int, *, only_store: bool = False) -> None:
    print(f"\n5. {counts} processes x {per_process} orders on one account at once ({runs} runs per cell;")
    print("   floor: to the exchange's next second + whole seconds the chunks need at 30/s;")
    print("   stall: the machine's stall between the start and the last worker's return)")
    chunks_each = math.ceil(per_process / PER_REQUEST)
    with _redis() as store_url, _stall_meter() as meter:
        if store_url is None:
            print("   redis-server not installed: the store cells are left out (apt-get install -y redis-server)")
        stores: list[str | None] = [None] if store_url is None else [store_url] if only_store else [None, store_url]
        for count in counts:
            for store in stores:
                total_orders = count * per_process * runs
                with _sandbox(total_orders, rate_limit=PER_SECOND) as (url, _):
                    if store is not None:
                        import redis

                        redis.Redis.from_url(store, socket_timeout=5, socket_connect_timeout=5).flushall()
                    command = [sys.executable, __file__, "--worker", url]
                    if store is not None:
                        command += ["--store", store]
                    env = {k: v for k, v in os.environ.items() if k != "UPBIT_RATE_LIMIT_STORE"}
                    workers = [
                        subprocess.Popen(
                            command,
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE,
                            text=True,
                            env=env,
                            preexec_fn=_die_with_this_process,
                        )
                        for _ in range(count)
                    ]
                    time.sleep(1.5)  # let every worker import before the first start time
                    limited: list[int] = []
                    requests: list[int] = []
                    over: list[float] = []
                    stalls: list[float] = []
                    missing = 0
                    for run in range(runs):
                        start = math.floor(time.time()) + 1.0 + ((run * 0.618) % 1.0) * 0.98 + 0.01
                        for index, process in enumerate(workers):
                            assert process.stdin is not None
                            first = 1 + (run * count + index) * per_process
                            process.stdin.write(f"{start!r} {first} {per_process}\n")
                            process.stdin.flush()
                        answers = []
                        for process in workers:
                            answers.append(_answer_of(process, workers))
                        windows = math.ceil(count * chunks_each / PER_SECOND) - 1
                        floor = (math.floor(start) + 1 - start) + (windows - 1) if windows else 0.0
                        limited.append(sum(a["429"] for a in answers))
                        requests.append(sum(a["requests"] for a in answers))
                        over.append(max(a["wall"] for a in answers) - floor)
                        stalls.append(meter.stalled(start, start + max(a["wall"] for a in answers)))
                        missing += count * per_process - sum(a["cancelled"] for a in answers)
                    for process in workers:
                        assert process.stdin is not None
                        process.stdin.close()
                        process.wait(timeout=30)
                label = f"{count} processes, {'Redis store' if store else 'no store'}"
                later = slice(1, None) if runs > 1 else slice(None)
                _line(
                    f"{label}: first run 429 / requests / wall - floor",
                    f"{limited[0]} / {requests[0]} / {over[0]:.3f} s",
                )
                _line(
                    f"{label}: later runs 429 med/worst, requests med/worst",
                    f"{statistics.median(limited[later]):.0f}/{max(limited[later])}  "
                    f"{statistics.median(requests[later]):.0f}/{max(requests[later])}  (min {count * chunks_each})",
                )
                _line(f"{label}: later runs wall - floor med/worst", _summary(over[later]) + " s")
                _line(f"{label}: later runs stall med/worst", _summary(stalls[later]) + " s")
                net = [o - st for o, st in zip(over[later], stalls[later], strict=True)]
                _line(f"{label}: later runs wall - floor - stall med/worst", _summary(net) + " s")
                _line(f"{label}: orders not cancelled in all runs", str(missing))


# --- 6. the Redis path per request -------------------------------------------------------------------


def bench_store_cost(calls: int) -> None:
    print("\n6. Cost of the Redis path per request (loopback redis-server: a Lua take per permit, a Lua settle")
    print("   per answer; a limiter with a store against one without, both in-process work included)")
    with _redis() as store_url:
        if store_url is None:
            print("   redis-server not installed: left out")
            return
        clock = [1_000_000.5]

        def now() -> float:
            return clock[0]

        plain = RateLimiter("bench", 10**6, clock=now)
        shared = RateLimiter("bench", 10**6, clock=now)
        shared.use_store(SharedBudget(store_url, DEMO_ACCESS_KEY, "bench", 10**6))
        shared.phase.lo, shared.phase.hi, shared.phase.anchored = 0.3, 0.31, True  # as once learned
        times: dict[str, list[float]] = {"plain": [], "shared": []}
        for index in range(calls):
            clock[0] = 1_000_000.5 + index // 100
            for name, limiter in (("plain", plain), ("shared", shared)):
                begin = time.perf_counter()
                permit = limiter.try_acquire()
                assert isinstance(permit, Permit)
                limiter.record(permit, None, date=math.floor(clock[0] + 0.305))
                times[name].append(time.perf_counter() - begin)
        fell_back = shared.store is None
        local, redis_path = sorted(times["plain"]), sorted(times["shared"])
        extra = [s - p for s, p in zip(times["shared"], times["plain"], strict=True)]
        extra.sort()
        _line("in-process acquire + record, per request (median)", f"{statistics.median(local) * 1e6:8.1f} us")
        _line("with the store (take + settle), per request (median)", f"{statistics.median(redis_path) * 1e6:8.1f} us")
        _line("the store adds per request: median / 99th percentile", f"{statistics.median(extra) * 1e6:8.1f} us / "
              f"{extra[int(len(extra) * 0.99)] * 1e6:.1f} us")  # fmt: skip
        _line("the store failed (over its 0.5 s timeout) during the run", "yes" if fell_back else "no")


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


def bench_import(repeats: int) -> None:
    """Start-up as a user who pip-installed the wheel sees it: with bytecode caches, as pip writes them.

    The environment may set ``PYTHONDONTWRITEBYTECODE=1``; then every run compiled our packages (an
    editable install has no caches) from source while httpx and PyJWT, compiled by pip, did not.
    Here the timed interpreters run without that variable and with ``PYTHONPYCACHEPREFIX`` pointing
    to a fresh temporary folder, after one untimed warm-up run per command that writes the caches
    there: every package is read from bytecode alike, and nothing is written into the tree. The
    commands take turns, round after round, so a burst of machine noise hits them alike; each line
    gives the median and the best run. Timed twice: in this development venv, and in a venv holding
    only the wheel and its runtime dependencies (``bench/startup.py``), as a user has it.
    """
    import startup  # bench/startup.py

    print("\n4. Cold import (fresh interpreter each time; bytecode caches present, written by a warm-up run)")
    _time_imports(
        Path(sys.executable), "this development venv (editable; trio, h2 and the test tools beside it)", repeats
    )
    python = startup.user_python()
    if python != sys.executable:  # else it could not be built (said why), or BENCH_DEV_PROCESSES=1
        _time_imports(Path(python), "a user's venv: the wheel and its runtime dependencies only", repeats)


def _time_imports(python: Path, where: str, repeats: int) -> None:
    import tempfile  # here, not at the top: this section is the only user

    import startup  # bench/startup.py

    commands = {
        "python -c pass": [str(python), "-c", "pass"],
        "import httpx, jwt": [str(python), "-c", "import httpx, jwt"],
        "import upbit_auth + upbit_client (+ batch, api)": [
            str(python), "-c", "import upbit_auth, upbit_client, upbit_cancel.batch, upbit_client.api.order"
        ],
        "import httpx, jwt; httpx.Client()": [str(python), "-c", "import httpx, jwt; httpx.Client()"],
        "import upbit_cancel; connect() (+ batch)": [
            str(python), "-c", "import upbit_cancel; upbit_cancel.connect(access_key='a', secret_key='s'); "
            "import upbit_cancel.batch"
        ],
        "import upbit_cancel (the lazy face)": [str(python), "-c", "import upbit_cancel"],
        "upbit-cancel --version (the command's start-up)": [str(python.parent / "upbit-cancel"), "--version"],
        "upbit-cancel --help": [str(python.parent / "upbit-cancel"), "--help"],
        # Where the import ratio comes from: attrs, then the generated client the batch path must load.
        "import httpx, jwt, attrs": [str(python), "-c", "import httpx, jwt, attrs"],
        "the generated floor (httpx, jwt, the auth, the generated calls and rules)": [
            str(python), "-c", "import httpx, jwt, upbit_auth.signing, upbit_client.rules, "
            "upbit_client.api.order.cancel_orders_by_ids, upbit_client.api.order.list_orders_by_ids"
        ],
    }  # fmt: skip
    times: dict[str, list[float]] = {label: [] for label in commands}
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        for argv in commands.values():  # the warm-up: writes the caches
            subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
        for _ in range(repeats):
            for label, argv in commands.items():
                start = time.perf_counter()
                subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
                times[label].append(time.perf_counter() - start)
        # The command against a fresh sandbox: from spawn to the sandbox's first request (bench/startup.py).
        command, keys = python.parent / "upbit-cancel", (DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
        startup.time_to_first_request(command, env, keys)  # the warm-up: writes the CLI's caches
        firsts = [startup.time_to_first_request(command, env, keys) for _ in range(repeats)]
    print(f"  in {where}:")
    for label, values in times.items():
        _line(label, f"{statistics.median(values) * 1000:6.0f} ms median, {min(values) * 1000:4.0f} ms best")
    # On a machine that loses the CPU in bursts the medians carry the noise; the best runs show the cost.
    labels = list(commands)
    for name, (base, sdk) in {"import": (labels[1], labels[2]), "import + a client": (labels[3], labels[4])}.items():
        for pick_name, pick in (("median", statistics.median), ("best", min)):
            empty, low, high = pick(times[labels[0]]), pick(times[base]), pick(times[sdk])
            _line(
                f"ratio SDK / httpx+jwt, {name} ({pick_name})",
                f"{high / low:6.2f}x with the interpreter's start, {(high - empty) / (low - empty):.2f}x without",
            )
    base = labels[1]
    for label in labels[8:10]:  # the share of the import ratio that attrs and the generated client set
        _line(
            f"ratio {label.split(' (')[0]} / httpx+jwt (median)",
            f"{statistics.median(times[label]) / statistics.median(times[base]):6.2f}x with the interpreter's start",
        )
    for label in labels[6:8]:
        _line(
            f"{label.split(' (')[0]} above python -c pass",
            f"{(statistics.median(times[label]) - statistics.median(times[labels[0]])) * 1000:6.0f} ms median",
        )
    first = statistics.median(firsts)
    _line(
        "upbit-cancel --open --dry-run: spawn to first request",
        f"{first * 1000:6.0f} ms median, {min(firsts) * 1000:4.0f} ms best; "
        f"{first / statistics.median(times[labels[2]]):.2f}x the import (median)",
    )


# --- 12. cancel every open order: list + uuid cancel against Upbit's own filter cancel ----------------

_OPEN_BOOK_SERVER = """
import signal, sys
from upbit_sandbox import SandboxExchange, start_server
from upbit_sandbox.book import seed_open_orders
exchange = SandboxExchange(latency=float(sys.argv[2]))
seed_open_orders(exchange, int(sys.argv[1]), watch_every=10)
server, url = start_server(exchange)
print("listening on", url, flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
"""


@contextmanager
def _open_book(orders: int, latency: float) -> Iterator[str]:
    """A loopback sandbox in its own process holding ``orders`` open orders on 4 markets, 10 % ``watch``."""
    server = subprocess.Popen(
        [sys.executable, "-c", _OPEN_BOOK_SERVER, str(orders), repr(latency)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_this_process,
    )
    try:
        assert server.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", server.stdout.readline())
        if match is None:
            raise SystemExit("bench: the open-orders sandbox did not start")
        reset_limiters()
        yield match[1]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def _still_open(client: Client) -> int:
    """Open orders (``wait`` and ``watch``) left in the book, counted page by page (not timed)."""
    from upbit_client.api.order import list_open_orders

    left, page = 0, 1
    while True:
        answer = list_open_orders.sync_detailed(client=client, states=["wait", "watch"], page=page)
        if answer.status_code == 429:
            time.sleep(0.2)
            continue
        orders = answer.parsed if isinstance(answer.parsed, list) else []
        left += len(orders)
        if len(orders) < 100:
            return left
        page += 1


def _sweep_run(url: str, markets: list[str] | None = None) -> tuple[float, int, int, int]:
    """``cancel_open_orders_async`` (every market unless ``markets``): (wall s, requests, 429s, orders left open)."""
    from upbit_cancel import cancel_open_orders_async

    auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    client = Client(base_url=url, httpx_args={"auth": auth}, timeout=httpx.Timeout(10.0))

    async def run() -> tuple[Any, float]:
        async with client:
            client.get_async_httpx_client()
            start = time.perf_counter()
            result = await cancel_open_orders_async(client, markets=markets)
            return result, time.perf_counter() - start

    result, wall = asyncio.run(run())
    with client:
        left = _still_open(client)
    requests = result.listings_sent + result.requests_sent + result.lookups_sent
    return wall, requests, result.rate_limited, left


def _cancel_all_loop(url: str) -> tuple[float, int, int, int]:
    """The generated ``DELETE /v1/orders/open`` (count 300, the most it takes) paced at its 1 per 2 s,
    until an answer cancels nothing: (wall s, requests, 429s, orders left open)."""
    from upbit_client.api.order import cancel_open_orders
    from upbit_client.models import CancelOrdersResult

    window = cancel_open_orders.RATE_LIMIT.window_seconds if cancel_open_orders.RATE_LIMIT else 2
    auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    with Client(base_url=url, httpx_args={"auth": auth}, timeout=httpx.Timeout(10.0)) as client:
        client.get_httpx_client()
        requests = rate_limited = 0
        start = time.perf_counter()
        while True:
            _sleep_until_perf(start + requests * window)
            answer = cancel_open_orders.sync_detailed(client=client, count=300)
            requests += 1
            if answer.status_code == 429:
                rate_limited += 1
                continue
            parsed = answer.parsed
            success = parsed.success if isinstance(parsed, CancelOrdersResult) else None
            if not success or not success.count:
                break
        wall = time.perf_counter() - start
        left = _still_open(client)
    return wall, requests, rate_limited, left


def _sleep_until_perf(moment: float) -> None:
    time.sleep(max(0.0, moment - time.perf_counter()))


def bench_open_orders(count: int, latencies: list[float], runs: int) -> None:
    print(f"\n12. Cancel every open order: {count:,} open orders on 4 markets, 10 % watch (loopback sandbox, 30/s)")
    print("   cancel_open_orders (GET /v1/orders/open, then DELETE /v1/orders/uuids) against the generated")
    print("   DELETE /v1/orders/open (count 300) paced at 1 per 2 s until an answer cancels nothing,")
    print(f"   alternating, {runs} runs each, a fresh sandbox per run; wall median / worst")
    print(f"   load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for latency in latencies:
        figures: dict[str, list[tuple[float, int, int, int]]] = {
            "cancel_open_orders": [],
            "cancel-all loop": [],
            "one market, KRW-BTC": [],
        }
        for _ in range(runs):
            with _open_book(count, latency) as url:
                figures["cancel_open_orders"].append(_sweep_run(url))
            with _open_book(count, latency) as url:
                figures["cancel-all loop"].append(_cancel_all_loop(url))
            with _open_book(count, latency) as url:
                figures["one market, KRW-BTC"].append(_sweep_run(url, ["KRW-BTC"]))
        walls = {}
        for label, rows in figures.items():
            walls[label] = statistics.median(row[0] for row in rows)
            requests = sorted({row[1] for row in rows})
            _line(
                f"{label:<18} latency {latency * 1000:3.0f} ms",
                f"{walls[label]:6.3f} / {max(row[0] for row in rows):6.3f} s, "
                f"{'/'.join(map(str, requests))} requests, {sum(row[2] for row in rows)} x 429, "
                f"{max(row[3] for row in rows)} left open (worst run)",  # KRW-BTC: the other 750 are meant to stay
            )
        ratio = walls["cancel-all loop"] / walls["cancel_open_orders"]
        _line(f"cancel-all loop / cancel_open_orders (medians), latency {latency * 1000:.0f} ms", f"{ratio:.1f}x")
    print(f"   load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def bench_storm(connections: int) -> None:
    """Section 14: the sandbox under a storm of idle connections (in this process: the server's accept loop)."""
    import resource

    from upbit_sandbox import SandboxExchange
    from upbit_sandbox.server import running_server

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    count = min(connections, soft - 100)
    print(f"\n14. the sandbox server after {count:,} idle connections open and close")
    with running_server(SandboxExchange()) as url:
        port = int(url.rsplit(":", 1)[1])
        begin = time.perf_counter()
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
        opened = time.perf_counter() - begin
        for sock in sockets:
            sock.close()
        begin = time.perf_counter()
        status = httpx.get(f"{url}/v1/orders/uuids", timeout=30).status_code
        first = time.perf_counter() - begin
    _line("time to open them all", f"{opened:.2f} s")
    _line("first request after they close", f"{first * 1000:.0f} ms (HTTP {status})")


def _scheduler_lag() -> str:
    """How late a 50 ms asyncio sleep wakes on this machine right now (a loaded machine moves every timing)."""

    async def measure() -> list[float]:
        lags = []
        for _ in range(20):
            begin = time.perf_counter()
            await asyncio.sleep(0.05)
            lags.append(time.perf_counter() - begin - 0.05)
        return lags

    lags = asyncio.run(measure())
    return (
        f"a 50 ms sleep wakes {statistics.median(lags) * 1000:.1f} ms late (median), {max(lags) * 1000:.1f} ms (worst)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: proves the script runs")
    parser.add_argument("--runs", type=int, default=10, help="runs per cell of sections 2 and 5 (default 10)")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--store", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--pocket-worker", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--second-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", metavar="N,N", help="run only these sections (see the list above), full counts")
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.store)
    import pockets  # bench/pockets.py, next to this script

    if args.pocket_worker:
        return pockets.pocket_worker(args.pocket_worker, args.store, args.second_key)
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cpus")
    print(f"scheduler at start: {_scheduler_lag()}")
    import cold_bench  # bench/cold_bench.py
    import guard_bench  # bench/guard_bench.py
    import loop_lag  # bench/loop_lag.py
    import million  # bench/million.py
    import tls_cells  # bench/tls_cells.py
    import upbit_sdk_cells  # bench/upbit_sdk_cells.py

    if args.only:
        only = {int(n) for n in args.only.split(",")}
        if 1 in only:
            bench_overhead(rounds=15, per_round=200)
        if 4 in only:
            bench_import(repeats=9)
        if 5 in only:
            bench_processes([4, 8], per_process=300, runs=args.runs, only_store=True)
        if 5 in only or 20 in only:
            cold_bench.bench_cold(sys.modules[__name__], [4, 8], runs=args.runs)
        if 10 in only or 20 in only:
            cold_bench.bench_cold(sys.modules[__name__], [], runs=args.runs, two_keys=600)
        if 8 in only:
            bench_latency([0.0, 0.020, 0.050, 0.100], runs=args.runs)
        if 13 in only:
            loop_lag.bench_loop_lag(sys.modules[__name__], runs=5)
        if 15 in only:
            million.bench_million(sys.modules[__name__])
        if 16 in only:
            pockets.bench_many_pockets(runs=max(5, args.runs), per_pocket=600, tools=sys.modules[__name__])
        if 17 in only:
            guard_bench.bench_guard(sys.modules[__name__])
        if 18 in only:
            tls_cells.bench_tls(sys.modules[__name__], [0.0, 0.020, 0.050, 0.100], runs=args.runs)
        if 19 in only:
            rtts = [0.0, 0.020, 0.050, 0.100]
            upbit_sdk_cells.bench_upbit_sdk(sys.modules[__name__], tls_cells, rtts, runs=args.runs)
    elif args.quick:
        bench_overhead(rounds=3, per_round=20)
        bench_offsets([0.3], [0.0], runs=1, modes=("async",))
        bench_simulated([0.3], [0.0], runs=3)
        bench_latency([0.05], runs=1, modes=("sync",))
        bench_after_cancel(runs=1, orders=200)
        bench_processes([2], per_process=100, runs=1, only_store=True)
        cold_bench.bench_cold(sys.modules[__name__], [2], runs=1, per_process=100, two_keys=100)
        bench_store_cost(calls=100)
        bench_scaling([20, 200])
        bench_import(repeats=1)
        pockets.bench_two_keys(runs=1, per_key=100, tools=sys.modules[__name__], only_store=True)
        pockets.bench_sharing_cost([2], per_process=100, runs=1, tools=sys.modules[__name__])
        bench_open_orders(100, [0.0], runs=1)
        pockets.bench_many_pockets(runs=1, per_pocket=100, tools=sys.modules[__name__])
        loop_lag.bench_loop_lag(sys.modules[__name__], runs=1, orders=200)
        bench_storm(200)
        guard_bench.bench_guard(sys.modules[__name__], orders=100, runs=1, idle_seconds=0.5, loop_runs=0, pocket_runs=0)
        tls_cells.bench_tls(sys.modules[__name__], [0.020], runs=1, wires=("h2",), idle=0.2, variants={"": {}})
    else:
        bench_overhead(rounds=15, per_round=200)
        bench_offsets([-0.7, -0.3, 0.0, 0.3, 0.7], [0.0, 0.020], runs=args.runs)
        bench_simulated([-0.7, -0.3, 0.0, 0.3, 0.7], [0.0, 0.020], runs=args.runs)
        bench_latency([0.0, 0.020, 0.050, 0.100], runs=args.runs)
        bench_after_cancel(runs=args.runs)
        bench_processes([4, 8], per_process=300, runs=args.runs)
        cold_bench.bench_cold(sys.modules[__name__], [4, 8], runs=args.runs)
        bench_store_cost(calls=2000)
        bench_scaling([20, 200, 2000, 20000])
        bench_import(repeats=9)
        pockets.bench_two_keys(runs=max(5, args.runs), per_key=600, tools=sys.modules[__name__])
        cold_bench.bench_cold(sys.modules[__name__], [], runs=max(5, args.runs), two_keys=600)
        pockets.bench_sharing_cost([4, 8], per_process=300, runs=max(5, args.runs), tools=sys.modules[__name__])
        bench_open_orders(1000, [0.0, 0.020], runs=min(args.runs, 5))
        pockets.bench_many_pockets(runs=max(5, args.runs), per_pocket=600, tools=sys.modules[__name__])
        loop_lag.bench_loop_lag(sys.modules[__name__], runs=5)
        bench_storm(2000)
        million.bench_million(sys.modules[__name__])
        guard_bench.bench_guard(sys.modules[__name__])
        tls_cells.bench_tls(sys.modules[__name__], [0.0, 0.020, 0.050, 0.100], runs=min(args.runs, 3))
        upbit_sdk_cells.bench_upbit_sdk(sys.modules[__name__], tls_cells, [0.0, 0.020, 0.050, 0.100], runs=3)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"scheduler at end: {_scheduler_lag()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

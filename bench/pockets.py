"""``make bench`` sections on pockets: several keys and processes spending one pocket's budget.

10. Two keys of one pocket (two bots, two processes) x 600 orders each, at once, without and with the Redis
   store: the keys are named into the pocket (``UpbitAuth(pocket=...)``), the sandbox counts one window
   for both (``upbit-sandbox --add-key ... --demo-pocket``).
11. N processes x 300 orders on one pocket with the store, against ONE process sending all N x 300 in the
   same run (alternating, same sandbox, same store): what sharing costs.

Run by ``bench/run.py`` (it imports this module); each worker is ``bench/run.py --pocket-worker``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders_async
from upbit_cancel.ratelimit import reset_limiters
from upbit_client import Client
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, demo_uuid

SECOND_KEY = "bench-second-key-of-the-pocket"
SECOND_SECRET = "bench-second-secret-of-the-pocket-0123456789abcdef0123456789abcdef"
POCKET = "bots"
RUN = Path(__file__).with_name("run.py")


@contextmanager
def _pocket_sandbox(orders: int, die: Any) -> Iterator[str]:
    """``upbit-sandbox`` whose demo key and ``SECOND_KEY`` are both issued for pocket ``POCKET``."""
    command = shutil.which("upbit-sandbox", path=str(Path(sys.executable).parent)) or "upbit-sandbox"
    server = subprocess.Popen(
        [command, "--port", "0", "--orders", str(orders), "--rate-limit", "30", "--demo-pocket", POCKET,
         "--add-key", f"{SECOND_KEY}:{SECOND_SECRET}:{POCKET}"],
        stdout=subprocess.PIPE, text=True, preexec_fn=die,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", server.stdout.readline())
        if match is None:
            raise SystemExit("bench: upbit-sandbox did not start")
        yield match[1]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def pocket_worker(url: str, store: str | None, second_key: bool) -> int:
    """``--pocket-worker``: one bot of the pocket. Reads ``START FIRST COUNT`` lines, answers one JSON line each."""
    access, secret = (SECOND_KEY, SECOND_SECRET) if second_key else (DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    for line in sys.stdin:
        start, first, count = line.split()
        uuids = [demo_uuid(f"demo-{n:04d}") for n in range(int(first), int(first) + int(count))]
        reset_limiters()  # each run is a fresh process: it knows only what the store tells it
        auth = UpbitAuth(access, secret, pocket=POCKET)
        client = Client(base_url=url, httpx_args={"auth": auth}, timeout=httpx.Timeout(10.0))

        async def run(client: Client = client, uuids: list[str] = uuids, start: str = start) -> dict[str, Any]:
            async with client:
                client.get_async_httpx_client()
                await asyncio.sleep(max(0.0, float(start) - time.time()))
                result = await cancel_orders_async(client, uuids=uuids, rate_limit_store=store)
                return {
                    "wall": time.time() - float(start),
                    "429": result.rate_limited,
                    "requests": result.requests_sent,
                    "cancelled": len(result.success),
                }

        print(json.dumps(asyncio.run(run())), flush=True)
    return 0


class _Bots:
    """``count`` worker processes (the first ``second_keys`` of them sign with ``SECOND_KEY``)."""

    def __init__(self, url: str, store: str | None, count: int, second_keys: int, die: Any) -> None:
        command = [sys.executable, str(RUN), "--pocket-worker", url]
        if store is not None:
            command += ["--store", store]
        self.processes = [
            subprocess.Popen(
                command + (["--second-key"] if index < second_keys else []),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                preexec_fn=die,
            )
            for index in range(count)
        ]

    def run(self, start: float, first: int, each: int, answer_of: Any) -> list[dict[str, Any]]:
        for index, process in enumerate(self.processes):
            assert process.stdin is not None
            process.stdin.write(f"{start!r} {first + index * each} {each}\n")
            process.stdin.flush()
        return [answer_of(process, self.processes) for process in self.processes]

    def close(self) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=30)


def _floor(start: float, chunks: int) -> float:
    """To the sandbox's next second (its clock is ours), then whole seconds for the chunks at 30/s."""
    windows = math.ceil(chunks / 30) - 1
    return (math.floor(start) + 1 - start) + (windows - 1) if windows else 0.0


def _start(run: int) -> float:
    return math.floor(time.time()) + 1.0 + ((run * 0.618) % 1.0) * 0.98 + 0.01


def bench_two_keys(runs: int, per_key: int, tools: Any, *, only_store: bool = False) -> None:
    """Section 10: two keys named into one pocket, one process each, without and with the store."""
    print(f"\n10. two keys of one pocket x {per_key} orders, one process each, at once ({runs} runs per cell)")
    chunks = 2 * math.ceil(per_key / 20)
    with tools._redis() as store_url, tools._stall_meter() as meter:
        for store in [None] if store_url is None else [store_url] if only_store else [None, store_url]:
            with _pocket_sandbox(2 * per_key * runs, tools._die_with_this_process) as url:
                bots = _Bots(url, store, 2, 1, tools._die_with_this_process)
                time.sleep(1.5)  # let every worker import before the first start time
                limited, requests, over, stalls, missing = [], [], [], [], 0
                for run in range(runs):
                    start = _start(run)
                    answers = bots.run(start, 1 + run * 2 * per_key, per_key, tools._answer_of)
                    wall = max(a["wall"] for a in answers)
                    limited.append(sum(a["429"] for a in answers))
                    requests.append(sum(a["requests"] for a in answers))
                    over.append(wall - _floor(start, chunks))
                    stalls.append(meter.stalled(start, start + wall))
                    missing += 2 * per_key - sum(a["cancelled"] for a in answers)
                bots.close()
            label = f"2 keys, pocket named, {'Redis store' if store else 'no store'}"
            tools._line(f"{label}: 429 med/worst", f"{statistics.median(limited):.0f}/{max(limited)}")
            tools._line(
                f"{label}: requests med/worst", f"{statistics.median(requests):.0f}/{max(requests)} (min {chunks})"
            )
            tools._line(f"{label}: wall - floor med/worst", tools._summary(over) + " s")
            tools._line(f"{label}: stall med/worst", tools._summary(stalls) + " s")
            tools._line(f"{label}: orders not cancelled in all runs", str(missing))


def bench_sharing_cost(counts: list[int], per_process: int, runs: int, tools: Any) -> None:
    """Section 11: N processes x ``per_process`` with the store against one process x N * ``per_process``."""
    print(f"\n11. {counts} processes x {per_process} orders on one pocket with the Redis store, against one process")
    print(f"   sending all of them, alternating in the same run ({runs} runs per cell); stall shown")
    with tools._redis() as store_url, tools._stall_meter() as meter:
        if store_url is None:
            print("   redis-server not installed: section left out (apt-get install -y redis-server)")
            return
        for count in counts:
            total = count * per_process
            with _pocket_sandbox(2 * total * runs, tools._die_with_this_process) as url:
                many = _Bots(url, store_url, count, 0, tools._die_with_this_process)
                one = _Bots(url, store_url, 1, 0, tools._die_with_this_process)
                time.sleep(1.5)
                rows: dict[str, list[float]] = {"one": [], "many": [], "diff": [], "stall": []}
                limited: list[int] = []
                limited_one: list[int] = []
                missing = 0
                first = 1
                for run in range(runs):
                    start = _start(2 * run)
                    single = one.run(start, first, total, tools._answer_of)[0]
                    first += total
                    start_many = _start(2 * run + 1)
                    while start_many - start < single["wall"] + 0.5:
                        start_many += 1.0
                    # The same fraction of a second as the single run: the same floor.
                    start_many = math.floor(start_many) + (start - math.floor(start))
                    answers = many.run(start_many, first, per_process, tools._answer_of)
                    first += total
                    wall = max(a["wall"] for a in answers)
                    rows["one"].append(single["wall"])
                    rows["many"].append(wall)
                    rows["diff"].append(wall - single["wall"])
                    rows["stall"].append(meter.stalled(start_many, start_many + wall))
                    limited.append(sum(a["429"] for a in answers))
                    limited_one.append(single["429"])
                    missing += 2 * total - sum(a["cancelled"] for a in answers) - single["cancelled"]
                many.close()
                one.close()
            tools._line(
                f"{count} x {per_process}: one process x {total} wall med/worst", tools._summary(rows["one"]) + " s"
            )
            tools._line(
                f"{count} x {per_process}: {count} processes wall med/worst", tools._summary(rows["many"]) + " s"
            )
            tools._line(
                f"{count} x {per_process}: {count} processes - one process", tools._summary(rows["diff"]) + " s"
            )
            tools._line(f"{count} x {per_process}: stall med/worst", tools._summary(rows["stall"]) + " s")
            tools._line(
                f"{count} x {per_process}: 429 med/worst, {count} processes | one",
                f"{statistics.median(limited):.0f}/{max(limited)} | "
                f"{statistics.median(limited_one):.0f}/{max(limited_one)}",
            )
            tools._line(f"{count} x {per_process}: orders not cancelled in all runs", str(missing))


# --- 16. several pockets at once --------------------------------------------------------------------


@contextmanager
def _pockets_sandbox(pockets: list[str], orders: int, die: Any) -> Iterator[str]:
    """``upbit-sandbox`` with each of ``pockets`` issued its own key pair, budget and book of ``orders``."""
    command = shutil.which("upbit-sandbox", path=str(Path(sys.executable).parent)) or "upbit-sandbox"
    arguments = [command, "--port", "0", "--orders", str(orders), "--rate-limit", "30"]
    for pocket in pockets:
        arguments += ["--pocket", pocket]
    server = subprocess.Popen(arguments, stdout=subprocess.PIPE, text=True, preexec_fn=die)
    try:
        assert server.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", server.stdout.readline())
        if match is None:
            raise SystemExit("bench: upbit-sandbox did not start")
        yield match[1]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def _sweep_pockets(url: str, pockets: list[str], start: float) -> tuple[float, Any]:
    """``sweep_pockets_async`` over ``pockets`` (each its own client and key), begun at ``start``: wall, report."""
    from upbit_cancel import connect, sweep_pockets_async
    from upbit_sandbox import pocket_access_key, pocket_secret_key

    reset_limiters()
    clients = {
        p: connect(url, access_key=pocket_access_key(p), secret_key=pocket_secret_key(p), pocket=p) for p in pockets
    }

    async def run() -> tuple[float, Any]:
        await asyncio.sleep(max(0.0, start - time.time()))
        result = await sweep_pockets_async(clients)
        wall = time.time() - start
        for client in clients.values():
            await client.get_async_httpx_client().aclose()
        return wall, result

    return asyncio.run(run())


def bench_many_pockets(runs: int, per_pocket: int, tools: Any, pockets: int = 3) -> None:
    """Section 16: ``pockets`` pockets x ``per_pocket`` open orders swept at once (``sweep_pockets_async``)
    against one pocket x ``per_pocket``, alternating in one run, one sandbox process."""
    requests = math.ceil(per_pocket / 100) + math.ceil(per_pocket / 20)  # listing pages + cancels, one group
    print(f"\n16. {pockets} pockets x {per_pocket} open orders swept at once (sweep_pockets_async, a key and a budget")
    print(f"   each) against 1 pocket x {per_pocket}, alternating in one run ({runs} runs per cell); each pocket")
    print(
        f"   sends >= {requests} requests of one group at 30/s: floor = to the exchange's next second + whole seconds"
    )
    names = {run: ([f"s{run}"], [f"p{run}-{k}" for k in range(pockets)]) for run in range(runs)}
    every = [name for one, many in names.values() for name in (*one, *many)]
    rows: dict[str, dict[str, list[float]]] = {"one": {}, "many": {}}
    with _pockets_sandbox(every, per_pocket, tools._die_with_this_process) as url, tools._stall_meter() as meter:
        for run in range(runs):
            start = _start(2 * run)
            for cell, cell_pockets in (("one", names[run][0]), ("many", names[run][1])):
                if cell == "many":  # the same fraction of a second as the single pocket's run: the same floor
                    start = math.floor(time.time()) + 1.0 + (start - math.floor(start))
                wall, result = _sweep_pockets(url, cell_pockets, start)
                row = rows[cell]
                row.setdefault("wall", []).append(wall)
                row.setdefault("over", []).append(wall - _floor(start, requests))
                row.setdefault("429", []).append(sum(r.rate_limited for r in result.reports.values()))
                left = len(cell_pockets) * per_pocket - sum(len(r.success) for r in result.reports.values())
                row.setdefault("left", []).append(left + len(result.errors) * per_pocket)
                row.setdefault("stall", []).append(meter.stalled(start, start + wall))
    for cell, label in (("one", f"1 pocket x {per_pocket}"), ("many", f"{pockets} pockets x {per_pocket}")):
        row = rows[cell]
        tools._line(f"{label}: wall med/worst", tools._summary(row["wall"]) + " s")
        tools._line(f"{label}: wall - floor med/worst", tools._summary(row["over"]) + " s")
        tools._line(f"{label}: 429 med/worst", f"{statistics.median(row['429']):.0f}/{max(row['429']):.0f}")
        tools._line(f"{label}: orders left open in all runs", f"{sum(row['left']):.0f}")
        tools._line(f"{label}: stall med/worst", tools._summary(row["stall"]) + " s")
    ratio = [many / one for many, one in zip(rows["many"]["wall"], rows["one"]["wall"], strict=True)]
    tools._line(f"{pockets} pockets / 1 pocket wall, med/worst", tools._summary(ratio) + " x")

"""Section 17 of ``make bench``: the dead-man's switch (``upbit-cancel guard``) against Upbit's own cancel-all.

A guard process watches one heartbeat in a Redis store (a folder without ``redis-server``), against a
loopback sandbox in its own process holding N open orders on 4 markets, 10 % ``watch``. The bench:

- arms the heartbeat with a long timeout and measures the idle guard: CPU over a window (``/proc``,
  user + system, as a share of one core) and its resident memory (``VmRSS``, peak ``VmHWM``);
- beats once with a 1 s timeout and stops beating: the deadline is the beat's round trip midpoint + 1 s.
  Detection is the guard's claim (``fired_at``) minus the deadline; the fire's end is ``fired_at`` plus
  its report's ``elapsed`` (the last order cancelled and the scope listed empty), set against the floor
  of its requests at the sandbox's 30 a second (``run._floor``) + 0.5 s;
- against a fresh book of the same size, the loop of ``DELETE /v1/orders/open`` (count 300) at its 1 per
  2 s until an answer cancels nothing (``run._cancel_all_loop``): wall time and orders left open
  (the ``watch`` orders, which that endpoint never cancels).

Targets (issue 25): detection <= 0.2 s; idle <= 1 % of a core and <= 60 MB RSS; deadline to empty within
floor + 0.5 s with 0 x 429; faster than the cancel-all loop, with no watch order left.
"""

from __future__ import annotations

import datetime
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from guard_pockets_bench import bench_guard_pockets

from upbit_auth import UpbitAuth
from upbit_cancel.heartbeat import GuardScope, Heartbeat
from upbit_client import Client
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

NAME = "bench-bot"
TIMEOUT = 1.0
UPBIT_CANCEL = Path(sys.executable).parent / "upbit-cancel"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _memory_mb(pid: int) -> tuple[float, float]:
    values = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(values["VmRSS"].split()[0]) / 1024, int(values["VmHWM"].split()[0]) / 1024


class _GuardProcess:
    def __init__(
        self, store: str, url: str, folder: str, tools: ModuleType, names: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        env = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}
        env |= {"UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY, "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY}
        env |= extra_env or {}
        argv = [str(UPBIT_CANCEL), "guard", *(names or [NAME]), "--store", store, "--server-url", url,
                "--status-file", os.path.join(folder, "status.json")]  # fmt: skip
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        preexec_fn=tools._die_with_this_process)  # fmt: skip
        self.fires: queue.Queue[str] = queue.Queue()
        self.started = threading.Event()
        threading.Thread(target=self._pump, args=(self.process.stdout, self.fires.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self._log), daemon=True).start()

    @staticmethod
    def _pump(stream: Any, sink: Any) -> None:
        for line in stream:
            sink(line)

    def _log(self, line: str) -> None:
        if "guard watching" in line:
            self.started.set()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def _one_run(tools: ModuleType, store: str, orders: int, idle_seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder, tools._open_book(orders, 0.0) as url:
        guard = _GuardProcess(store, url, folder, tools)
        try:
            if not guard.started.wait(60):
                raise SystemExit("bench: the guard did not start")
            beating = Heartbeat(NAME, 600, store=store, scope=GuardScope(states=("wait", "watch")))
            beating.beat()
            time.sleep(min(2.0, idle_seconds))  # settled: imports done, armed
            cpu, wall = _cpu_seconds(guard.process.pid), time.monotonic()
            time.sleep(idle_seconds)
            idle = (_cpu_seconds(guard.process.pid) - cpu) / (time.monotonic() - wall)
            rss, peak = _memory_mb(guard.process.pid)
            beating.timeout = TIMEOUT
            sent = time.time()
            beating.beat()
            deadline = (sent + time.time()) / 2 + TIMEOUT
            fire = json.loads(guard.fires.get(timeout=120))
        finally:
            guard.stop()
        fired = datetime.datetime.fromisoformat(fire["fired_at"]).timestamp()
        with Client(base_url=url, httpx_args={"auth": UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)},
                    timeout=httpx.Timeout(10.0)) as client:  # fmt: skip
            left = tools._still_open(client)
        floor = tools._floor(fired, 0.0, 0.0, fire["requests"])
    return {"detect": fired - deadline, "to_empty": fired + fire["elapsed"] - deadline, "floor": floor,
            "429": fire["rate_limited"], "left": left, "idle": idle, "rss": rss, "peak": peak,
            "cancelled": fire["cancelled"]}  # fmt: skip


def bench_guard(
    tools: ModuleType, orders: int = 600, runs: int = 3, idle_seconds: float = 10.0, loop_runs: int | None = None,
    pocket_runs: int | None = None,
) -> None:  # fmt: skip
    """The section; ``loop_runs`` (default ``runs``) runs of the cancel-all loop beside it (0: none, ``--quick``);
    ``pocket_runs`` (default ``runs``) runs of 3 pockets x ``orders`` against 1 pocket (``guard_pockets_bench``)."""
    print(f"\n17. The guard (dead-man's switch): {orders:,} open orders on 4 markets, 10 % watch, heartbeat timeout")
    print(f"   {TIMEOUT:g} s, scope wait + watch; against the DELETE /v1/orders/open loop (1 per 2 s) on the same")
    print(f"   book; {runs} runs, a fresh sandbox each; idle measured over {idle_seconds:g} s while armed")
    print(f"   load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tools._redis() as redis_url, tempfile.TemporaryDirectory() as folder:
        store = redis_url or folder
        print(f"   heartbeat store: {'Redis on loopback' if redis_url else 'a folder (no redis-server)'}")
        rows = [_one_run(tools, store, orders, idle_seconds) for _ in range(runs)]
        loops = []
        for _ in range(runs if loop_runs is None else loop_runs):
            with tools._open_book(orders, 0.0) as url:
                loops.append(tools._cancel_all_loop(url))
        _report(tools, rows, loops)
        if pocket_runs != 0:
            more = runs if pocket_runs is None else pocket_runs
            bench_guard_pockets(tools, _GuardProcess, store, per_pocket=orders, runs=more)
    print(f"   load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _report(tools: ModuleType, rows: list[dict[str, float]], loops: list[Any]) -> None:
    worst = {key: max(row[key] for row in rows) for key in rows[0]}
    tools._line("detection after the deadline, worst (target <= 0.2 s)", f"{worst['detect']:.3f} s")
    tools._line("idle guard CPU, worst (target <= 1 % of a core)", f"{worst['idle'] * 100:.2f} %")
    tools._line("idle guard memory RSS / peak, worst (target <= 60 MB)", f"{worst['rss']:.1f} / {worst['peak']:.1f} MB")
    for number, row in enumerate(rows, 1):
        tools._line(f"run {number}: deadline -> scope empty / floor + 0.5 s",
                    f"{row['to_empty']:.3f} / {row['floor'] + 0.5:.3f} s, {row['cancelled']:.0f} cancelled, "
                    f"{row['429']:.0f} x 429, {row['left']:.0f} left open")  # fmt: skip
    for number, (wall, requests, limited, left) in enumerate(loops, 1):
        tools._line(f"run {number}: DELETE /v1/orders/open loop", f"{wall:.3f} s, {requests} requests, "
                    f"{limited} x 429, {left} left open (watch)")  # fmt: skip
    if loops:
        ratio = min(loop[0] for loop in loops) / max(row["to_empty"] for row in rows)
        tools._line("cancel-all loop (best) / guard deadline -> empty (worst)", f"{ratio:.1f}x")

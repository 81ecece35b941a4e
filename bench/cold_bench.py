"""The cold-start cells of sections 5 and 10 (issue 26, item 4): see ``bench/cold.py`` for what each cell is.

Every cell is timed from the first spawn to the last exit; its excess is its wall minus the wall of one
process with no store sending the same orders, spawned at the same fraction of a second in the same run.
"""

from __future__ import annotations

import json
import math
import os
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

import cold
import startup  # bench/startup.py

WORKER = Path(__file__).with_name("cold.py")


@contextmanager
def _sandbox(orders: int, offset: float, die: Any) -> Iterator[str]:
    """``upbit-sandbox`` whose demo key and ``cold.SECOND_KEY`` are both issued for pocket ``cold.POCKET``."""
    command = shutil.which("upbit-sandbox", path=str(Path(sys.executable).parent)) or "upbit-sandbox"
    server = subprocess.Popen(
        [command, "--port", "0", "--orders", str(orders), "--rate-limit", "30", "--demo-pocket", cold.POCKET,
         "--add-key", f"{cold.SECOND_KEY}:{cold.SECOND_SECRET}:{cold.POCKET}", "--clock-offset", repr(offset)],
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


class _Cells:
    """Spawns the processes of each cell, each cell at the run's fraction of a second."""

    def __init__(self, url: str, store: str, die: Any) -> None:
        self.url, self.store, self.die = url, store, die
        self.first = 1
        self.env = {k: v for k, v in os.environ.items() if k != "UPBIT_RATE_LIMIT_STORE"} | {"UPBIT_COLD_TRACE": "1"}
        self.env |= startup.demo_env()

    def spawn(
        self, fraction: float, each: list[int], *, store: bool, second_keys: int = 0, idle: bool = False, python: str
    ) -> dict[str, Any]:
        """Processes cancelling ``each[i]`` orders, spawned at ``fraction`` into the next second: wall, answers."""
        at = math.floor(time.time()) + 1.0 + fraction
        time.sleep(max(0.0, at - time.time()))
        spawned = time.time()
        processes = []
        for index, count in enumerate(each):
            command = [python, str(WORKER), self.url, str(self.first), str(count), "--spawned", repr(spawned)]
            command += ["--store", self.store] if store else []
            command += ["--second-key"] if index < second_keys else []
            command += ["--idle"] if idle else []
            self.first += count
            processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=self.env,
                                              preexec_fn=self.die))  # fmt: skip
        outputs = [process.communicate(timeout=120)[0] for process in processes]
        wall = time.time() - spawned
        answers = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
        return {"wall": wall, "answers": answers}


def _fresh(store: str, keep_phase: bool) -> None:
    """Empty the store; with ``keep_phase``, keep the phases stored (as a store a previous deploy left)."""
    import redis

    client = redis.Redis.from_url(store, socket_timeout=5, socket_connect_timeout=5)
    phases = {key: client.get(key) for key in client.scan_iter(match="*:phase:*")} if keep_phase else {}
    client.flushall()
    for key, value in phases.items():
        if value is not None:
            client.set(key, value, px=3_600_000)
    client.close()


def _breakdown(answers: list[dict[str, Any]]) -> dict[str, float]:
    """Per cell: the latest process's import, batch start, first permit, phase known and exit (s after spawn)."""
    rows: dict[str, list[float]] = {"imported": [], "begun": [], "first permit": [], "phase known": [], "ended": []}
    for answer in answers:
        rows["imported"].append(answer["imported"])
        if "begun" not in answer:
            continue
        rows["begun"].append(answer["begun"])
        rows["ended"].append(answer["ended"])
        permits = [t for kind, t, _ in answer["trace"] if kind == "permit"]
        known = [t for kind, t, _ in answer["trace"] if kind == "known"]
        rows["first permit"].append(min(permits) if permits else math.nan)
        rows["phase known"].append(min(known) if known else math.nan)
    return {name: max(values) for name, values in rows.items() if values}


def _cells(
    counts: list[int], per_process: int, two_keys: int, pythons: list[tuple[str, str]]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(cell, its baseline cell, spawn arguments) in the order a run spawns them: each tree's cells in turn."""
    plan = []
    for label, python in pythons:
        for cell, baseline, args in _tree_cells(counts, per_process, two_keys):
            plan.append((f"{label}{cell}", f"{label}{baseline}", args | {"python": python}))
    return plan


def _tree_cells(counts: list[int], per_process: int, two_keys: int) -> list[tuple[str, str, dict[str, Any]]]:
    plan: list[tuple[str, str, dict[str, Any]]] = []
    if counts:
        plan.append(("1 x idle", "1 x idle", {"each": [1], "store": False, "idle": True}))
    for count in counts:
        one = f"1 x {count * per_process}, no store"
        plan.append((one, one, {"each": [count * per_process], "store": False}))
        plan.append((f"{count} x {per_process}, fresh store", one, {"each": [per_process] * count, "store": True}))
        plan.append((f"{count} x {per_process}, phase stored", one, {"each": [per_process] * count, "store": True}))
        plan.append((f"{count} x idle (import, exit)", "1 x idle", {"each": [1] * count, "store": False, "idle": True}))
    if two_keys:
        one = f"1 x {2 * two_keys}, no store"
        plan.append((one, one, {"each": [2 * two_keys], "store": False}))
        plan.append((f"2 keys x {two_keys}, fresh store", one,
                     {"each": [two_keys, two_keys], "store": True, "second_keys": 1}))  # fmt: skip
    return plan


def bench_cold(tools: Any, counts: list[int], runs: int, *, per_process: int = 300, two_keys: int = 0,
               offset: float = 0.0) -> None:  # fmt: skip
    """The cold-start cells (``counts`` processes x ``per_process``; ``two_keys``: orders per key, 0: none).

    ``COLD_AB=LABEL=PYTHON`` runs every cell with that interpreter too (another tree's venv, e.g. main's),
    taking turns cell by cell in each run: before and after side by side. The processes run from a user's venv
    (``startup.user_python``; ``BENCH_DEV_PROCESSES=1``: this one).
    """
    ours = startup.user_python("redis")  # as a deployed bot has it: the wheel with its [redis] extra
    pythons = [("", ours)]
    if os.environ.get("COLD_AB"):
        label, python = os.environ["COLD_AB"].split("=", 1)
        pythons = [(f"{label}: ", python), ("this tree: ", ours)]
    print(f"\n   cold starts (issue 26, item 4): spawn to last exit, {runs} runs, exchange clock {offset:+g} s;")
    print("   excess = wall - one process with no store sending the same orders (same run, same fraction of a second)")
    plan = _cells(counts, per_process, two_keys, pythons)
    total = runs * sum(sum(args["each"]) for _, _, args in plan)
    walls: dict[str, list[float]] = {cell: [] for cell, _, _ in plan}
    excess: dict[str, list[float]] = {cell: [] for cell, _, _ in plan}
    limited: dict[str, list[int]] = {cell: [] for cell, _, _ in plan}
    parts: dict[str, list[dict[str, float]]] = {cell: [] for cell, _, _ in plan}
    with tools._redis() as store, _sandbox(total, offset, tools._die_with_this_process) as url:
        if store is None:
            print("   redis-server not installed: the cold-start cells are left out")
            return
        cells = _Cells(url, store, tools._die_with_this_process)
        for run in range(runs):
            fraction = ((run * 0.618) % 1.0) * 0.98 + 0.01
            for cell, baseline, args in plan:
                if args["store"]:
                    _fresh(store, keep_phase="phase stored" in cell)
                got = cells.spawn(fraction, **args)
                walls[cell].append(got["wall"])
                excess[cell].append(got["wall"] - walls[baseline][-1])
                limited[cell].append(sum(a.get("429", 0) for a in got["answers"]))
                parts[cell].append(_breakdown(got["answers"]))
                if os.environ.get("COLD_DUMP"):  # every process's trace, for a look at where the time went
                    with open(os.environ["COLD_DUMP"], "a") as dump:
                        dump.write(json.dumps({"run": run, "cell": cell, **got}) + "\n")
    _report(tools, plan, walls, excess, limited, parts)


def _report(
    tools: Any,
    plan: list[Any],
    walls: dict[str, Any],
    excess: dict[str, Any],
    limited: dict[str, Any],
    parts: dict[str, Any],
) -> None:
    for cell, baseline, _ in plan:
        tools._line(f"{cell}: wall med/worst", tools._summary(walls[cell]) + " s")
        if cell != baseline:
            tools._line(f"{cell}: excess over {baseline} med/worst", tools._summary(excess[cell]) + " s")
        tools._line(f"{cell}: 429 med/worst", f"{statistics.median(limited[cell]):.0f}/{max(limited[cell])}")
        names = parts[cell][0].keys()
        medians = "  ".join(f"{name} {statistics.median(p[name] for p in parts[cell]):.3f}" for name in names)
        tools._line(f"{cell}: latest process, s after spawn (median)", medians)

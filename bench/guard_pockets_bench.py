"""Section 17's pockets part: one guard fires on three heartbeats at once, one per pocket, against one.

One ``upbit-cancel guard`` process watches a heartbeat per pocket, each scope naming its pocket (wait and
watch), the pockets' keys in a keys file (``UPBIT_KEYS_FILE``, mode 0600). One sandbox process holds every
pocket (``SandboxExchange.add_pocket``: its own key pair, budget and book of N open orders on 4 markets,
10 % ``watch``, ``seed_open_orders(pocket=)``). Each run fires a cell of 1 pocket, then a cell of 3 pockets
whose heartbeats are beaten together with a 1 s timeout and so expire together (fresh pockets each run).

Measured per cell: detection (each fire's claim minus its own deadline, the worst); deadline -> the last
order of the last pocket cancelled (the latest ``fired_at + elapsed`` minus the earliest deadline) against
the slowest pocket's floor (``run._floor`` of its requests at 30 a second, from its claim) + 0.5 s; 429s
(all pockets); orders left open (each pocket listed with its own key).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import httpx

from upbit_auth import UpbitAuth
from upbit_cancel.heartbeat import GuardScope, Heartbeat
from upbit_client import Client
from upbit_sandbox import pocket_access_key, pocket_secret_key

TIMEOUT = 1.0
_SERVER = """
import signal, sys
from upbit_sandbox import SandboxExchange, start_server
from upbit_sandbox.book import seed_open_orders
exchange = SandboxExchange()
for pocket in sys.argv[2:]:
    exchange.add_pocket(pocket)
    seed_open_orders(exchange, int(sys.argv[1]), watch_every=10, pocket=pocket)
server, url = start_server(exchange)
print("listening on", url, flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
"""


@contextmanager
def _pockets_book(pockets: list[str], orders: int, tools: ModuleType) -> Iterator[str]:
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(orders), *pockets], stdout=subprocess.PIPE,
                              text=True, preexec_fn=tools._die_with_this_process)  # fmt: skip
    try:
        assert server.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", server.stdout.readline())
        if match is None:
            raise SystemExit("bench: the pockets sandbox did not start")
        yield match[1]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def _keys_file(folder: str, pockets: list[str]) -> str:
    path = os.path.join(folder, "keys.toml")
    tables = "".join(
        f'[{p}]\naccess_key = "{pocket_access_key(p)}"\nsecret_key = "{pocket_secret_key(p)}"\n' for p in pockets
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(tables)
    return path


def _left(url: str, pocket: str, tools: ModuleType) -> int:
    auth = UpbitAuth(pocket_access_key(pocket), pocket_secret_key(pocket))
    with Client(base_url=url, httpx_args={"auth": auth}, timeout=httpx.Timeout(10.0)) as client:
        return int(tools._still_open(client))


def _fire_together(guard: Any, beats: dict[str, Heartbeat], url: str, tools: ModuleType) -> dict[str, float]:
    """Beat each of ``beats`` (pocket -> heartbeat) once with ``TIMEOUT`` and stop; wait for every fire."""
    deadlines = {}
    for beating in beats.values():
        beating.timeout = TIMEOUT
        sent = time.time()
        beating.beat()
        deadlines[beating.name] = (sent + time.time()) / 2 + TIMEOUT
    fires = [json.loads(guard.fires.get(timeout=120)) for _ in beats]
    fired = {fire["heartbeat"]: datetime.datetime.fromisoformat(fire["fired_at"]).timestamp() for fire in fires}
    deadline = min(deadlines.values())
    return {
        "detect": max(fired[name] - deadlines[name] for name in fired),
        "to_empty": max(fired[f["heartbeat"]] + f["elapsed"] for f in fires) - deadline,
        "floor": max(tools._floor(fired[f["heartbeat"]], 0.0, 0.0, f["requests"]) for f in fires),
        "429": sum(f["rate_limited"] for f in fires), "cancelled": sum(f["cancelled"] for f in fires),
        "complete": all(f["complete"] for f in fires), "left": sum(_left(url, p, tools) for p in beats),
    }  # fmt: skip


def bench_guard_pockets(
    tools: ModuleType, guard_process: Any, store: str, per_pocket: int = 600, pockets: int = 3, runs: int = 3
) -> None:
    """The part; ``guard_process(store, url, folder, tools, names, env)`` starts the guard (``guard_bench``)."""
    print(
        f"\n   {pockets} pockets x {per_pocket:,} against 1 pocket x {per_pocket:,}, one guard, a heartbeat per pocket"
    )
    print(f"   (timeout {TIMEOUT:g} s, beaten together), keys per pocket in UPBIT_KEYS_FILE; {runs} runs, alternating")
    cells = {run: {"one": [f"s{run}"], "many": [f"p{run}-{k}" for k in range(pockets)]} for run in range(runs)}
    every = [p for cell in cells.values() for names in cell.values() for p in names]
    rows: dict[str, list[dict[str, float]]] = {"one": [], "many": []}
    with tempfile.TemporaryDirectory() as folder, _pockets_book(every, per_pocket, tools) as url:
        env = {"UPBIT_KEYS_FILE": _keys_file(folder, every)}
        beats = {p: Heartbeat(f"hb-{p}", 600, store=store, scope=GuardScope(pocket=p, states=("wait", "watch")))
                 for p in every}  # fmt: skip
        guard = guard_process(store, url, folder, tools, [b.name for b in beats.values()], env)
        try:
            if not guard.started.wait(60):
                raise SystemExit("bench: the guard did not start")
            for beating in beats.values():
                beating.beat()  # armed, 600 s: nothing fires until a cell's beats with 1 s
            time.sleep(2.0)
            for run in range(runs):
                for cell in ("one", "many"):
                    rows[cell].append(_fire_together(guard, {p: beats[p] for p in cells[run][cell]}, url, tools))
        finally:
            guard.stop()
    _report(rows, pockets, per_pocket, tools)


def _report(rows: dict[str, list[dict[str, float]]], pockets: int, per_pocket: int, tools: ModuleType) -> None:
    for cell, label in (("one", f"1 pocket x {per_pocket}"), ("many", f"{pockets} pockets x {per_pocket}")):
        for number, row in enumerate(rows[cell], 1):
            met = "met" if row["to_empty"] <= row["floor"] + 0.5 else "MISSED"
            tools._line(f"run {number}, {label}: deadline -> last order / floor + 0.5 s",
                        f"{row['to_empty']:.3f} / {row['floor'] + 0.5:.3f} s ({met}), detect {row['detect']:.3f} s, "
                        f"{row['cancelled']:.0f} cancelled, {row['429']:.0f} x 429, {row['left']:.0f} left, "
                        f"{'complete' if row['complete'] else 'NOT complete'}")  # fmt: skip
        met = sum(row["to_empty"] <= row["floor"] + 0.5 for row in rows[cell])
        tools._line(f"{label}: within floor + 0.5 s", f"{met} of {len(rows[cell])} runs")
    ratio = [m["to_empty"] / o["to_empty"] for m, o in zip(rows["many"], rows["one"], strict=True)]
    tools._line(f"{pockets} pockets / 1 pocket, deadline -> last order, med/worst", tools._summary(ratio) + " x")

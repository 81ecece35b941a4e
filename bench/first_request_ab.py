"""Issue 26's start-up ratio of two trees, interleaved: spawn to first request against the batch path's import.

    .venv/bin/python bench/first_request_ab.py ROUNDS NAME=BIN NAME=BIN [--phases | --tls]

Each BIN is the ``bin`` folder of a user's venv (the wheel and its runtime dependencies only, made with
``startup._build_and_install(folder)`` from a tree at the commit to compare). Each round times, in each
venv, ``python -c "import <the batch path>"`` (section 4's import figure, wall time with the interpreter's
start and exit) and ``upbit-cancel --open --dry-run`` against a fresh sandbox from spawn to the sandbox's
first request (``startup.time_to_first_request``), the venvs' order swapped every round so a burst of
machine noise falls on both. The ratio is taken per round (first request over the import of the same
round), then its median: less disturbed by the load than a ratio of medians.

``--tls``: the sandbox serves HTTPS with a CA of its own, which the command trusts through ``SSL_CERT_FILE``
with the public roots beside it (``startup.time_to_first_request``): the first request then comes after the
whole CA bundle is parsed and a handshake made, as an operator's run to Upbit does.

``--phases`` instead runs the command ROUNDS times per venv under a tracer that imports the pieces one
after the other (the batch path, argparse, asyncio, the CLI, the sweep, httpcore, the transport, anyio's
asyncio backend), then runs the command, and prints the median milliseconds of each step: where the time
between the import and the first request goes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import startup  # bench/startup.py

from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

BATCH_PATH = "import upbit_auth, upbit_client, upbit_cancel.batch, upbit_client.api.order"
KEYS = (DEMO_ACCESS_KEY, DEMO_SECRET_KEY)

# The tracer: run as ``python -c TRACER T0 URL`` in a venv; prints "step<TAB>ms since the step before".
# The command's own code is not changed: the pieces are imported ahead of it, then ``entry.main`` runs,
# and the transport's first hand-over to httpcore (``Network._send_async``) is the "first request".
TRACER = """
import sys, time
t0 = float(sys.argv[1]); marks = [("interpreter up", time.time())]
def mark(step): marks.append((step, time.time()))
from upbit_cancel import entry; mark("entry (console script)")
import upbit_auth, upbit_client, upbit_cancel.batch, upbit_client.api.order; mark("the batch path")
import argparse; mark("argparse")
import asyncio; mark("asyncio")
import upbit_cancel.cli; mark("upbit_cancel.cli (the rest)")
import upbit_cancel.sweep; mark("upbit_cancel.sweep")
import httpcore; mark("httpcore, h11, anyio (package)")
import upbit_cancel.transport as transport; mark("upbit_cancel.transport, network")
import anyio, anyio._backends._asyncio, anyio.abc, anyio.lowlevel, anyio.streams.tls
anyio.get_current_task; mark("anyio's asyncio backend")
import upbit_cancel.client as client
shared = client.shared_tls_context
def timed_shared():
    mark("the command, up to the TLS context"); made = shared(); mark("the shared TLS context"); return made
client.shared_tls_context = timed_shared
run = asyncio.run
def timed_run(*args, **kwargs):
    mark("the command, up to asyncio.run"); return run(*args, **kwargs)
asyncio.run = timed_run
send = transport.Network._send_async
async def timed_send(self, request):
    if marks[-1][0] != "asyncio.run to the first request":
        mark("asyncio.run to the first request")
    return await send(self, request)
transport.Network._send_async = timed_send
sys.argv = ["upbit-cancel", "--open", "--dry-run", "--server-url", sys.argv[2]]
try:
    entry.main()
finally:
    before = t0
    for step, at in marks:
        print(f"{step}\\t{(at - before) * 1000:.2f}", file=sys.__stderr__); before = at
"""


def _environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "UPBIT_OPEN_API_ACCESS_KEY": KEYS[0], "UPBIT_OPEN_API_SECRET_KEY": KEYS[1]}


def _import_figure(folder: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(folder / "python"), "-c", BATCH_PATH], env=env, check=True)
    return time.perf_counter() - start


def _phases(folder: Path, env: dict[str, str]) -> dict[str, float]:
    """One traced run of the command against a fresh sandbox: milliseconds per step."""
    server = subprocess.Popen([sys.executable, "-c", startup._FIRST_REQUEST_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        argv = [str(folder / "python"), "-c", TRACER, repr(time.time()), url]
        run = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
        steps = [line.split("\t") for line in run.stderr.splitlines() if line.count("\t") == 1]
        return {step: float(ms) for step, ms in steps}
    finally:
        server.terminate()
        server.wait(timeout=10)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def compare(rounds: int, folders: dict[str, Path], tls: bool = False) -> None:
    env = _environment()
    for folder in folders.values():  # the warm-up, untimed: bytecode caches written
        _import_figure(folder, env)
        startup.time_to_first_request(folder / "upbit-cancel", env, KEYS, tls=tls)
    imports: dict[str, list[float]] = {name: [] for name in folders}
    firsts: dict[str, list[float]] = {name: [] for name in folders}
    print(f"load average before: {_load()}")
    for number in range(rounds):
        names = list(folders) if number % 2 == 0 else list(reversed(folders))
        for name in names:
            imports[name].append(_import_figure(folders[name], env))
            firsts[name].append(startup.time_to_first_request(folders[name] / "upbit-cancel", env, KEYS, tls=tls))
    print(f"load average after: {_load()}")
    for name in folders:
        ratios = [first / imported for first, imported in zip(firsts[name], imports[name], strict=True)]
        print(
            f"{name}: import {statistics.median(imports[name]) * 1000:.0f} ms ({min(imports[name]) * 1000:.0f} best); "
            f"first request {statistics.median(firsts[name]) * 1000:.0f} ms ({min(firsts[name]) * 1000:.0f} best); "
            f"first request / import: {statistics.median(ratios):.2f}x median of the rounds' ratios "
            f"({statistics.median(firsts[name]) / statistics.median(imports[name]):.2f}x of the medians), "
            f"{sum(ratio <= 1.3 for ratio in ratios)}/{rounds} rounds within 1.3x"
        )


def phases(rounds: int, folders: dict[str, Path]) -> None:
    env = _environment()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in folders}
    print(f"load average before: {_load()}")
    for number in range(rounds):
        for name in list(folders) if number % 2 == 0 else list(reversed(folders)):
            runs[name].append(_phases(folders[name], env))
    print(f"load average after: {_load()}")
    steps = list(dict.fromkeys(step for made in runs.values() for run in made for step in run))
    print(f"{'step (median ms)':44}" + "".join(f"{name:>12}" for name in folders))
    for step in steps:
        cells = [statistics.median(run.get(step, 0.0) for run in runs[name]) for name in folders]
        print(f"{step:44}" + "".join(f"{cell:12.1f}" for cell in cells))


def main() -> None:
    rounds = int(sys.argv[1])
    folders = {name: Path(path) for name, path in (given.split("=", 1) for given in sys.argv[2:] if "=" in given)}
    if "--phases" in sys.argv:
        phases(rounds, folders)
    else:
        compare(rounds, folders, tls="--tls" in sys.argv)


if __name__ == "__main__":
    main()

"""Section 18 of ``make bench``: 1,000 orders over TLS through a link that delays every packet (issue 26).

The sandbox (``upbit-sandbox --tls`` / ``--http2``, a process of its own) sits behind its delaying
link (``--link-latency-ms RTT``: every chunk forwarded RTT/2 late each way, the TCP handshake charged
a round trip), so TCP and TLS handshakes pay round trips as over a real link. Cells, per round trip
(0, 20, 50, 100 ms) and per wire (plain HTTP/1.1, HTTP/1.1 over TLS, HTTP/2 over TLS), side by side:

- **fresh process**: a new Python process imports the SDK, ``connect()``s and cancels 1,000 orders
  (async); timed from spawn to exit; from a user's venv (the wheel with its runtime dependencies, and the
  ``[http2]`` extra for HTTP/2: ``startup.user_python``), not the development venv, whose trio and h2 slow
  every process's first ``connect()`` (``BENCH_DEV_PROCESSES=1`` runs it there);
- **new client**: a new ``connect()`` client in a warm process (fresh limiter), its first batch;
- **warm**: the next batch of that client, its connections kept alive;
- **gap 6 s**: the same client idle 6 s (past httpx's default 5 s keep-alive; the server keeps 60 s);
- **past keep-alive**: right after, the link cuts every connection (``SIGUSR1``: a server whose
  keep-alive ran out), then a batch.

Beside wall - floor (which a loaded machine's CPU moves by tenths of seconds): ``conn``, the new
connections a batch opened (each a TCP, and over TLS a TLS, handshake: counted by the network
streams its answers came on), and ``first``, from the call to its first answer (1 round trip on a
kept connection, 2 on a new plain one, 3 on a new TLS one).

Each run starts at another point of the exchange's second (clock 0.3 s off ours). floor = to the
exchange's window the last chunk needs + one round trip (a chunk reaches the exchange RTT/2 after it
leaves). Targets (issue 26): warm (and gap) <= floor + 0.15 s + 2 RTT; past keep-alive <= floor + 0.15 s + 3 RTT; fresh
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

OFFSET = 0.3
"""The exchange's clock runs this far ahead of ours (as in section 8)."""
IDLE = 6.0
"""Seconds the gap cell waits: past httpx's default keep-alive expiry of 5 s."""
WIRES = ("http", "https", "h2")
"""Plain HTTP/1.1, HTTP/1.1 over TLS (the stdlib server), HTTP/2 over TLS (hypercorn, ALPN)."""
CELLS = ("fresh process", "new client", "warm", "gap", "past keep-alive")
VARIANTS: dict[str, dict[str, Any]] = {
    "": {},
    "keep-alive 5 s": {"limits": "httpx-5s"},
}
"""The clients measured side by side in the kept-client cells: ``connect()`` as it is, and with httpx's 5 s
keep-alive (``connect()``'s own before issue 26): extra ``httpx_args`` for each."""


def _httpx_extra(options: dict[str, Any]) -> dict[str, Any]:
    if options.get("limits") == "httpx-5s":
        import httpx

        from upbit_cancel.client import default_limits

        ours = default_limits()
        limits = httpx.Limits(
            max_connections=ours.max_connections, max_keepalive_connections=ours.max_keepalive_connections
        )
        return {**options, "limits": limits}
    return options


class Streams:
    """A response hook: the network streams (connections) answers came on, and when each answer came."""

    def __init__(self) -> None:
        self.seen: list[Any] = []  # the streams themselves: kept alive, no id() of a closed one is reused
        self.new = 0
        self.answers: list[float] = []

    async def __call__(self, response: Any) -> None:
        self.answers.append(time.time())
        stream = response.extensions.get("network_stream")
        if not any(stream is seen for seen in self.seen):
            self.seen.append(stream)
            self.new += 1

    def batch(self) -> tuple[int, list[float]]:
        """(new connections, answer times) since the last call."""
        new, answers = self.new, self.answers
        self.new, self.answers = 0, []
        return new, answers


def _client(
    url: str, ca: str | None, http2: bool, streams: Streams | None = None, options: dict[str, Any] | None = None
) -> Any:
    from demo_identity import demo_identity  # bench/demo_identity.py

    from upbit_cancel import connect

    access_key, secret_key, _ = demo_identity()
    httpx_args: dict[str, Any] = _httpx_extra(options or {})
    if streams is not None:
        httpx_args["event_hooks"] = {"response": [streams]}
    if ca:
        httpx_args["verify"] = ca
    if http2:
        httpx_args["http2"] = True
    return connect(
        url,
        access_key=access_key,
        secret_key=secret_key,
        timeout=10.0,
        httpx_args=httpx_args,
    )


def _ids(first: int, count: int = 1000) -> list[str]:
    from demo_identity import demo_identity  # bench/demo_identity.py

    demo_uuid = demo_identity()[2]
    return [demo_uuid(f"demo-{n:04d}") for n in range(first, first + count)]


def fresh(url: str, ca: str, http2: str, first: str) -> int:
    """``--fresh``: what a kill switch started from cold does: import, connect, cancel 1,000 orders, exit."""
    from upbit_cancel import cancel_orders_async

    streams = Streams()
    client = _client(url, ca or None, http2 == "1", streams)

    async def run() -> Any:
        async with client:
            return await cancel_orders_async(client, uuids=_ids(int(first)))

    result = asyncio.run(run())
    new, answers = streams.batch()
    done = {"429": result.rate_limited, "requests": result.requests_sent, "done": len(result.success)}
    print(json.dumps({**done, "conn": new, "first_at": min(answers)}))
    return 0


class Sandbox:
    """A running ``upbit-sandbox``: its URL, CA file ("" for plain HTTP), and the link's cut (``SIGUSR1``)."""

    def __init__(self, process: subprocess.Popen[str], url: str, ca: str) -> None:
        self.process, self.url, self.ca = process, url, ca

    def drop_connections(self) -> None:
        self.process.send_signal(signal.SIGUSR1)


@contextmanager
def _sandbox(tools: ModuleType, wire: str, rtt: float, orders: int) -> Iterator[Sandbox]:
    """``upbit-sandbox`` for ``wire`` behind a link of round trip ``rtt``."""
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
        yield Sandbox(server, url[1], ca[1] if ca else "")
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
    if cell in ("warm", "gap"):
        return 0.15 + 2 * rtt
    return 0.15 + 3 * rtt  # past keep-alive (and a new client, held to the same target)


def _next_at(fraction: float, rtt: float) -> float:
    """Our time that is ``fraction`` into the exchange's next second (as a request sent then reaches it)."""
    now = time.time()
    return math.floor(now + OFFSET + rtt / 2) + 1 - OFFSET - rtt / 2 + fraction


def _at(fraction: float, rtt: float) -> float:
    """Sleep to ``fraction`` into the exchange's next second (as the request will reach it)."""
    time.sleep(max(0.0, _next_at(fraction, rtt) - time.time()))
    return time.time()


def _fresh_run(tools: ModuleType, url: str, ca: str, http2: bool, first: int, start: float) -> dict[str, Any]:
    """One fresh process, from a user's venv (the wheel; with ``[http2]`` for HTTP/2): ``startup.user_python``."""
    import startup  # bench/startup.py

    python = startup.user_python("http2" if http2 else "")
    command = [python, __file__, "--fresh", url, ca, "1" if http2 else "0", str(first)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("UPBIT_")} | startup.demo_env()
    time.sleep(max(0.0, start - time.time()))
    begin = time.time()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    end = time.time()
    if done.returncode != 0:
        raise SystemExit(f"bench: the fresh process failed: {done.stderr[-2000:]}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    return {**row, "begin": begin, "end": end, "first": row.pop("first_at") - begin}


def _kept_runs(
    tools: ModuleType,
    sandbox: Any,
    http2: bool,
    first: int,
    fraction: float,
    rtt: float,
    idle: float,
    options: dict[str, Any],
) -> Any:
    """One client: its first batch, the next one (warm), one after ``idle`` seconds, one after its connections
    were cut."""
    from upbit_cancel import cancel_orders_async

    tools.reset_limiters()  # a new client of a fresh limiter: as a process that has not sent yet
    streams = Streams()
    client = _client(sandbox.url, sandbox.ca or None, http2, streams, options)
    rows: dict[str, dict[str, Any]] = {}

    async def batch(cell: str, offset: int) -> None:
        _at(fraction, rtt)
        begin = time.time()
        result = await cancel_orders_async(client, uuids=_ids(first + offset))
        new, answers = streams.batch()
        rows[cell] = {
            "429": result.rate_limited,
            "requests": result.requests_sent,
            "done": len(result.success),
            "begin": begin,
            "end": time.time(),
            "conn": new,
            "first": min(answers) - begin,
        }

    async def run() -> None:
        async with client:
            await batch("new client", 0)
            await batch("warm", 1000)
            await asyncio.sleep(idle)
            await batch("gap", 2000)
            sandbox.drop_connections()
            await asyncio.sleep(rtt + 0.5)  # the cut reaches the client (the sandbox may be slow to take the signal)
            await batch("past keep-alive", 3000)

    asyncio.run(run())
    return rows


def _variants(wire: str, variants: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The variants that differ on ``wire``: over HTTP/2 ``connect()`` keeps httpx's 5 s already."""
    return {label: options for label, options in variants.items() if wire != "h2" or "limits" not in options}


def _report(tools: ModuleType, meter: Any, wire: str, rtt: float, figures: dict[str, list[dict[str, Any]]]) -> Any:
    chunks = math.ceil(1000 / tools.PER_REQUEST)
    rows = []
    for label, values in figures.items():
        cell = label.split(", ")[0]
        overs = [v["end"] - v["begin"] - _floor(v["begin"], rtt, chunks, tools.PER_SECOND) for v in values]
        stalls = [meter.stalled(v["begin"], v["end"]) for v in values]
        target = _target(cell, rtt)
        met = sum(over <= target for over in overs)
        requests = statistics.median(v["requests"] for v in values)
        tools._line(
            f"{wire:<5} {label:<31} RTT {rtt * 1000:3.0f} ms (target {target:.2f} s)",
            f"429 {max(v['429'] for v in values)}  req {requests:.0f}  "
            f"over {tools._summary(overs)}  stall {tools._summary(stalls)}  met {met}/{len(values)}  "
            f"conn {statistics.median(v['conn'] for v in values):.0f}  "
            f"first {statistics.median(v['first'] for v in values) * 1000:4.0f} ms  "
            f"cancelled min {min(v['done'] for v in values)}",
        )
        rows.append({"wire": wire, "cell": label, "rtt": rtt, "over": overs, "stall": stalls, "values": values})
    return rows


def bench_tls(
    tools: ModuleType,
    rtts: list[float],
    runs: int,
    wires: tuple[str, ...] = WIRES,
    idle: float = IDLE,
    variants: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    variants = VARIANTS if variants is None else variants
    print(f"\n18. 1,000 orders (async) over TLS and plain HTTP through a link delaying every packet ({runs} runs per")
    print(f"    cell; exchange clock {OFFSET:+.1f} s from ours). Cells: {', '.join(CELLS)} (gap: {idle:g} s idle);")
    print(f"    the kept-client cells also with: {', '.join(label for label in variants if label) or '-'}.")
    print("    Figures: 429s worst, requests median, wall - floor median/worst (s), met: runs within the target")
    print("    (fresh process floor + 1 s + 3 RTT; warm and gap + 0.15 s + 2 RTT; new client and past keep-alive")
    print("    + 0.15 s + 3 RTT), conn: new connections the batch opened (median), first: call to first answer")
    import startup  # bench/startup.py

    for wire in wires:  # built before any cell is timed
        print(f"    fresh processes ({wire}) run from {startup.user_python('http2' if wire == 'h2' else '')}")
    fractions = [((index * 0.618) % 1.0) * 0.98 + 0.01 for index in range(runs)]
    rows: list[dict[str, Any]] = []
    with tools._stall_meter() as meter:
        for rtt in rtts:
            for wire in wires:
                chosen = _variants(wire, variants)
                figures: dict[str, list[dict[str, Any]]] = {}
                per_run = 1000 + 4000 * len(chosen)
                with _sandbox(tools, wire, rtt, orders=per_run * runs) as sandbox:
                    for run, fraction in enumerate(fractions):
                        first = 1 + run * per_run
                        start = _at(fraction, rtt)
                        fresh = _fresh_run(tools, sandbox.url, sandbox.ca, wire == "h2", first, start)
                        figures.setdefault("fresh process", []).append(fresh)
                        for index, (label, options) in enumerate(chosen.items()):
                            at = first + 1000 + 4000 * index
                            kept = _kept_runs(tools, sandbox, wire == "h2", at, fraction, rtt, idle, options)
                            for cell, row in kept.items():
                                figures.setdefault(f"{cell}, {label}" if label else cell, []).append(row)
                rows += _report(tools, meter, wire, rtt, figures)
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--fresh":
        sys.exit(fresh(*sys.argv[2:]))
    raise SystemExit("usage: tls_cells.py --fresh URL CA HTTP2 FIRST (make bench runs the section: --only 16)")

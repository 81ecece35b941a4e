"""Section 15 of ``make bench``: a million ids (the documented maximum), sync, async and the CLI (issue 23, row 5).

Each cell runs in a process of its own against ``upbit-sandbox --rate-limit 0`` (another process), with
``timeout_total`` 10 s. The measured process reports its own peak RSS (``VmHWM`` of ``/proc/self/status``
at its end) and the monotonic time of its first request (an httpx transport wrapped to note it; the
clock is the machine's, so the parent compares it with when the process ended). The client's own limiter
paces the requests as the spec says, so most of the million are ``not_sent`` at the deadline.

Targets (issue 23): peak RSS <= 100 MB + 400 bytes per id (500 MB at a million); the run ends within
the timeout, counted from the first request, plus the time to write the report. A cell is "ok" when its
batch is back within the timeout + 1 s of its first request (the CLI's batch call is noted apart from the
command's end, the rest being the report's writing) and its peak is within the target.

``python bench/million.py --child MODE URL COUNT`` is one measured process (MODE: sync, async, cli-json,
cli-table); ``python bench/million.py [COUNT]`` runs the section alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TIMEOUT = 10.0
"""``timeout_total`` of every cell, seconds."""
BASE_MB = 100
PER_ID_BYTES = 400
MODES = ("sync", "async", "cli-json", "cli-table")


def peak_rss_mb() -> float:
    """This process's peak resident set so far (``VmHWM``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _note_first_request(marks: dict[str, float]) -> None:
    """Wrap httpx's clients' ``send`` so that the first request either sends notes its time."""
    import httpx

    send, send_async = httpx.Client.send, httpx.AsyncClient.send

    def noted(self: Any, request: Any, **kwargs: Any) -> Any:
        marks["last"] = time.monotonic()
        marks.setdefault("first", marks["last"])
        return send(self, request, **kwargs)

    async def noted_async(self: Any, request: Any, **kwargs: Any) -> Any:
        marks["last"] = time.monotonic()
        marks.setdefault("first", marks["last"])
        return await send_async(self, request, **kwargs)

    httpx.Client.send = noted  # type: ignore[method-assign]
    httpx.AsyncClient.send = noted_async  # type: ignore[method-assign]


def _ids(count: int) -> list[str]:
    return [f"bench-{n:07d}" for n in range(count)]


def _library(mode: str, url: str, count: int, marks: dict[str, float]) -> dict[str, Any]:
    import anyio

    from upbit_auth import UpbitAuth
    from upbit_cancel import cancel_orders, cancel_orders_async
    from upbit_client import Client
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    client = Client(base_url=url, httpx_args={"auth": UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)}, timeout=10.0)
    ids = _ids(count)
    marks["called"] = time.monotonic()
    if mode == "sync":
        with client:
            result = cancel_orders(client, identifiers=ids, timeout_total=TIMEOUT, confirm=False)
            marks["returned"] = time.monotonic()
    else:

        async def run() -> Any:
            async with client:
                report = await cancel_orders_async(client, identifiers=ids, timeout_total=TIMEOUT, confirm=False)
                marks["returned"] = time.monotonic()
                return report

        result = anyio.run(run)
        marks["loop_closed"] = time.monotonic()
    return {"success": len(result.success), "failed": len(result.failed), "unconfirmed": len(result.unconfirmed),
            "not_sent": len(result.not_sent), "requests": result.requests_sent}  # fmt: skip


def _cli(mode: str, url: str, count: int, marks: dict[str, float]) -> dict[str, Any]:
    from upbit_cancel import cli
    from upbit_cancel.entry import main as entry_main
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    batch = cli.cancel_orders_async

    async def noted_batch(*args: Any, **kwargs: Any) -> Any:
        try:
            return await batch(*args, **kwargs)
        finally:
            marks["batch_returned"] = time.monotonic()

    cli.cancel_orders_async = noted_batch  # the library call the command makes (``cli._ids_job``)

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(_ids(count)) + "\n")
    os.environ.update(UPBIT_OPEN_API_ACCESS_KEY=DEMO_ACCESS_KEY, UPBIT_OPEN_API_SECRET_KEY=DEMO_SECRET_KEY)
    argv = ["upbit-cancel", "--identifiers-from", handle.name, "--server-url", url, "--timeout", str(TIMEOUT)]
    sys.argv = [*argv, "--no-confirm", *(["--json"] if mode == "cli-json" else [])]
    out = sys.stdout
    try:
        with open(os.devnull, "w") as sink:
            sys.stdout = sink
            try:
                status = entry_main()
            except SystemExit as exc:
                status = exc.code
    finally:
        sys.stdout = out
        os.unlink(handle.name)
    marks["returned"] = time.monotonic()
    return {"exit": status}


def child(mode: str, url: str, count: int) -> int:
    """One measured process: run the cell, print its figures as one JSON line."""
    marks: dict[str, float] = {}
    _note_first_request(marks)
    figures = (_cli if mode.startswith("cli") else _library)(mode, url, count, marks)
    figures.update(marks, peak_mb=peak_rss_mb(), ended=time.monotonic())
    print(json.dumps(figures))
    return 0


def _cell(mode: str, url: str, count: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, url, str(count)], capture_output=True, text=True, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-400:]}
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def bench_million(tools: Any, count: int = 1_000_000) -> None:
    """Print peak RSS and the wall time from the first request of each mode, against the targets."""
    target_mb = BASE_MB + PER_ID_BYTES * count / 1e6
    print(f"\n15. {count:,} ids, timeout {TIMEOUT:g} s, sandbox --rate-limit 0 (issue 23 row 5)")
    print(f"    target: peak RSS <= {target_mb:.0f} MB; returns <= {TIMEOUT:g} s after the first request + report")
    with tools._sandbox(0, rate_limit=None) as (url, _uuids):
        for mode in MODES:
            figures = _cell(mode, url, count)
            if "error" in figures:
                tools._line(mode, f"FAILED: {figures['error']!r}")
                continue
            first = figures.get("first")
            wall = "no request" if first is None else f"{figures['returned'] - first:.1f} s from the first request"
            if first is not None and "batch_returned" in figures:
                wall += f" (batch back at {figures['batch_returned'] - first:.1f} s, then the report)"
            before = (
                "" if first is None or "called" not in figures else f", {first - figures['called']:.1f} s before it"
            )
            rss = figures["peak_mb"]
            back = figures.get("batch_returned", figures["returned"])
            in_time = first is not None and back - first <= TIMEOUT + 1
            verdict = "ok" if rss <= target_mb and in_time else "MISSED"
            tools._line(f"{mode}", f"peak {rss:.0f} MB, {wall}{before}  [{verdict}]")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    sys.path.insert(0, str(Path(__file__).parent))
    import run as bench_tools  # bench/run.py

    bench_million(bench_tools, int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)

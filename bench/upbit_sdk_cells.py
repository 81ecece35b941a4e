"""Section 19: section 18's cells side by side for the official upbit-sdk 1.1.0 over the same TLS link (issue 26).

upbit-sdk pulls httpx 0.29, which the generator's environment cannot hold, so it runs from a virtual
environment of its own (``.venv-deps/upbit-sdk-1.1.0``, made by ``make bench`` on first use; a benchmark
dependency only). Two ways a user cancels 1,000 orders with it, 20 ids a request: an async
``asyncio.gather`` of all 50 ``cancel_by_uuids`` calls at once, and a sync loop of them; it has no
rate limiter (it retries a 429 itself, twice, with back-off). Cells over HTTPS (HTTP/1.1) at each round
trip: a **fresh process** (spawn to the first batch's end: import, client, batch) and the **warm**
client's next batch; figures as in section 18 (429s counted by a response hook).

``python bench/upbit_sdk_cells.py child async|sync URL`` (under that venv) is the process: it reads one
JSON job a line (``{"ids": [...], "start": t}``), sleeps to ``start``, runs the batch and answers a line.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

VERSION = "1.1.0"
VENV = Path(__file__).resolve().parent.parent / ".venv-deps" / f"upbit-sdk-{VERSION}"
MODES = ("async gather", "sync loop")


def _venv_python() -> Path | None:
    """The venv's python, made on first use (``pip install upbit-sdk==1.1.0``); None if it cannot be made."""
    python = VENV / "bin" / "python"
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, check=False)
        if made.returncode == 0:
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"upbit-sdk=={VERSION}"], check=False)
    done = subprocess.run([str(python), "-c", "import upbit"], capture_output=True, check=False)
    return python if python.exists() and done.returncode == 0 else None


# --- the child (under upbit-sdk's venv: only the standard library, httpx and upbit here) ----------------


def _child(mode: str, url: str) -> int:  # pragma: no cover - runs in the other venv
    import httpx
    import upbit

    statuses: list[int] = []
    keys = {"access_key": os.environ["BENCH_ACCESS_KEY"], "secret_key": os.environ["BENCH_SECRET_KEY"]}
    if mode == "async":

        async def hook(response: httpx.Response) -> None:
            statuses.append(response.status_code)

        client: Any = upbit.AsyncUpbit(
            base_url=url, http_client=httpx.AsyncClient(event_hooks={"response": [hook]}), **keys
        )
    else:
        client = upbit.Upbit(
            base_url=url,
            http_client=httpx.Client(
                event_hooks={"response": [lambda response: statuses.append(response.status_code)]}
            ),
            **keys,
        )

    async def gather(chunks: list[list[str]]) -> list[Any]:
        calls = [client.orders.with_raw_response.cancel_by_uuids(uuids=chunk) for chunk in chunks]
        return await asyncio.gather(*calls, return_exceptions=True)

    def loop(chunks: list[list[str]]) -> list[Any]:
        answers: list[Any] = []
        for chunk in chunks:
            try:
                answers.append(client.orders.with_raw_response.cancel_by_uuids(uuids=chunk))
            except Exception as error:  # an APIStatusError after its retries: the chunk is not cancelled
                answers.append(error)
        return answers

    for line in sys.stdin:
        job = json.loads(line)
        time.sleep(max(0.0, job["start"] - time.time()))
        begin = time.time()
        statuses.clear()
        ids: list[str] = job["ids"]
        chunks = [ids[i : i + 20] for i in range(0, len(ids), 20)]
        answers = asyncio.run(gather(chunks)) if mode == "async" else loop(chunks)
        end = time.time()
        done = sum(
            len(chunk)
            for chunk, answer in zip(chunks, answers, strict=True)
            if getattr(answer, "status_code", 0) == 200
        )
        row = {"429": statuses.count(429), "requests": len(statuses), "done": done, "begin": begin, "end": end}
        print(json.dumps(row), flush=True)
    return 0


# --- the bench's side ------------------------------------------------------------------------------------


def bench_upbit_sdk(tools: ModuleType, cells: ModuleType, rtts: list[float], runs: int) -> None:
    """Section 18's cells for upbit-sdk 1.1.0 over HTTPS, each mode's fresh process and warm client."""
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    print(f"\n19. upbit-sdk {VERSION} over the same link, HTTPS (HTTP/1.1), 1,000 orders in 50 requests ({runs} runs)")
    python = _venv_python()
    if python is None:
        print(f"   upbit-sdk {VERSION} could not be installed in {VENV}: left out")
        return
    env = {key: value for key, value in os.environ.items() if not key.startswith("UPBIT_")}
    env.update(BENCH_ACCESS_KEY=DEMO_ACCESS_KEY, BENCH_SECRET_KEY=DEMO_SECRET_KEY)
    chunks = math.ceil(1000 / tools.PER_REQUEST)
    fractions = [((index * 0.618) % 1.0) * 0.98 + 0.01 for index in range(runs)]
    with tools._stall_meter() as meter:
        for rtt in rtts:
            with cells._sandbox(tools, "https", rtt, orders=2000 * len(MODES) * runs) as sandbox:
                env["SSL_CERT_FILE"] = sandbox.ca
                for index, mode in enumerate(MODES):
                    figures: dict[str, list[dict[str, Any]]] = {"fresh process": [], "warm": []}
                    for run, fraction in enumerate(fractions):
                        first = 1 + (index * runs + run) * 2000
                        command = [str(python), __file__, "child", mode.split()[0], sandbox.url]
                        start = cells._at(fraction, rtt)
                        with subprocess.Popen(
                            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
                        ) as child:
                            assert child.stdin is not None and child.stdout is not None
                            child.stdin.write(json.dumps({"ids": cells._ids(first), "start": 0}) + "\n")
                            child.stdin.flush()
                            row = json.loads(child.stdout.readline())
                            figures["fresh process"].append({**row, "begin": start})
                            warm_start = cells._next_at(fraction, rtt)
                            child.stdin.write(json.dumps({"ids": cells._ids(first + 1000), "start": warm_start}) + "\n")
                            child.stdin.flush()
                            figures["warm"].append(json.loads(child.stdout.readline()))
                            child.stdin.close()
                    for cell, values in figures.items():
                        overs = [
                            v["end"] - v["begin"] - cells._floor(v["begin"], rtt, chunks, tools.PER_SECOND)
                            for v in values
                        ]
                        stalls = [meter.stalled(v["begin"], v["end"]) for v in values]
                        target = cells._target(cell, rtt)
                        requests = statistics.median(v["requests"] for v in values)
                        tools._line(
                            f"upbit-sdk {mode:<12} {cell:<13} RTT {rtt * 1000:3.0f} ms (target {target:.2f} s)",
                            f"429 {max(v['429'] for v in values)}  req {requests:.0f}  "
                            f"over {tools._summary(overs)}  stall {tools._summary(stalls)}  "
                            f"met {sum(over <= target for over in overs)}/{len(values)}  "
                            f"cancelled min {min(v['done'] for v in values)}",
                        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "child":
        sys.exit(_child(sys.argv[2], sys.argv[3]))
    raise SystemExit("usage: upbit_sdk_cells.py child async|sync URL (make bench runs it: --only 17)")

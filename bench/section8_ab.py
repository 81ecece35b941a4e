"""Section 8 of two trees, interleaved: the same cells, run after run, taking turns (issue 22's bound).

Each tree's figures come from its own venv and its own ``bench/run.py``, on ``connect()`` clients:

    .venv/bin/python bench/section8_ab.py RUNS NAME=TREE NAME=TREE [--latencies 0,20,50,100]

Run ``r`` starts every batch ``fraction(r)`` into the exchange's second (as section 8 does for its run
``r``), first in one tree and then in the other, the order swapped every run, so a burst of machine noise
falls on both trees alike. Each turn is one child process of the tree's python (``--turn``), which runs
section 8's cells once at that fraction (``run.bench_latency(..., runs=1)`` with ``run._start_at`` held to
it) and prints the rows as JSON. The table gives, per cell, the median and worst of wall minus floor over
the runs, the change of the median, and the 429s (which must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = ("cancel", "auth_plugin", "generated", "sandbox", "runtime")
"""The folders of a tree that hold its packages."""


def fraction(run: int) -> float:
    """Where run ``run`` starts in the exchange's second: section 8's sequence (``bench_latency``)."""
    return ((run * 0.618) % 1.0) * 0.98 + 0.01


def turn(at: float, latencies: list[float]) -> None:
    """In a tree's own venv, from its root: section 8's cells once, every batch ``at`` into the second."""
    sys.path.insert(0, "bench")
    import run  # this tree's bench/run.py

    from upbit_cancel import connect
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    def client(base_url: str, httpx_args: Any = None, timeout: Any = None) -> Any:
        return connect(base_url, access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY, timeout=10.0)

    held = run._start_at
    run.Client = client
    run._start_at = lambda offset, latency, _: held(offset, latency, at)
    rows = run.bench_latency(latencies, runs=1)
    print("ROWS " + json.dumps(rows), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", type=int)
    parser.add_argument("trees", nargs="*", metavar="NAME=TREE")
    parser.add_argument("--latencies", default="0,20,50,100", help="one-way latencies, ms")
    parser.add_argument("--turn", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    latencies = [int(ms) / 1000 for ms in args.latencies.split(",")]
    if args.turn is not None:
        turn(args.turn, latencies)
        return
    trees = dict(tree.split("=", 1) for tree in args.trees)
    figures: dict[str, dict[tuple[str, str, float], list[dict[str, Any]]]] = {name: {} for name in trees}
    here = Path(__file__).resolve()
    for number in range(args.runs):
        order = list(trees) if number % 2 == 0 else list(reversed(trees))
        for name in order:
            root = Path(trees[name]).resolve()
            argv = [str(root / ".venv/bin/python"), str(here), "0", "--turn", repr(fraction(number))]
            argv += ["--latencies", args.latencies]
            # A tree may borrow another's venv (a symlinked .venv, its editable install pointing elsewhere):
            # its own packages come first on the path.
            path = os.pathsep.join(str(root / part) for part in PACKAGES if (root / part).is_dir())
            env = {**os.environ, "PYTHONPATH": path}
            out = subprocess.run(argv, cwd=root, env=env, check=True, capture_output=True, text=True, timeout=900)
            out = out.stdout
            rows = json.loads(next(line[5:] for line in out.splitlines() if line.startswith("ROWS ")))
            for row in rows:
                key = (row["mode"], row["kind"], row["latency"])
                figures[name].setdefault(key, []).append({k: row[k][0] for k in ("over", "429", "stall")})
            print(f"run {number + 1}/{args.runs} {name} done", file=sys.stderr, flush=True)
    report(figures, args.runs)


def report(figures: dict[str, dict[tuple[str, str, float], list[dict[str, Any]]]], runs: int) -> None:
    names = list(figures)
    print(f"Section 8, wall minus floor, median / worst of {runs} interleaved runs (s); 429s summed; change of median")
    print("| cell | " + " | ".join(names) + " | change | 429 |")
    print("| --- |" + " --- |" * (len(names) + 2))
    for key in figures[names[0]]:
        mode, kind, latency = key
        cells, medians, limited = [], [], 0
        for name in names:
            overs = [value["over"] for value in figures[name][key]]
            limited += sum(int(value["429"]) for value in figures[name][key])
            medians.append(statistics.median(overs))
            cells.append(f"{medians[-1]:.3f} / {max(overs):.3f}")
        change = f"{(medians[-1] / medians[0] - 1) * 100:+.1f} %" if medians[0] > 0 else "n/a"
        print(f"| {mode} {kind} {latency * 1000:.0f} ms | " + " | ".join(cells) + f" | {change} | {limited} |")


if __name__ == "__main__":
    main()

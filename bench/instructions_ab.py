"""The client's work per batch of 1,000 orders, in instructions, two trees side by side (issue 22's 5 % bound).

Section 8's wall times move by +/-10 % between runs of one tree on this machine (``section8_ab.py``), so
they cannot tell a 5 % change. The instructions a process executes hardly depend on what else runs:

    .venv/bin/python bench/instructions_ab.py NAME=TREE NAME=TREE [--modes async,sync] [--batches 4]

For each tree and mode, two child processes of the tree's own venv run under ``valgrind --tool=callgrind``
(the sandbox is a process of its own, not counted): one sends a warm-up batch only, the other the warm-up
and ``--batches`` more. The difference, divided by ``--batches``, is one batch's instructions (imports,
the sandbox's start and the warm-up cancel out). Each batch is 1,000 orders on a new ``connect()``
client, paced by the limiter against a sandbox with the exchange's limit. Repeated counts of one tree
differ by about 1.5 % (the event loop's idle turns, timer wake-ups). Several minutes per cell: a child
runs some 40 times slower under callgrind.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PACKAGES = ("cancel", "auth_plugin", "generated", "sandbox", "runtime")
"""The folders of a tree that hold its packages (as in ``section8_ab``)."""


def child(mode: str, batches: int) -> None:
    """In a tree's own venv, from its root: a warm-up batch and ``batches`` more of 1,000 orders each."""
    import asyncio

    sys.path.insert(0, "bench")
    import run  # this tree's bench/run.py

    from upbit_cancel import cancel_orders, cancel_orders_async, connect
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    async def on_loop(client: Any, ids: list[str]) -> Any:
        async with client:
            return await cancel_orders_async(client, uuids=ids)

    with run._sandbox((batches + 1) * 1000, rate_limit=run.PER_SECOND) as (url, uuids):
        for start in range(0, len(uuids), 1000):
            client = connect(url, access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY, timeout=10.0)
            ids = uuids[start : start + 1000]
            if mode == "async":
                result = asyncio.run(on_loop(client, ids))
            else:
                with client:
                    result = cancel_orders(client, uuids=ids)
            assert len(result.success) == len(ids), result


def count(root: Path, mode: str, batches: int) -> int:
    """The instructions one child of ``root`` executed (callgrind's total)."""
    here = Path(__file__).resolve()
    path = os.pathsep.join(str(root / part) for part in PACKAGES if (root / part).is_dir())
    with tempfile.TemporaryDirectory() as scratch:
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out"]
        argv += [str(root / ".venv/bin/python"), str(here), "--child", mode, str(batches)]
        env = {**os.environ, "PYTHONPATH": path, "PYTHONMALLOC": "malloc"}
        done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=3600, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"bench: the child of {root} failed: {done.stderr[-2000:]}")
    return int(found[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="*", metavar="NAME=TREE")
    parser.add_argument("--modes", default="async,sync")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("bench: valgrind is not installed (Debian: apt-get install valgrind)")
    trees = dict(tree.split("=", 1) for tree in args.trees)
    print(f"Instructions per batch of 1,000 orders (callgrind; ({args.batches} + 1) batches less 1, / {args.batches})")
    print("| mode | " + " | ".join(trees) + " | change |")
    print("| --- |" + " --- |" * (len(trees) + 1))
    for mode in args.modes.split(","):
        per_batch = []
        for root in (Path(tree).resolve() for tree in trees.values()):
            per_batch.append((count(root, mode, args.batches) - count(root, mode, 0)) / args.batches)
        change = (per_batch[-1] / per_batch[0] - 1) * 100
        cells = " | ".join(f"{value / 1e6:.1f} M" for value in per_batch)
        print(f"| {mode} | {cells} | {change:+.1f} % |", flush=True)


if __name__ == "__main__":
    main()

"""Section 4's start-up commands in two venvs side by side, taking turns command by command.

    python bench/startup_ab.py BEFORE_BIN AFTER_BIN [ROUNDS]

Each BIN is the ``bin`` folder of a venv holding a wheel and its runtime dependencies only (make each
with ``startup._build_and_install(folder)`` from a tree at the commit to compare). Prints the median
(best) of each command and the issue-26 ratios, so a change is measured against its base in one run on
the same machine load. The sandbox runs in this interpreter.
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


def _commands(folder: Path) -> dict[str, list[str]]:
    python = str(folder / "python")
    return {
        "python -c pass": [python, "-c", "pass"],
        "import httpx, jwt": [python, "-c", "import httpx, jwt"],
        "import the batch path": [python, "-c", BATCH_PATH],
        "upbit-cancel --version": [str(folder / "upbit-cancel"), "--version"],
        "upbit-cancel --help": [str(folder / "upbit-cancel"), "--help"],
    }


def _round(folder: Path, env: dict[str, str], times: dict[str, list[float]]) -> None:
    for label, argv in _commands(folder).items():
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
        times.setdefault(label, []).append(time.perf_counter() - start)
    first = startup.time_to_first_request(folder / "upbit-cancel", env, (DEMO_ACCESS_KEY, DEMO_SECRET_KEY))
    times.setdefault("--open --dry-run: spawn to first request", []).append(first)


def main() -> None:
    folders = {"before": Path(sys.argv[1]), "after": Path(sys.argv[2])}
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    times: dict[str, dict[str, list[float]]] = {name: {} for name in folders}
    for folder in folders.values():  # the warm-up, untimed
        _round(folder, env, {})
    for _ in range(rounds):
        for name, folder in folders.items():
            _round(folder, env, times[name])
    print(f"{'':42} {'before':>22} {'after':>22}")
    for label in times["before"]:
        cells = [
            f"{statistics.median(times[n][label]) * 1000:6.0f} ms ({min(times[n][label]) * 1000:4.0f} best)"
            for n in folders
        ]
        print(f"{label:42} " + "  ".join(cells))
    for name in folders:
        median = {label: statistics.median(values) for label, values in times[name].items()}
        empty, base, sdk = median["python -c pass"], median["import httpx, jwt"], median["import the batch path"]
        print(
            f"{name}: import {sdk / base:.2f}x httpx+jwt "
            f"({(sdk - empty) / (base - empty):.2f}x without the interpreter); "
            f"--help {(median['upbit-cancel --help'] - empty) * 1000:.0f} ms above pass; "
            f"first request {median['--open --dry-run: spawn to first request'] / sdk:.2f}x the import"
        )


if __name__ == "__main__":
    main()

"""The CPU time of the batch path's import against ``import httpx, jwt``, and of the pieces the design makes it load.

    .venv/bin/python bench/import_cpu.py PYTHON [ROUNDS]     (PYTHON: a user's venv, e.g. section 4's)

CPU time (``time.process_time`` around the imports, in a fresh interpreter each time, the commands taking
turns) is far less disturbed by other work on a 2-core machine than section 4's wall time; the ratios are
the same quantity as section 4's "without the interpreter's start".
"""

import statistics
import subprocess
import sys

COMMANDS = {
    "import httpx, jwt": "import httpx, jwt",
    "+ attrs": "import httpx, jwt, attrs",
    "the generated floor": "import httpx, jwt, upbit_auth.signing, upbit_client.rules, "
    "upbit_client.api.order.cancel_orders_by_ids, upbit_client.api.order.list_orders_by_ids",
    "the SDK's batch path": "import upbit_auth, upbit_client, upbit_cancel.batch, upbit_client.api.order",
}

python, rounds = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 21
times: dict[str, list[float]] = {label: [] for label in COMMANDS}
for _ in range(rounds):
    for label, command in COMMANDS.items():
        code = f"import time; t = time.process_time(); {command}; print(time.process_time() - t)"
        times[label].append(float(subprocess.run([python, "-c", code], capture_output=True, text=True).stdout))
base = statistics.median(times["import httpx, jwt"])
for label, values in times.items():
    median = statistics.median(values)
    print(f"{label:24s} {median * 1000:6.1f} ms CPU median, {min(values) * 1000:6.1f} best, {median / base:.2f}x")

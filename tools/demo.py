"""``make demo``: the project's main job on its embedded sandbox, as an operator would run it.

Starts ``upbit-sandbox`` (a fake exchange on a free loopback port, seeded with demo orders), writes
a file of 48 uuids (40 open orders, 3 already filled, 3 already cancelled, 2 unknown to the
exchange, so several chunks of the spec's maxItems go out and some orders fail), runs
``upbit-cancel --uuids-from FILE`` against it with the sandbox's demo keys, prints what it printed,
checks that every uuid was reported exactly once, and stops the sandbox.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, demo_uuid

OPEN, FILLED, CANCELLED = 40, 3, 3


def _command(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit(f"demo: the console script {name!r} is not installed next to {sys.executable}")
    return found


def main() -> int:
    labels = [f"demo-{n:04d}" for n in range(1, OPEN + 1)]
    labels += [f"demo-filled-{n:04d}" for n in range(1, FILLED + 1)]
    labels += [f"demo-cancelled-{n:04d}" for n in range(1, CANCELLED + 1)]
    uuids = [demo_uuid(label) for label in labels] + [demo_uuid("not-in-the-book-1"), demo_uuid("not-in-the-book-2")]

    sandbox = subprocess.Popen(
        [_command("upbit-sandbox"), "--port", "0", "--orders", str(OPEN)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        first_line = sandbox.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first_line)
        if match is None:
            print(f"demo: the sandbox did not start: {first_line!r}", file=sys.stderr)
            return 1
        url = match[1]
        print(f"$ upbit-sandbox --port 0 --orders {OPEN}\n{first_line.rstrip()}")

        with tempfile.TemporaryDirectory() as folder:
            ids_file = Path(folder) / "uuids.txt"
            ids_file.write_text("\n".join(uuids) + "\n")
            env = {
                **os.environ,
                "UPBIT_OPEN_API_SERVER_URL": url,
                "UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY,
                "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY,
            }
            print(
                f"\n$ upbit-cancel --uuids-from uuids.txt   # {len(uuids)} uuids: {OPEN} open, "
                f"{FILLED} filled, {CANCELLED} cancelled, 2 unknown\n",
                flush=True,
            )
            table = subprocess.run([_command("upbit-cancel"), "--uuids-from", str(ids_file)], env=env, check=False)
            print(f"(exit status {table.returncode}: 1 means some orders could not be cancelled)")

            print("\n$ upbit-cancel --uuids-from uuids.txt --json   # again: now every order is already cancelled")
            again = subprocess.run(
                [_command("upbit-cancel"), "--uuids-from", str(ids_file), "--json"],
                env=env,
                check=False,
                capture_output=True,
                text=True,
            )

        report = json.loads(again.stdout)
        print(
            f"success {report['success']['count']}, failed {report['failed']['count']}, "
            f"unconfirmed {report['unconfirmed']['count']} (exit status {again.returncode})"
        )
        reported = [order["uuid"] for group in ("success", "failed") for order in report[group]["orders"]]
        reported += [order["uuid"] for order in report["unconfirmed"]["orders"]]
        if table.returncode != 1 or sorted(reported) != sorted(uuids) or report["failed"]["count"] != len(uuids):
            print("demo: FAILED: the report does not account for every uuid exactly once", file=sys.stderr)
            return 1
        print("demo: every uuid was reported exactly once, in both runs")
        return 0
    finally:
        sandbox.send_signal(signal.SIGTERM)
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()


if __name__ == "__main__":
    sys.exit(main())

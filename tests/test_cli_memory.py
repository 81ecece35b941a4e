"""``upbit-cancel``'s memory is in proportion to the ids: 100 MB + 400 bytes per id at the most (issue 23 row 5).

Guarantees under test (docs/guarantees.md, "Memory in proportion"): the command reads its id file
keeping only the ids, and streams its report (``--json`` and the table) a slice at a time instead of
building it whole; the streamed JSON is the same text ``json.dumps(..., indent=2)`` of the whole
report gives. The peak RSS of the installed command is measured by a wrapper process of its own
(``RUSAGE_CHILDREN`` of that wrapper holds the command alone, whatever else the test run starts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from upbit_cancel import cli
from upbit_cancel.results import BatchResult, ErrorInfo, NotSentOrder, OrderRef, UnconfirmedOrder
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, start_server

UPBIT_CANCEL = Path(sys.executable).parent / "upbit-cancel"
IDS = 50_000
BUDGET_BYTES = 100 * 2**20 + 400 * IDS

# Runs argv[1:], passes its output on, and prints the child's peak RSS in bytes as the last line of stderr.
PEAK_OF_CHILD = textwrap.dedent(
    """
    import resource, subprocess, sys
    done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sys.stdout.buffer.write(done.stdout)
    sys.stderr.buffer.write(done.stderr)
    sys.stderr.write("\\npeak %d\\n" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))
    sys.exit(done.returncode)
    """
)


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    server, url = start_server(SandboxExchange(rate_limit_per_second=None))
    try:
        yield url
    finally:
        server.stop()


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_fifty_thousand_ids_stay_within_100_mb_plus_400_bytes_an_id(
    tmp_path: Path, sandbox_url: str, as_json: bool
) -> None:
    path = tmp_path / "ids.txt"
    path.write_text("".join(f"order-{n:07d}\n" for n in range(IDS)), encoding="utf-8")
    env = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}
    env |= {"UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY, "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY}
    argv = [str(UPBIT_CANCEL), "--identifiers-from", str(path), "--server-url", sandbox_url]
    argv += ["--timeout", "3", "--no-confirm"] + (["--json"] if as_json else [])
    done = subprocess.run(
        [sys.executable, "-c", PEAK_OF_CHILD, *argv], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == cli.EXIT_INCOMPLETE, done.stderr  # most ids are not sent within 3 s
    peak = int(done.stderr.rsplit("peak ", 1)[1])
    if as_json:
        report = json.loads(done.stdout)
        assert sum(report[group]["count"] for group in ("success", "failed", "unconfirmed", "not_sent")) == IDS
    else:
        assert len(done.stdout.splitlines()) == IDS + 2  # the summary, the header, a row per id
    assert peak <= BUDGET_BYTES, f"peak RSS {peak / 2**20:.0f} MB > {BUDGET_BYTES / 2**20:.0f} MB"


def varied_result(count: int) -> BatchResult:
    error = ErrorInfo("server_error", 'odd \u2028 text \x1b[31m "quoted" é', 500)
    return BatchResult(
        "uuids",
        success=[
            OrderRef(f"u-{n}", "KRW-BTC", f"i-{n}", confirmed_by="lookup" if n % 2 else "answer") for n in range(count)
        ],
        failed=[OrderRef(f"f-{n}", None, reason="rejected", error=error) for n in range(3)],
        unconfirmed=[UnconfirmedOrder(f"c-{n}", "uuids", error, market="KRW-ETH") for n in range(count)],
        not_sent=[NotSentOrder(f"n-{n}", "uuids", "timeout_total ran out", side="bid") for n in range(count)],
    )


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(BatchResult("identifiers"), id="empty"),
        pytest.param(varied_result(3), id="every group"),
        pytest.param(varied_result(2 * cli.JSON_SLICE + 1), id="several slices"),
    ],
)
def test_the_streamed_json_report_is_the_text_one_dumps_of_the_whole_report_gives(result: BatchResult) -> None:
    assert "".join(cli.json_report(result)) == json.dumps(result.to_dict(), ensure_ascii=False, indent=2)

"""A batch far larger than its deadline allows: memory in proportion, and the call back within ``timeout_total``
(issue 23 row 5; docs/guarantees.md, "Memory in proportion").

Guarantees under test: the library's peak RSS for 50,000 ids stays within 100 MB + 400 bytes per id, sync
and async (measured by a child process of its own, from its ``VmHWM`` at its end); past the deadline the
batch leaves the chunks it never started alone (their ids ``not_sent``, one progress call for them all)
instead of walking each through its flow; the report's ``repr`` stays short at any size. Timing bounds are
generous: machines are noisy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from tests.limits import IDENTIFIERS_PER_CANCEL
from upbit_auth import UpbitAuth
from upbit_cancel import BatchResult, cancel_orders
from upbit_cancel.results import NotSentOrder
from upbit_client import Client
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, start_server

IDS = 50_000
BUDGET_BYTES = 100 * 2**20 + 400 * IDS

# One batch in a process of its own; prints its peak RSS (VmHWM, bytes) and the report's counts.
CHILD = textwrap.dedent(
    """
    import json, sys
    import anyio
    from upbit_auth import UpbitAuth
    from upbit_cancel import cancel_orders, cancel_orders_async
    from upbit_client import Client
    mode, url, count, access, secret = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    client = Client(base_url=url, httpx_args={"auth": UpbitAuth(access, secret)}, timeout=10.0)
    ids = [f"order-{n:07d}" for n in range(count)]
    if mode == "sync":
        with client:
            result = cancel_orders(client, identifiers=ids, timeout_total=3.0, confirm=False)
    else:
        async def run():
            async with client:
                return await cancel_orders_async(client, identifiers=ids, timeout_total=3.0, confirm=False)
        result = anyio.run(run)
    settled = len(result.success) + len(result.failed) + len(result.unconfirmed) + len(result.not_sent)
    status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
    print(json.dumps({"peak": int(status) * 1024, "settled": settled}))
    """
)


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    server, url = start_server(SandboxExchange(rate_limit_per_second=None))
    try:
        yield url
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fifty_thousand_ids_through_the_library_stay_within_100_mb_plus_400_bytes_an_id(
    sandbox_url: str, mode: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, sandbox_url, str(IDS), DEMO_ACCESS_KEY, DEMO_SECRET_KEY],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["settled"] == IDS
    assert figures["peak"] <= BUDGET_BYTES, f"peak RSS {figures['peak'] / 2**20:.0f} MB"


def test_a_batch_far_larger_than_its_deadline_returns_in_time_with_the_rest_not_sent() -> None:
    server, url = start_server(SandboxExchange())  # the sandbox's default rate limit
    count, timeout_total = 200_000, 3.0
    calls: list[tuple[int, int]] = []
    ids = [f"order-{n:07d}" for n in range(count)]
    try:
        with Client(base_url=url, httpx_args={"auth": UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)}) as client:
            started = time.monotonic()
            result = cancel_orders(
                client, identifiers=ids, timeout_total=timeout_total, on_progress=lambda *a: calls.append(a)
            )
            took = time.monotonic() - started
    finally:
        server.stop()
    assert took <= timeout_total + 10, f"returned {took:.1f}s after the call"
    assert result.requests_sent > 0 and len(result.not_sent) > count // 2
    reported = [o.identifier for o in result.success + result.failed] + [o.id for o in result.unconfirmed]
    assert sorted(reported + [o.id for o in result.not_sent]) == ids  # every id exactly once
    assert {o.error.name for o in result.not_sent if o.error is not None} == {"timeout_total"}
    # The chunks never started are given up at once, not each through its flow (a progress call per chunk).
    chunks = count // IDENTIFIERS_PER_CANCEL
    assert len(calls) < chunks // 2, f"{len(calls)} progress calls for {chunks} chunks"
    assert calls[-1] == (count, count)


def test_the_repr_of_a_report_of_a_million_ids_stays_short() -> None:
    # asyncio formats a finished main task's result when its runner closes: a full repr took seconds and
    # hundreds of MB at a million ids.
    report = BatchResult("identifiers", not_sent=[NotSentOrder(f"order-{n}", "identifiers", "x") for n in range(10**6)])
    assert len(repr(report)) < 1000
    assert "not_sent=<1,000,000 orders>" in repr(report)

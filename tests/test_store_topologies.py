"""The shared store beyond one server: Sentinel and Cluster URLs, the format-2 keys, a master that changes.

The budget rules themselves run over every store in ``tests/test_store_rules.py``; here are what only these
stores have: how their URLs are read and checked, that a pocket's keys share one Cluster slot, that a
process of the old key format cannot spend a second budget beside the new one, and what a Sentinel
failover does to a batch and to the store (real ``redis-server`` processes: ``tests/redis_topologies.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.cluster import key_slot

from tests.clocks import FakeClock
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.redis_support import redis_server, redis_url
from tests.redis_topologies import SentinelSet, redis_cluster, redis_sentinel, sentinel_for_failover
from tests.test_store_rules import Stores, flush, learn_phase, stored_keys, take_all
from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders
from upbit_cancel.errors import ConfigurationError, KeyBlocked
from upbit_cancel.ratelimit import Permit, RateLimiter
from upbit_cancel.redis_store import SharedBudget
from upbit_cancel.results import BatchResult
from upbit_cancel.store import (
    BudgetKeys,
    LinkState,
    Send,
    StoreUnavailable,
    check_store_url,
    parse_store_address,
    redacted_url,
)
from upbit_client import Client
from upbit_sandbox import SandboxExchange

__all__ = ["redis_cluster", "redis_sentinel", "redis_server", "redis_url", "sentinel_for_failover"]

GROUP = "default"
PER_SECOND = 30


# --- the URLs ---------------------------------------------------------------------------------------------


def test_sentinel_and_cluster_urls_name_their_hosts_service_and_database() -> None:
    sentinel = parse_store_address("redis+sentinel://:pw@s1:26380,[::1],s3/cache-master/2?sentinel_password=sp")
    assert (sentinel.kind, sentinel.service, sentinel.db, sentinel.password) == ("sentinel", "cache-master", 2, "pw")
    assert sentinel.hosts == (("s1", 26380), ("::1", 26379), ("s3", 26379))
    assert sentinel.sentinel_options == {"sentinel_password": "sp"}
    cluster = parse_store_address("redis+cluster://user:pw@n1:7000,n2")
    assert (cluster.kind, cluster.hosts, cluster.username) == ("cluster", (("n1", 7000), ("n2", 6379)), "user")
    assert parse_store_address("redis://h:6379/0").kind == "server"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://s1:26379", "must name the service"),
        ("redis+sentinel://s1/svc/x", "database that is not a number"),
        ("redis+sentinel:///svc", "has no host"),
        ("redis+sentinel://s1:abc/svc", "not a valid|could not be cast"),
        ("redis+cluster://n1:7000/3", "a cluster has database 0 only"),
        ("redis+cluster://n1?ssl=true", "query parameters it cannot use: ssl"),
        ("redis+cluster://:hunter2@n1,:0", "invalid port|without a host"),
    ],
)
def test_a_sentinel_or_cluster_url_that_cannot_work_is_refused_naming_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as raised:
        check_store_url(url, "--rate-limit-store")
    assert "hunter2" not in str(raised.value)


def test_the_password_of_a_sentinel_or_cluster_url_is_never_shown() -> None:
    assert redacted_url("redis+sentinel://:hunter2@s1,s2/svc?sentinel_password=sp") == (
        "redis+sentinel://***@s1,s2/svc?sentinel_password=***"
    )
    assert redacted_url("redis+cluster://u:hunter2@n1:7000,n2:7001") == "redis+cluster://***@n1:7000,n2:7001"


# --- the keys ----------------------------------------------------------------------------------------------


def test_every_key_of_a_pocket_lands_in_one_cluster_slot_and_names_the_format(redis_cluster: object) -> None:
    stores = Stores("cluster", redis_cluster.url)  # type: ignore[attr-defined]
    stores.empty()
    clock = FakeClock(start=999_999.4)
    limiter = stores.process(clock)
    learn_phase(limiter, clock)
    clock.now = 1_000_000.7
    take_all(limiter)
    limiter.block(1.0, "blocked")
    keys = [key for key in stored_keys(stores.url) if key.startswith("upbit-rl:v2:")]
    assert len(keys) > 5
    assert len({key_slot(key.encode()) for key in keys}) == 1
    assert all("{" + hashlib.sha256(b"access-key-of-the-account").hexdigest()[:16] + "}" in key for key in keys)


def format_1_process(url: str, clock: FakeClock, pocket: str) -> RateLimiter:
    """A process of the previous release: its keys have no format segment and no hash tag, and it knows
    nothing of the fence (only its own block key, which the fence is)."""
    budget = SharedBudget(url, pocket, GROUP, PER_SECOND)
    digest = hashlib.sha256(pocket.encode()).hexdigest()[:16]
    new = budget.keys
    prefix = f"upbit-rl:{digest}:{GROUP}"
    budget.keys = BudgetKeys(prefix, f"upbit-rl:{digest}:block", f"{prefix}:phase:{new.host}",
                             f"{prefix}:trickle:{new.host}", new.host, fence="unused")  # fmt: skip
    budget.upkeep = lambda: []  # type: ignore[method-assign]  # the old store had no upkeep
    limiter = RateLimiter(GROUP, PER_SECOND, clock=clock, sleep=clock.sleep, reserve=0)
    limiter.use_store(budget)
    return limiter


def test_a_process_of_the_old_key_format_sends_nothing_once_a_new_one_shares_the_pocket(redis_url: str) -> None:
    clock = FakeClock(start=1_000_000.2)
    old = format_1_process(redis_url, clock, "access-key-of-the-account")
    assert isinstance(old.try_acquire(), Permit)  # alone, it works as before the upgrade
    new = Stores("redis", redis_url).process(clock)
    assert isinstance(new.try_acquire(), Permit)
    with pytest.raises(KeyBlocked) as blocked:
        old.try_acquire()
    assert blocked.value.until >= time.time() + 3000  # held off for the hour the fence lasts, renewed in use
    other_pocket = format_1_process(redis_url, clock, "another-pocket")
    assert isinstance(other_pocket.try_acquire(), Permit)  # only the pockets a new process uses are fenced


# --- a master that changes ----------------------------------------------------------------------------------


def test_a_sentinel_failover_is_seen_as_a_master_change_and_the_store_follows_the_new_master(
    sentinel_for_failover: SentinelSet, caplog: pytest.LogCaptureFixture
) -> None:
    budget = SharedBudget(sentinel_for_failover.url, TEST_ACCESS_KEY, GROUP, PER_SECOND)
    assert budget.take(Send(None, [10, 11])).taken
    assert budget.master_changed_at() is None  # the first master seen is no change
    killed_at = time.time()
    sentinel_for_failover.kill_master()
    with caplog.at_level(logging.WARNING, logger="upbit_cancel.ratelimit"):
        deadline = time.monotonic() + 15
        taken = 0
        while budget.master_changed_at() is None or not taken:  # asked at most once a second
            assert time.monotonic() < deadline, "the store never followed the new master"
            with contextlib.suppress(StoreUnavailable):
                taken += budget.take(Send(None, [20 + taken, 21 + taken])).taken
            time.sleep(0.1)
    changed = budget.master_changed_at()
    assert changed is not None and killed_at <= changed <= time.time()
    assert [r.getMessage() for r in caplog.records if "master changed" in r.getMessage()]


def test_a_sentinel_failover_mid_batch_leaves_the_whole_report_and_no_429(
    sentinel_for_failover: SentinelSet, caplog: pytest.LogCaptureFixture
) -> None:
    """Two batches ("processes": their own limiters and stores) share the pocket; the master dies mid-way.

    Each paces in-process at half the budget (the store counted two processes) from the next window
    on: without that share, the two drew 29 x 429 between them here. Each counts the other from its first
    take after the other's first: counted once a second, a process that took first and lost the store
    within that second paced at the whole budget (3-57 x 429 in 1 of 4-7 runs on a loaded machine)."""
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, latency=0.005)
    orders = [exchange.add_order().uuid for _ in range(3000)]
    halves = [orders[0::2], orders[1::2]]
    limiters = [RateLimiter(GROUP, PER_SECOND) for _ in halves]
    for limiter in limiters:
        limiter.use_store(SharedBudget(sentinel_for_failover.url, TEST_ACCESS_KEY, GROUP, PER_SECOND))
    started = threading.Event()
    results: list[BatchResult] = []

    def progress(done: int, total: int) -> None:
        if done >= total * 2 // 5:  # both have taken through the store: each counted the other
            started.set()

    def batch(ids: list[str], limiter: RateLimiter) -> None:
        auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
        httpx_args = {"auth": auth, "transport": exchange.transport()}
        with Client(base_url="https://api.upbit.com", httpx_args=httpx_args) as client:
            results.append(cancel_orders(client, uuids=ids, limiter=limiter, on_progress=progress))

    threads = [threading.Thread(target=batch, args=pair) for pair in zip(halves, limiters, strict=True)]
    with caplog.at_level(logging.WARNING, logger="upbit_cancel.ratelimit"):
        for thread in threads:
            thread.start()
        assert started.wait(60)
        sentinel_for_failover.kill_master()
        for thread in threads:
            thread.join(timeout=60)
    assert len(results) == 2
    reported = [str(ref.uuid) for result in results for ref in result.success + result.failed]
    reported += [entry.id for result in results for entry in result.unconfirmed + result.not_sent]  # type: ignore[operator]
    assert sorted(reported) == sorted(orders)  # every id reported exactly once
    assert sum(len(result.success) for result in results) == len(orders) and not exchange.orders("wait")
    assert [result.rate_limited for result in results] == [0, 0]
    assert all(limiter.store_link and limiter.store_link.state is LinkState.PAUSED for limiter in limiters)
    assert [r for r in caplog.records if "in this process only" in r.getMessage()]


# --- processes, for real ------------------------------------------------------------------------------------

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"


@contextlib.contextmanager
def sandbox_server(orders: int) -> Iterator[str]:
    """``upbit-sandbox`` in its own process, ``orders`` open, the spec's budget per second: its URL."""
    command = shutil.which("upbit-sandbox", path=str(Path(sys.executable).parent)) or "upbit-sandbox"
    server = subprocess.Popen(
        [command, "--port", "0", "--orders", str(orders), "--rate-limit", str(PER_SECOND)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", server.stdout.readline())
        assert match is not None, "upbit-sandbox did not start"
        yield match[1]
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("kind", ["sentinel", "cluster"])
def test_four_processes_sharing_a_pocket_through_each_store_meet_no_429(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """``make bench``'s section 5 workers (``bench/run.py --worker``): 4 processes x 150 orders, one pocket
    (one server: ``make bench`` section 5, ``docs/benchmarks.md``)."""
    url = request.getfixturevalue(f"redis_{kind}").url
    flush(url)
    per_process, count = 150, 4
    env = {name: value for name, value in os.environ.items() if name != "UPBIT_RATE_LIMIT_STORE"}
    with sandbox_server(per_process * count) as exchange:
        command = [sys.executable, str(BENCH), "--worker", exchange, "--store", url]
        workers = [
            subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(count)
        ]
        start = time.time() + 2.5  # every worker imported by then, on a loaded machine too
        for index, worker in enumerate(workers):  # all told first: they start together
            assert worker.stdin is not None
            worker.stdin.write(f"{start!r} {1 + index * per_process} {per_process}\n")
            worker.stdin.close()
        for worker in workers:
            worker.wait(timeout=90)  # its one line fits the pipe: read it once it exited
        answers = [json.loads(worker.stdout.read()) for worker in workers if worker.stdout is not None]
    assert sum(answer["cancelled"] for answer in answers) == per_process * count
    assert [answer["429"] for answer in answers] == [0] * count

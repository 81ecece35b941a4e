"""Throwaway Redis beyond one server for the store's tests: a Sentinel-watched master and a Cluster.

Every ``redis-server`` runs on a loopback port picked free, in a temporary folder, with nothing saved to
disk, and is stopped by the fixture that started it (and by the kernel if the test process dies first:
``PR_SET_PDEATHSIG``). A port picked free can be taken by another process before the server binds it (the
suite starts many servers at once): each start checks that the server answering is the one started (its
process id) and tries another port if not.

- ``redis_sentinel`` (session): a master, its replica and one sentinel watching them as ``upbit-test``
  (``down-after-milliseconds`` 300, so a failover takes about a second). URL ``redis+sentinel://...``.
- ``sentinel_for_failover`` (per test): the same, for a test that kills the master.
- ``redis_cluster`` (session): three masters, ``redis-cli --cluster create``, all 16384 slots covered.
  URL ``redis+cluster://...``.

Where ``redis-server`` is not installed the tests that need them skip (fail in CI), as in ``redis_support``.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from tests.redis_support import _missing

SERVICE = "upbit-test"


def _die_with_this_process() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def _free_port(bus: bool = False) -> int:
    """A loopback port free now (and, with ``bus``, its cluster bus port, +10000, too)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if not bus:
            return port
        if port + 10000 > 65535:
            continue
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.bind(("127.0.0.1", port + 10000))
            return port


@dataclass
class Node:
    process: subprocess.Popen[bytes]
    port: int

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
        self.process.wait(timeout=10)


def start_node(folder: Path, *arguments: str, bus: bool = False, sentinel: bool = False) -> Node:
    """A ``redis-server`` (or a sentinel) with ``arguments`` on a free loopback port, answering as itself."""
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("redis-server is not installed")
    assert binary is not None
    for attempt in range(5):
        port = _free_port(bus)
        where = folder / f"{port}-{attempt}"
        where.mkdir()
        common = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if sentinel:
            (where / "sentinel.conf").write_text("".join(f"{line}\n" for line in arguments))
            command = [binary, str(where / "sentinel.conf"), "--sentinel", "--port", str(port), "--bind", "127.0.0.1"]
        else:
            command = [binary, *common, *arguments]
        process = subprocess.Popen(
            command, cwd=where, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_this_process
        )
        node = Node(process, port)
        if _answers_as_itself(node):
            return node
        node.stop(kill=True)
    _missing("redis-server did not start on a free loopback port in 5 attempts")
    raise AssertionError("unreachable")


def _answers_as_itself(node: Node) -> bool:
    client = node.client()
    deadline = time.monotonic() + 10
    try:
        while node.process.poll() is None and time.monotonic() < deadline:
            try:
                return int(client.info("server")["process_id"]) == node.process.pid
            except (redis.RedisError, KeyError, ValueError):
                time.sleep(0.02)
        return False
    finally:
        client.close()


def wait_for(what: str, check: object, timeout: float = 20.0) -> None:
    """Poll ``check()`` (a callable) until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if check():  # type: ignore[operator]
                return
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g} s")
        time.sleep(0.05)


@dataclass
class SentinelSet:
    """A master, its replica and one sentinel watching them as ``SERVICE``."""

    folder: Path
    master: Node
    replica: Node
    sentinel: Node
    url: str = ""
    killed: list[Node] = field(default_factory=list)

    def master_port(self) -> int:
        reply = self.sentinel.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(reply[1])

    def kill_master(self) -> None:
        """``kill -9`` the master; return once the sentinel promoted the replica and it accepts writes."""
        old = self.master
        old.stop(kill=True)
        self.killed.append(old)
        self.master, self.replica = self.replica, old
        wait_for("the sentinel promotes the replica", lambda: self.master_port() == self.master.port)
        wait_for("the new master accepts writes", lambda: self.master.client().set("upbit-test:probe", "1"))

    def stop(self) -> None:
        for node in (self.sentinel, self.replica, self.master):
            node.stop()


def start_sentinel_set(folder: Path) -> SentinelSet:
    master = start_node(folder, "--repl-diskless-sync-delay", "0")
    replica = start_node(folder, "--replicaof", "127.0.0.1", str(master.port))
    wait_for("the replica syncs", lambda: replica.client().info("replication").get("master_link_status") == "up")
    sentinel = start_node(
        folder,
        f"sentinel monitor {SERVICE} 127.0.0.1 {master.port} 1",
        f"sentinel down-after-milliseconds {SERVICE} 300",
        f"sentinel failover-timeout {SERVICE} 2000",
        f"sentinel parallel-syncs {SERVICE} 1",
        sentinel=True,
    )
    found = SentinelSet(folder, master, replica, sentinel, f"redis+sentinel://127.0.0.1:{sentinel.port}/{SERVICE}")
    wait_for(
        "the sentinel sees the replica",
        lambda: len(sentinel.client().execute_command("SENTINEL", "REPLICAS", SERVICE)) == 1,
    )
    return found


@dataclass
class ClusterSet:
    nodes: list[Node]
    url: str


def start_cluster(folder: Path) -> ClusterSet:
    nodes = [
        start_node(folder, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", bus=True)
        for _ in range(3)
    ]
    addresses = [f"127.0.0.1:{node.port}" for node in nodes]
    created = subprocess.run(
        ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "All 16384 slots covered" not in created.stdout:
        for node in nodes:
            node.stop(kill=True)
        pytest.fail(f"redis-cli --cluster create failed: {created.stdout[-500:]} {created.stderr[-500:]}")
    wait_for("the cluster is ok", lambda: all(n.client().cluster("info")["cluster_state"] == "ok" for n in nodes))
    return ClusterSet(nodes, f"redis+cluster://{addresses[0]},{addresses[1]}")


@contextlib.contextmanager
def _folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="upbit-redis-topology-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[SentinelSet]:
    with _folder() as folder:
        found = start_sentinel_set(folder)
        try:
            yield found
        finally:
            found.stop()


@pytest.fixture
def sentinel_for_failover() -> Iterator[SentinelSet]:
    with _folder() as folder:
        found = start_sentinel_set(folder)
        try:
            yield found
        finally:
            found.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ClusterSet]:
    with _folder() as folder:
        found = start_cluster(folder)
        try:
            yield found
        finally:
            for node in found.nodes:
                node.stop()

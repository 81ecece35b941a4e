"""The redis-py client a store URL names, and who its master is (the ``[redis]`` extra).

``open_redis`` turns a URL (``store_address``'s forms) into a client: ``redis.Redis.from_url`` for one
server, ``redis.sentinel.Sentinel(...).master_for(SERVICE)`` for a Sentinel-watched master (each new
connection asks the sentinels where the master is now, so a failover is followed without a restart;
no retries inside redis-py: with its default ones, sentinels that cannot be reached held each call
4.6 s, where failing at once lets the limiter pace in-process, ``store_link``),
``redis.cluster.RedisCluster`` for a Cluster (each key goes to the node of its hash slot; the store's
keys carry the pocket in a hash tag, ``{...}``, so each Lua script's keys share one slot).

``MasterWatch`` notices that the master serving a key changed: a Sentinel failover, a Cluster failover of
the key's slot, or one server restarted. Replication is asynchronous, so the new master may lack the
last writes the old one acknowledged (a heartbeat, a window's count): whoever reads the store may
need to allow for that (the guard allows a grace of one timeout, ``guard_core.Watch``, ``docs/guard.md``). The master is
known by its ``run_id`` (``INFO server``: new for every ``redis-server`` process), read by ``lua/master.lua``
run on the watched key, so on a Cluster it is the run id of the node that holds that key.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from .store_address import parse_store_address

if TYPE_CHECKING:
    import redis as redis_module

__all__ = ["MasterWatch", "open_redis", "open_redis_async", "shared_cluster"]

log: logging.Logger = logging.getLogger("upbit_cancel.ratelimit")


def open_redis(url: str, *, timeout: float) -> redis_module.Redis | Any:
    """A redis-py client for the store ``url`` (checked by ``store.check_store_url``); every socket wait
    bounded by ``timeout`` seconds. A Cluster client learns the cluster's nodes and commands here (I/O:
    it may raise redis-py's errors; ``shared_cluster`` makes one per process); the others connect on
    first use."""
    import redis
    from redis.backoff import NoBackoff
    from redis.cluster import ClusterNode, RedisCluster
    from redis.retry import Retry
    from redis.sentinel import Sentinel

    address = parse_store_address(url)
    lean = _lean_connection(address.kind)
    timeouts: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout, **lean}
    credentials: dict[str, Any] = {"username": address.username, "password": address.password}
    if address.kind == "cluster":
        node: Any = ClusterNode  # redis-py leaves it untyped
        nodes = [node(host, port) for host, port in address.hosts]
        return RedisCluster(startup_nodes=nodes, **credentials, **timeouts)
    if address.kind == "sentinel":
        options = address.sentinel_options
        timeouts["retry"] = Retry(NoBackoff(), 0)  # redis-py 6+ retries 3 times, backing off seconds: fail at once
        sentinel_kwargs = dict(timeouts)
        if "sentinel_password" in options:
            sentinel_kwargs["password"] = options["sentinel_password"]
        if "sentinel_username" in options:
            sentinel_kwargs["username"] = options["sentinel_username"]
        sentinels: Any = Sentinel  # redis-py leaves it untyped
        watched = sentinels(list(address.hosts), sentinel_kwargs=sentinel_kwargs, **timeouts)
        return watched.master_for(address.service, db=address.db, **credentials, **timeouts)
    return redis.Redis.from_url(url, **timeouts)


def open_redis_async(url: str, *, timeout: float) -> Any:
    """A ``redis.asyncio`` client for the store ``url`` (one server or a Sentinel-watched master; not a Cluster:
    ``redis_loop``), made without I/O, for the running asyncio loop only; socket waits as ``open_redis``'s."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.asyncio.sentinel import Sentinel
    from redis.backoff import NoBackoff

    address = parse_store_address(url)
    lean = _lean_connection(address.kind)
    timeouts: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout, **lean}
    if address.kind == "sentinel":
        options = address.sentinel_options
        timeouts["retry"] = Retry(NoBackoff(), 0)
        sentinel_kwargs = dict(timeouts)
        for name in ("password", "username"):
            if f"sentinel_{name}" in options:
                sentinel_kwargs[name] = options[f"sentinel_{name}"]
        sentinels: Any = Sentinel  # redis-py leaves it untyped
        watched = sentinels(list(address.hosts), sentinel_kwargs=sentinel_kwargs, **timeouts)
        credentials = {"username": address.username, "password": address.password}
        return watched.master_for(address.service, db=address.db, **credentials, **timeouts)
    return Redis.from_url(url, **timeouts)


def _lean_connection(kind: str) -> dict[str, Any]:
    """Options that make each new connection cheap, for both clients (blocking and ``redis.asyncio``), which open
    one per thread or per concurrent take: a process that joins a pocket cold opens several at once, and each
    one's set-up is start-up its first window waits for.

    - ``protocol=2`` for one server (``kind`` ``server``): RESP2, what redis-py before 8 spoke by default.
      redis-py 8 speaks RESP3, which costs a ``HELLO 3`` round trip per new connection (``redis.asyncio``'s
      sends it twice); the store's replies read the same either way. Not for a Sentinel's master until a
      failover flake is understood: under load, two batches through a failover drew 3-42 x 429 in 4 of 7 runs
      with RESP2 (``test_a_sentinel_failover_mid_batch_leaves_the_whole_report_and_no_429``), and 3 x 429 once
      without it; nor for a Cluster (not measured).
    - No ``CLIENT SETINFO`` (only informational): two round trips per new connection in redis-py 5-7
      (``lib_name=None, lib_version=None``), and in redis-py >= 8 (``driver_info=None``) also a read of its
      version from the package metadata (some 4 ms of CPU each, on the event loop for ``open_redis_async``'s)."""
    options: dict[str, Any] = {"protocol": 2} if kind == "server" else {}
    try:
        import redis.driver_info  # noqa: F401  (redis-py >= 8: lib_name and lib_version are deprecated)
    except ImportError:
        return options | {"lib_name": None, "lib_version": None}
    return options | {"driver_info": None}


_clusters: dict[tuple[str, float], Any] = {}
_clusters_lock = threading.Lock()


def shared_cluster(url: str, *, timeout: float) -> Any:
    """The process's one ``RedisCluster`` client for ``url`` (thread-safe, made on first use): making one
    asks the cluster for its slots and its whole command table (``COMMAND``, some 100 ms of parsing), too
    much for every budget of every pocket. Never closed by a budget: it lives as long as the process."""
    with _clusters_lock:
        client = _clusters.get((url, timeout))
        if client is None:
            client = _clusters[(url, timeout)] = open_redis(url, timeout=timeout)
        return client


class MasterWatch:
    """Which master holds ``key``, asked at most every ``every`` seconds (``due`` after a failure too).

    ``changed_at``: the wall-clock time (epoch seconds) this process first saw a master other than the
    one it saw before (None: no change seen). The first master seen is no change: a process that starts
    after a failover cannot know of it, and has no writes to lose.
    """

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.run_id: str | None = None
        self.changed_at: float | None = None
        self._next = -float("inf")

    def due(self) -> bool:
        return time.monotonic() >= self._next

    def recheck(self) -> None:
        """Ask again at the next chance (a call failed: the master may have gone)."""
        self._next = -float("inf")

    def seen(self, run_id: object) -> bool:
        """Record the master's ``run_id`` (the script's answer); True if it changed."""
        if not isinstance(run_id, bytes | str) or not run_id:
            raise ValueError(f"expected a run id, got {run_id!r:.80}")
        text = run_id.decode() if isinstance(run_id, bytes) else run_id
        self._next = time.monotonic() + self.every
        changed = self.run_id is not None and text != self.run_id
        self.run_id = text
        if changed:
            self.changed_at = time.time()
        return changed

"""The redis-py client a store URL names, and who its master is (the ``[redis]`` extra).

``open_redis`` turns a URL (``store.parse_store_address``'s forms) into a client: ``redis.Redis.from_url`` for one
server, ``redis.sentinel.Sentinel(...).master_for(SERVICE)`` for a Sentinel-watched master (each new
connection asks the sentinels where the master is now, so a failover is followed without a restart;
no retries inside redis-py: with its default ones, sentinels that cannot be reached held each call
4.6 s, where failing at once lets the limiter pace in-process, ``store.StoreLink``),
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

import importlib
import threading
import time
from typing import TYPE_CHECKING, Any

from .store import parse_store_address

if TYPE_CHECKING:
    import redis as redis_module

__all__ = ["MasterWatch", "open_redis", "shared_cluster"]


def open_redis(url: str, *, timeout: float, on_loop: bool = False) -> redis_module.Redis | Any:
    """A redis-py client for the store ``url`` (checked by ``store.check_store_url``); every socket wait
    bounded by ``timeout`` seconds. ``on_loop``: a ``redis.asyncio`` client, for the running asyncio loop
    only (one server or a Sentinel-watched master, not a Cluster: ``redis_store.LoopBudget``). A Cluster
    client learns the cluster's nodes and commands here (I/O: it may raise redis-py's errors;
    ``shared_cluster`` makes one per process); the others connect on first use."""
    import redis
    from redis.backoff import NoBackoff

    address = parse_store_address(url)
    timeouts: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout, **_no_client_info()}
    credentials: dict[str, Any] = {"username": address.username, "password": address.password}
    if address.kind == "cluster":
        from redis.cluster import ClusterNode, RedisCluster

        node: Any = ClusterNode  # redis-py leaves it untyped
        nodes = [node(host, port) for host, port in address.hosts]
        return RedisCluster(startup_nodes=nodes, **credentials, **timeouts)
    library: Any = importlib.import_module("redis.asyncio") if on_loop else redis  # redis-py leaves Sentinel untyped
    if address.kind == "sentinel":
        retry = importlib.import_module(f"{library.__name__}.retry").Retry
        timeouts["retry"] = retry(NoBackoff(), 0)  # redis-py 6+ retries 3 times, backing off seconds: fail at once
        sentinel_kwargs = dict(timeouts)
        for name in ("password", "username"):
            if f"sentinel_{name}" in address.sentinel_options:
                sentinel_kwargs[name] = address.sentinel_options[f"sentinel_{name}"]
        watched = library.Sentinel(list(address.hosts), sentinel_kwargs=sentinel_kwargs, **timeouts)
        return watched.master_for(address.service, db=address.db, **credentials, **timeouts)
    return library.Redis.from_url(url, **timeouts)


def _no_client_info() -> dict[str, Any]:
    """Options that keep redis-py from telling the server its name and version (``CLIENT SETINFO``, only
    informational) on every new connection, for both clients (blocking and ``redis.asyncio``), which open one
    per thread or per concurrent take: two round trips each in redis-py 5-7 (``lib_name=None,
    lib_version=None``), and in redis-py >= 8 (``driver_info=None``) also a read of its version from the
    package metadata (some 4 ms of CPU each, on the event loop for ``open_redis(on_loop=True)``'s).

    The protocol stays redis-py's default. RESP2 would save redis-py 8's ``HELLO 3`` per new connection (a
    loopback round trip; no change in a cold process's time to its first permit), but beside an async batch
    through Redis it left the event loop's worst tick 1-3 ms later (``make bench`` section 13, taking turns:
    3 of 6 cells over 10 ms with RESP2, 0 of 6 without; ``docs/benchmarks.md``), and a Sentinel failover drew
    429s more often with it under load."""
    try:
        import redis.driver_info  # noqa: F401  (redis-py >= 8: lib_name and lib_version are deprecated)
    except ImportError:
        return {"lib_name": None, "lib_version": None}
    return {"driver_info": None}


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

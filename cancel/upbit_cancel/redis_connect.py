"""The redis-py client a store URL names, this package's Lua scripts on it, and who its master is (the
``[redis]`` extra).

``open_redis`` turns a URL (``store.parse_store_address``'s forms) into a client: ``redis.Redis.from_url`` for one
server, ``redis.sentinel.Sentinel(...).master_for(SERVICE)`` for a Sentinel-watched master (each new
connection asks the sentinels where the master is now, so a failover is followed without a restart;
no retries inside redis-py: with its default ones, sentinels that cannot be reached held each call
4.6 s, where failing at once lets the limiter pace in-process, ``store.StoreLink``),
``redis.cluster.RedisCluster`` for a Cluster (each key goes to the node of its hash slot; the store's
keys carry the pocket in a hash tag, ``{...}``, so each Lua script's keys share one slot). ``RedisClient``,
the base of both Redis stores (the budget's and the heartbeats'), holds one with its ``Scripts`` and turns
every failure into ``store.StoreUnavailable``.

``MasterWatch`` notices that the master serving a key changed: a Sentinel failover, a Cluster failover of
the key's slot, or one server restarted. Replication is asynchronous, so the new master may lack the
last writes the old one acknowledged (a heartbeat, a window's count): whoever reads the store may
need to allow for that (the guard allows a grace of one timeout, ``guard_core.Watch``, ``docs/guard.md``). The master is
known by its ``run_id`` (``INFO server``: new for every ``redis-server`` process), read by ``lua/master.lua``
run on the watched key, so on a Cluster it is the run id of the node that holds that key.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .store import StoreUnavailable, parse_store_address, redacted_text, redacted_url

if TYPE_CHECKING:
    import redis as redis_module

__all__ = [
    "BUNDLED",
    "TIMEOUT",
    "Call",
    "MasterWatch",
    "RedisClient",
    "Scripts",
    "lua_script",
    "open_redis",
    "shared_cluster",
]

TIMEOUT = 0.5
"""Every socket wait of a store call (connect, each read) is bounded by this many seconds."""
T = TypeVar("T")
R = TypeVar("R")


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
    informational) on every new connection of both clients, which open one per thread or per concurrent
    take: two round trips each in redis-py 5-7, and in redis-py >= 8 also a read of its version from the
    package metadata (some 4 ms of CPU each, on the event loop for ``open_redis(on_loop=True)``'s). The
    protocol stays redis-py's default: RESP2 left the loop's worst tick beside an async batch 1-3 ms later
    (``docs/benchmarks.md``, "Section 13 after the merges")."""
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


BUNDLED = ("block", "peers", "master", "take")
"""The scripts ``lua/many.lua`` may run together in one round trip: a take and the upkeep before it."""


@functools.cache
def lua_script(name: str) -> str:
    """The source of the Lua script ``lua/<name>.lua`` of this package (take, fill, settle, block, ...); for
    ``many``, each of ``BUNDLED`` as a local function of (KEYS, ARGV) above it."""
    source = _lua_file(name)
    if name != "many":
        return source
    functions = [f"SCRIPTS['{part}'] = function(KEYS, ARGV)\n{lua_script(part).rstrip()}\nend\n" for part in BUNDLED]
    return "".join(["local SCRIPTS = {}\n", *functions, source])


def _lua_file(name: str) -> str:
    """``lua/<name>.lua`` read beside this module; through ``importlib.resources`` only where the package is not
    a folder (a zip): its readers cost a cold process some 2-15 ms of imports before its first take."""
    try:
        return Path(__file__).with_name("lua").joinpath(f"{name}.lua").read_text(encoding="utf-8")
    except OSError:
        from importlib import resources

        return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Call:
    """One call to Redis, the same for the blocking client and ``redis_store.LoopBudget``'s: ``name`` a Lua
    script (``keys``, ``args``), or ``get`` of ``keys[0]``; ``read`` checks the reply and turns it into the
    answer."""

    name: str
    keys: list[str]
    args: list[Any]
    read: Callable[[Any], Any]


class Scripts:
    """This package's Lua scripts (``lua_script``) on one client, blocking or ``redis.asyncio`` (``run`` then gives
    an awaitable). A script's first call on the client sends its source (``EVAL``, which also caches it on the
    server: one round trip, where ``EVALSHA`` first cost three on a server that lacked it); later calls its
    SHA1 (``EVALSHA``; on ``NOSCRIPT``, a server restarted or flushed, redis-py sends the script again)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.registered: dict[str, Any] = {}
        """The scripts sent once, called by their SHA1 from then on."""

    def run(self, call: Call) -> Any:
        """``call`` (a script, or ``get``) on this client: its reply (an awaitable for ``redis.asyncio``)."""
        if call.name == "get":
            return self.client.get(call.keys[0])
        script = self.registered.get(call.name)
        if script is not None:
            return script(keys=call.keys, args=call.args)
        # If this EVAL fails, the EVALSHA after it loads the script: still right.
        self.registered[call.name] = self.client.register_script(lua_script(call.name))
        return self.client.eval(lua_script(call.name), len(call.keys), *call.keys, *call.args)


def _same(value: T) -> T:
    return value


class RedisClient:
    """A Redis store's client with this package's Lua scripts on it (``scripts``): the base of
    ``redis_store.SharedBudget`` and ``heartbeat_store.RedisHeartbeats``. Every failure of the store is one
    ``StoreUnavailable`` naming it (``what``, the URL password-redacted): an error reply (``-OOM``,
    ``-READONLY``, ``-MOVED``, ``-NOAUTH``, ``-LOADING``, ...), garbage, silence or a closed connection
    (redis-py's errors, ``OSError``), a reply of the wrong type or shape (each call's reader checks what it
    was given, and anything a reader or redis-py raises on it counts: the store misbehaved, not the
    caller), and a reply later than ``deadline`` seconds.

    The client of one server or of a Sentinel's master is made at once (no I/O yet; a bad query raises
    here) unless ``client`` is given; a Cluster's is the process's (``shared_cluster``), made on first use,
    inside ``call``: a Cluster that cannot be reached fails a call, not the constructor."""

    blocking = True
    deadline: float = math.inf

    def __init__(self, url: str, what: str, client: Any = None) -> None:
        self.url = url
        self._what = what
        try:
            import redis  # noqa: F401  (only to say what is missing)
        except ImportError as error:  # depends on the installed extras
            raise StoreUnavailable(f"a {what} needs redis-py: pip install 'upbit-order-cancel[redis]'") from error
        self._cluster = url.lower().startswith("redis+cluster:")  # a URL that cannot work fails inside call
        self._scripts: Scripts | None = None
        if client is None and not self._cluster:
            client = self.call(lambda: open_redis(url, timeout=TIMEOUT), _same)
        if client is not None:
            self._scripts = Scripts(client)

    @property
    def scripts(self) -> Scripts:
        """The scripts on this store's client, made now for a Cluster (use it inside ``call``)."""
        if self._scripts is None:
            self._scripts = Scripts(shared_cluster(self.url, timeout=TIMEOUT))
        return self._scripts

    def call(self, command: Callable[[], R], read: Callable[[R], T]) -> T:
        """``read(command())``, the one way to the store (``redis_store.LoopBudget.call``: the same on a loop)."""
        started = time.monotonic()
        try:
            return read(self.in_time(command(), started))
        except Exception as error:  # every failure of the store is one failure, see above
            raise self.failure(error) from error

    def _run(self, call: Call) -> Any:
        """Make ``call`` (one command or script) through this store's client, read by ``call.read``."""
        return self.call(lambda: self.scripts.run(call), call.read)

    def in_time(self, reply: R, started: float) -> R:
        """``reply``, unless it came later than ``deadline`` after ``started`` (``time.monotonic()``)."""
        took = time.monotonic() - started
        if took > self.deadline:
            raise TimeoutError(f"answered after {took:.1f} s (more than {self.deadline:g} s)")
        return reply

    def failure(self, error: Exception) -> StoreUnavailable:
        """``error`` met by a call to this store, as ``StoreUnavailable``."""
        text = f"{type(error).__name__}: {redacted_text(str(error), self.url)}"
        return StoreUnavailable(f"{self._what} {redacted_url(self.url)}: {text}")

    def close(self) -> None:
        """Close the client (a Cluster's is the process's, ``shared_cluster``: left open)."""
        if self._scripts is not None and not self._cluster:
            with contextlib.suppress(Exception):
                self._scripts.client.close()

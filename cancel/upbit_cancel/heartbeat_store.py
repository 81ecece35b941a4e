"""Where heartbeats live: a shared Redis (bot and guard on any hosts) or a folder (one host, no Redis).

A heartbeat ``name`` is two facts, kept together by every store:

- **alive**: it was beaten less than its timeout ago. On Redis, a key with a TTL on the *store's* clock
  (``SET ... PX``): the deadline is kept where both the bot and the guard read it, so their own clocks
  may disagree by any amount; the guard reads the time left (``PTTL``), never a timestamp. The key's
  value is the timeout (``timeout:SECONDS``; earlier releases wrote ``1``, read as unknown), which the
  guard needs for its grace after a failover (``guard_core``). In a folder,
  a deadline on ``time.monotonic()``, which on Linux is one clock for every process of the host (one
  host, one boot: a reboot forgets every deadline, see ``docs/guard.md``).
- **armed**: the bot asked for a guard (a timeout above 0) and the guard has not fired since; it holds
  the heartbeat's scope (what to cancel, as text: ``heartbeat.Scope``). Armed but not alive is expired:
  the guard fires. Disarmed (timeout 0, or after a fire) and not alive is nothing to do, as Kraken's
  ``cancelAllOrdersAfter`` is disabled until the next non-zero timeout.

``claim`` is the one step that turns "expired" into "firing": atomically it checks armed-and-not-alive
and disarms, so a bot beating at that moment is never fired on, and of two guards watching one
heartbeat only one fires. Every call raises ``store.StoreUnavailable`` when the store cannot be used;
what the guard does then is ``guard_core``'s rule (it waits and warns).

The setting: ``store=`` (``heartbeat`` / ``guard`` ``--store``), else ``$UPBIT_HEARTBEAT_STORE``, else
``$UPBIT_RATE_LIMIT_STORE`` (the shared Redis the pockets' budgets already use), else the folder
``$XDG_STATE_HOME/upbit-cancel/heartbeats`` (``~/.local/state/...``). A Redis URL is a Redis: every form the
budget store takes (``redis://``, ``rediss://``, ``unix://``, ``redis+sentinel://``, ``redis+cluster://``,
``store.parse_store_address``), opened by ``redis_connect``; a path (absolute, or ``file://``) is a folder.
Each Redis read answers the run id of the master that holds the heartbeat (``lua/read.lua``, ``Beat.master``):
a failover may have lost the last beat, so the guard holds its fire for a grace (``guard_core.Watch``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import ConfigurationError
from .redis_connect import Call, RedisClient
from .store import STORE_ENV, StoreUnavailable, check_store_url, redacted_url

__all__ = [
    "HEARTBEAT_STORE_ENV",
    "Beat",
    "FolderHeartbeats",
    "HeartbeatStore",
    "RedisHeartbeats",
    "check_name",
    "open_heartbeat_store",
]

HEARTBEAT_STORE_ENV = "UPBIT_HEARTBEAT_STORE"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster")
_TIMEOUT_PREFIX = "timeout:"


def check_name(name: object) -> str:
    """A heartbeat's name: 1-64 of letters, digits, ``.``, ``_``, ``-`` (it names keys and files)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"a heartbeat name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit; "
            f"given: {name!r}"
        )
    return name


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat as a store sees it now: ``armed`` (with its ``scope`` text) and the seconds ``left``
    until its deadline (None: not alive, expired or never beaten); the ``timeout`` it was beaten with
    (None: not alive, or beaten by an earlier release); the run id of the Redis ``master`` that answered
    (None: a folder)."""

    armed: bool
    left: float | None
    scope: str | None = None
    timeout: float | None = None
    master: str | None = None

    @property
    def expired(self) -> bool:
        return self.armed and self.left is None


class HeartbeatStore(Protocol):
    """The rules above. ``blocking``: calls wait on the network (an async caller runs them in a thread)."""

    where: str
    blocking: bool

    def beat(self, name: str, timeout: float, scope: str) -> None: ...
    def disarm(self, name: str) -> None: ...
    def read(self, name: str) -> Beat: ...
    def claim(self, name: str) -> str | None: ...
    def close(self) -> None: ...


class RedisHeartbeats(RedisClient):
    """Heartbeats on Redis: ``upbit-hb:{name}:alive`` (TTL) and ``upbit-hb:{name}:armed`` (the scope).

    The braces are a cluster hash tag: both keys of a heartbeat are in one slot, so ``lua/claim.lua`` and
    ``lua/read.lua`` run on a Cluster (on the node of that slot). The client is ``redis_connect``'s
    (``RedisClient``: one server, a Sentinel-watched master, or the process's one Cluster client).
    """

    def __init__(self, url: str) -> None:
        self.where: str = redacted_url(url)
        super().__init__(url, "heartbeat store")

    @staticmethod
    def keys(name: str) -> list[str]:
        return [f"upbit-hb:{{{name}}}:alive", f"upbit-hb:{{{name}}}:armed"]

    def beat(self, name: str, timeout: float, scope: str) -> None:
        alive, armed = self.keys(name)

        def send() -> object:
            pipe = self.scripts.client.pipeline(transaction=True)
            pipe.set(alive, f"{_TIMEOUT_PREFIX}{float(timeout)!r}", px=max(1, round(timeout * 1000)))
            pipe.set(armed, scope)
            return pipe.execute()

        self.call(send, _as_is)

    def disarm(self, name: str) -> None:
        self.call(lambda: self.scripts.client.delete(*self.keys(name)), _as_is)

    def read(self, name: str) -> Beat:
        beat: Beat = self._run(Call("read", self.keys(name), [], _beat_of_reply))
        return beat

    def claim(self, name: str) -> str | None:
        scope = self._run(Call("claim", self.keys(name), [], _as_is))
        return scope.decode() if isinstance(scope, bytes) else None


def _as_is(reply: object) -> object:
    return reply


def _timeout_of(value: object) -> float | None:
    """The timeout an alive key's value names (``timeout:SECONDS``), or None (an earlier release's ``1``)."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else ""
    if not text.startswith(_TIMEOUT_PREFIX):
        return None
    try:
        timeout = float(text[len(_TIMEOUT_PREFIX) :])
    except ValueError:
        return None
    return timeout if math.isfinite(timeout) and timeout > 0 else None


def _beat_of_reply(reply: object) -> Beat:
    """``lua/read.lua``'s answer as a ``Beat``; ``ValueError`` for any other shape (the store misbehaved)."""
    if not isinstance(reply, list) or len(reply) != 4 or not isinstance(reply[0], int):
        raise ValueError(f"expected {{left, scope, alive, run id}}, got {reply!r:.80}")
    left_ms, scope, alive, run_id = reply
    if not isinstance(run_id, bytes) or not run_id:
        raise ValueError(f"expected a run id, got {run_id!r:.80}")
    text = scope.decode() if isinstance(scope, bytes) else None
    left = left_ms / 1000 if left_ms >= 0 else None
    return Beat(text is not None, left, text, _timeout_of(alive) if left is not None else None, run_id.decode())


class FolderHeartbeats:
    """Heartbeats of one host in a folder (mode 0700): ``<name>.json`` holds the deadline on
    ``time.monotonic()`` and the scope, written whole (a temporary file, then ``os.replace``); each
    step holds ``<name>.lock`` (``flock``), so a beat and a claim never interleave."""

    blocking = False

    def __init__(self, folder: str | os.PathLike[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.folder: Path = Path(folder)
        self.where: str = str(self.folder)
        self._clock = clock
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailable(f"heartbeat folder {self.where}: {error}") from error

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[Path]:
        try:
            with open(self.folder / f"{name}.lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                yield self.folder / f"{name}.json"
        except OSError as error:
            raise StoreUnavailable(f"heartbeat folder {self.where}: {error}") from error

    def _load(self, path: Path) -> dict[str, Any] | None:
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):  # none, or a file written by something else: not armed by us
            return None
        return value if isinstance(value, dict) else None

    def beat(self, name: str, timeout: float, scope: str) -> None:
        with self._locked(name) as path:
            temporary = path.with_suffix(".tmp")
            value = {"deadline": self._clock() + timeout, "scope": scope, "timeout": timeout}
            temporary.write_text(json.dumps(value), encoding="utf-8")
            os.replace(temporary, path)

    def disarm(self, name: str) -> None:
        with self._locked(name) as path:
            path.unlink(missing_ok=True)

    def _beat_of(self, value: dict[str, Any] | None) -> Beat:
        if value is None or not isinstance(value.get("scope"), str):
            return Beat(False, None)
        deadline = value.get("deadline")
        if isinstance(deadline, bool) or not isinstance(deadline, int | float):
            raise StoreUnavailable(f"heartbeat folder {self.where}: a heartbeat file without a deadline")
        left = deadline - self._clock()
        timeout = value.get("timeout")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or left <= 0:
            timeout = None  # not alive, or written by an earlier release
        return Beat(True, left if left > 0 else None, value["scope"], timeout)

    def read(self, name: str) -> Beat:
        with self._locked(name) as path:
            return self._beat_of(self._load(path))

    def claim(self, name: str) -> str | None:
        with self._locked(name) as path:
            beat = self._beat_of(self._load(path))
            if not beat.expired:
                return None
            path.unlink(missing_ok=True)
            return beat.scope

    def close(self) -> None:
        pass


def resolve_heartbeat_store(setting: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The store to use as text (a Redis URL or a folder), by the setting's order (module docstring)."""
    env = os.environ if environ is None else environ
    for value in (setting, env.get(HEARTBEAT_STORE_ENV), env.get(STORE_ENV)):
        if value:
            return value
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return str(Path(base) / "upbit-cancel" / "heartbeats")


def open_heartbeat_store(setting: str | None = None, environ: Mapping[str, str] | None = None) -> HeartbeatStore:
    """The heartbeat store the setting names (``resolve_heartbeat_store``); ``ConfigurationError`` for one
    that can never work, ``StoreUnavailable`` for one that cannot be used now."""
    where = resolve_heartbeat_store(setting, environ)
    if where.startswith("file://"):
        return FolderHeartbeats(where[len("file://") :])
    if os.path.isabs(where):
        return FolderHeartbeats(where)
    if where.partition("://")[0].lower() in _REDIS_SCHEMES:
        return RedisHeartbeats(check_store_url(where, "the heartbeat store"))
    raise ConfigurationError(
        "the heartbeat store must be a Redis URL (redis://, rediss://, unix://, redis+sentinel://, redis+cluster://) "
        "or an absolute folder path "
        f"(or file:///path); given: {redacted_url(where)!r}"
    )

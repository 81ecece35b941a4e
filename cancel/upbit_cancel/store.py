"""The budget store: one interface for every place a rate-limit budget is shared through, and the setting.

A limiter (``ratelimit.RateLimiter``, through its ``StoreLink``) talks to a ``BudgetStore`` only (its rules):
``redis_store.SharedBudget`` (Redis, the ``[redis]`` extra: every process and machine of a pocket) or
``memory_store.MemoryBudget`` (one process, and the tests). A store only counts, atomically; the strategy
(which windows a send may land in, how long to wait) stays in ``window_log`` and ``StoreLink``.

The setting: ``rate_limit_store=`` (or the CLI's ``--rate-limit-store``), else ``$UPBIT_RATE_LIMIT_STORE``,
read and checked in one place, ``resolve_store_url``. Its forms (one server, Sentinel, Cluster: ``docs/pacing.md``,
"Where the budget is kept") are parsed here without redis-py (``parse_store_address``), so that a setting
that can never work is refused before anything is sent, and the driver (``redis_connect``) reads the same
value; ``open_store`` turns a URL into a store.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import hashlib
import logging
import math
import os
import re
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

from .errors import ConfigurationError
from .settings import STORE_ENV as STORE_ENV
from .window_log import BASE_MARGIN, IN_FLIGHT_POLL, STORE_RETRY_SECONDS, Permit, WindowLog

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "BOUNDS_TTL",
    "PEERS_SECONDS",
    "PHASE_POLL",
    "PHASE_TTL",
    "STORE_ENV",
    "WINDOW_TTL",
    "Ask",
    "BudgetKeys",
    "BudgetStore",
    "LinkState",
    "LoopStore",
    "Send",
    "StoreAddress",
    "StoreLink",
    "StoreUnavailable",
    "StoreWrite",
    "TakeResult",
    "Taken",
    "Write",
    "caught",
    "check_store_url",
    "forget_warnings",
    "loop_store",
    "on_event_loop",
    "open_store",
    "parse_store_address",
    "redacted_text",
    "redacted_url",
    "resolve_store_url",
]

PEERS_SECONDS = 3.0
"""A process of a budget counts as present this long after its last take (``BudgetStore.peers``)."""
WINDOW_TTL = 5.0
"""How long a window's count is kept, in seconds per second of the window (five windows): long enough for
every send that may share it. Each store keeps its keys this long (``MemoryBudget``, ``SharedBudget``)."""
PHASE_TTL = 3600.0
"""How long a saved phase is kept (seconds)."""
BOUNDS_TTL = 60.0
"""How long the bounds a host's processes pooled (``BudgetKeys.bounds``) are kept (seconds)."""


class StoreUnavailable(Exception):
    """The shared store could not be used (unreachable, timed out, refused the script)."""


_CREDENTIAL_NAMES = re.compile(r"pass|secret|token|auth|cred|key", re.IGNORECASE)
_QUERY_PARAMETER = re.compile(r"([?&;])([^=&;]*)=([^&;]*)")


def _credential_parameter(name: str) -> bool:
    """A query parameter that may carry a credential (``password``, ``ssl_password``, ``token``, ...): its
    name as redis-py reads it (percent-decoded), so ``pass%77ord`` is one too."""
    return bool(_CREDENTIAL_NAMES.search(unquote_plus(name)))


def redacted_url(url: str) -> str:
    """``url`` without a credential, for messages, logs and reprs: ``redis://:pw@h`` and ``rediss://user:pw@h``
    become ``redis://***@h``; a credential in the query (``?password=pw``, ``unix:///s?password=pw``, any
    parameter named like a credential) becomes ``password=***``.

    Made on the text, not on a parse, so that a URL no parser accepts (a password holding ``@``, ``/``,
    ``#``) is redacted too: everything up to the last ``@`` goes (more than the user info, if the path
    or query holds an ``@``: a message loses detail, never a secret), and a credential's value runs to
    the next ``&`` or ``;`` (a ``#`` in it is part of it).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" in rest:
        rest = f"***@{rest.rsplit('@', 1)[1]}"

    def parameter(match: re.Match[str]) -> str:
        lead, name, value = match.groups()
        return f"{lead}{name}={'***' if _credential_parameter(name) else value}"

    return f"{scheme}{sep}{_QUERY_PARAMETER.sub(parameter, rest)}"


def _url_secrets(url: str) -> list[str]:
    """The credentials written in ``url`` (the user info's password, credential query values), as written,
    as a URL parser reads them (cut at a ``#``, ``?``, ``/`` or ``@``) and percent-decoded, longest first:
    for ``redacted_text``."""
    found: set[str] = set()
    scheme_rest = url.partition("://")[2] or url
    if "@" in scheme_rest:
        userinfo = scheme_rest.rsplit("@", 1)[0]
        found.add(userinfo.partition(":")[2] if ":" in userinfo else userinfo)
    for _, name, value in _QUERY_PARAMETER.findall(scheme_rest):
        if _credential_parameter(name):
            found.add(value)
    with contextlib.suppress(ValueError):  # a parser's view: up to a "#", "?" or "/" in an unquoted password
        found.add(urlsplit(url).password or "")
    found |= {re.split(r"[#?/@]", secret)[0] for secret in found}
    found |= {unquote_plus(secret) for secret in found} | {unquote(secret) for secret in found}
    return sorted((secret for secret in found if secret), key=len, reverse=True)


def redacted_text(text: str, url: str) -> str:
    """``text`` (an error's message about the store ``url``) with every credential of ``url`` in it hidden:
    a library's message may quote what it was given."""
    for secret in _url_secrets(url):
        text = text.replace(secret, "***")
    return text


_SENTINEL_PORT = 26379
_CLUSTER_PORT = 6379
_SENTINEL_PARAMETERS = frozenset({"sentinel_password", "sentinel_username"})


@dataclass(frozen=True, slots=True)
class StoreAddress:
    """A parsed store URL. ``kind``: ``"server"`` (``url`` goes to redis-py as it is), ``"sentinel"`` or
    ``"cluster"`` (``hosts``, the credentials, ``service`` and ``db`` for a sentinel's master)."""

    kind: str
    url: str
    hosts: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_options: dict[str, str] = field(default_factory=dict)


def _hosts(text: str, default_port: int) -> tuple[tuple[str, int], ...]:
    """``HOST[:PORT],...`` (``[v6]:PORT`` too) as (host, port) pairs; ``ValueError`` saying what is wrong."""
    hosts = []
    for part in text.split(","):
        parsed = urlsplit(f"//{part}")
        port = parsed.port  # ValueError on a port that is not a number or out of range
        if not parsed.hostname or parsed.username is not None:
            raise ValueError(f"has a host list entry without a host ({part!r})")
        if port == 0:
            raise ValueError("has an invalid port")
        hosts.append((parsed.hostname, port or default_port))
    return tuple(hosts)


def _credentials(userinfo: str | None) -> tuple[str | None, str | None]:
    if userinfo is None:
        return None, None
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if colon else None)


def parse_store_address(url: str) -> StoreAddress:
    """The store ``url`` names; ``ValueError`` saying what is wrong with it (``check_store_url`` redacts it)."""
    scheme, sep, rest = url.partition("://")
    kind = {"redis+sentinel": "sentinel", "redis+cluster": "cluster"}.get(scheme.lower(), "server")
    if kind == "server" or not sep:
        _check_server_url(url)
        return StoreAddress("server", url)
    rest, _, query = rest.partition("?")
    userinfo, at, rest = rest.rpartition("@")
    netloc, _, path = rest.partition("/")
    if not netloc:
        raise ValueError("has no host")
    hosts = _hosts(netloc, _SENTINEL_PORT if kind == "sentinel" else _CLUSTER_PORT)
    segments = [segment for segment in path.split("/") if segment]
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - (_SENTINEL_PARAMETERS if kind == "sentinel" else set()))
    if unknown:
        raise ValueError(f"has query parameters it cannot use: {', '.join(unknown)}")
    username, password = _credentials(userinfo if at else None)
    if kind == "cluster":
        if segments not in ([], ["0"]):
            raise ValueError("names a database: a cluster has database 0 only")
        return StoreAddress(kind, url, hosts, username=username, password=password)
    if not segments or len(segments) > 2:
        raise ValueError("must name the service the sentinels watch (/SERVICE[/DB])")
    if len(segments) == 2 and not segments[1].isdigit():
        raise ValueError("has a database that is not a number")
    db = int(segments[1]) if len(segments) == 2 else 0
    return StoreAddress(kind, url, hosts, unquote(segments[0]), db, username, password, options)


def _check_server_url(url: str) -> None:
    """``ValueError`` if the one-server ``url`` cannot work (redis-py reads the rest of it)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"is not a valid URL ({error})") from None
    scheme, database = parts.scheme.lower(), parts.path.strip("/")
    problem = None
    if scheme == "unix":
        if not parts.path:
            problem = "needs a socket path"
    elif scheme not in ("redis", "rediss"):
        problem = "must use the redis, rediss, unix, redis+sentinel or redis+cluster scheme"
    elif not parts.hostname:
        problem = "has no host"
    elif port == 0:
        problem = "has an invalid port"
    elif database and not database.isdigit():
        problem = "has a database that is not a number"
    if problem is not None:
        raise ValueError(problem)


_STORE_FORMS = (
    "redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB], unix:///PATH, "
    "redis+sentinel://HOST[:PORT][,HOST[:PORT]...]/SERVICE[/DB] or redis+cluster://HOST[:PORT][,HOST[:PORT]...]"
)


def check_store_url(url: object, source: str) -> str:
    """``url`` if redis-py can use it as the shared store; else ``ConfigurationError`` naming ``source`` and the
    (password-redacted) value. Checked before anything is sent: a store that can never work is bad usage,
    not a store that is down (which only costs the sharing, see ``StoreUnavailable``)."""
    if not isinstance(url, str):
        raise ConfigurationError(f"{source} must be a string ({_STORE_FORMS}); given: {type(url).__name__}")
    try:
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
            raise ValueError("must not contain whitespace or control characters")
        parse_store_address(url)
    except ValueError as error:
        problem = redacted_text(str(error), url)
        raise ConfigurationError(
            f"{source} {problem}: it must look like {_STORE_FORMS}; given: {redacted_url(url)!r}"
        ) from None
    return url


def resolve_store_url(
    setting: str | None, *, source: str = "rate_limit_store", environ: Mapping[str, str] | None = None
) -> str | None:
    """The store URL to use, checked: ``setting`` (named ``source`` in errors), else ``$UPBIT_RATE_LIMIT_STORE``
    of ``environ`` (default ``os.environ``); None for no store (``setting`` ``""`` says so explicitly).

    The one place the setting is read: ``ConfigurationError`` names the argument or the variable.
    """
    if setting is not None:
        return check_store_url(setting, source) if setting else None
    value = (os.environ if environ is None else environ).get(STORE_ENV)
    return check_store_url(value, STORE_ENV) if value else None


@dataclass(frozen=True, slots=True)
class TakeResult:
    """``taken``; else ``blocked_until`` (epoch seconds) if the key is blocked, or ``phase_in_store``."""

    taken: bool
    blocked_until: float | None = None
    phase_in_store: bool = False
    held: bool = False
    """Not taken only because of charges of requests still in flight: ask again soon, not a window later."""
    trickling: bool = False
    """Not taken because the reserve is trickling out (phase unknown): ask again after the interval."""


_KEY_FORMAT = "v2"
"""The store's key layout (``BudgetKeys``); format 1, before it, had no version segment and no hash tag."""


@dataclass(frozen=True, slots=True)
class BudgetKeys:
    """The names a budget's counts are kept under, for every store: ``upbit-rl:v2:{<sha256(pocket)[:16]>}:...``
    (the layout: ``docs/pacing.md``). The pocket's hash is the key's hash tag (``{...}``): on a Redis Cluster
    every key of a pocket lives in one slot, so each Lua script (which may only touch one slot) runs there.

    ``fence``: the block key of format 1 for the pocket (``upbit-rl:<hash>:block``), which a format-2 store
    keeps set an hour ahead: a format-1 process reads its pocket as blocked and sends nothing, never spending
    a second budget (``docs/pacing.md``, "Upgrading the store's format").
    """

    prefix: str
    block: str
    phase: str
    trickle: str
    host: str
    fence: str

    @property
    def peers(self) -> str:
        """The processes of this budget that took through the store lately (a sorted set, by time)."""
        return f"{self.prefix}:peers"

    @property
    def dated(self) -> str:
        """This host's charges of local seconds an answer dated to an exchange window, waiting for a stored
        phase to move them there (a hash: ``"<window> <second> <second>..."`` -> how many)."""
        return f"{self.prefix}:dated:{self.host}"

    @property
    def bounds(self) -> str:
        """The bounds of the phase this host's processes drew from their ``Date`` headers, pooled (``"lo hi"``)."""
        return f"{self.prefix}:bounds:{self.host}"

    @classmethod
    def of(cls, pocket: str, group: str) -> BudgetKeys:
        digest = hashlib.sha256(pocket.encode("utf-8")).hexdigest()[:16]
        pocket_prefix = f"upbit-rl:{_KEY_FORMAT}:{{{digest}}}"
        prefix, host = f"{pocket_prefix}:{group or '-'}", socket.gethostname()
        block, fence = f"{pocket_prefix}:block", f"upbit-rl:{digest}:block"
        return cls(prefix, block, f"{prefix}:phase:{host}", f"{prefix}:trickle:{host}", host, fence)

    def counts(self, exchange_windows: bool, numbers: list[int] | tuple[()]) -> list[str]:
        """The count keys of exchange windows, else of this host's local seconds."""
        if exchange_windows:
            return [f"{self.prefix}:w:{n}" for n in numbers]
        return [f"{self.prefix}:l:{self.host}:{n}" for n in numbers]

    @staticmethod
    def dated_field(window: int, local_seconds: list[int]) -> str:
        """The field of the ``dated`` hash for a charge of ``local_seconds`` an answer dated to exchange
        ``window``: ``"<window> <second> <second>..."``, as ``lua/phase.lua`` reads it back."""
        return " ".join(str(n) for n in (window, *local_seconds))

    @staticmethod
    def pair_text(lo: float, hi: float) -> str:
        """A phase or its bounds as stored: ``"lo hi"`` (each ``repr``: exact), as ``lua/bounds.lua`` reads it."""
        return f"{lo!r} {hi!r}"

    @staticmethod
    def read_pair(stored: object) -> tuple[float, float] | None:
        """A stored pair (``pair_text``'s or ``lua/bounds.lua``'s) back, None if none or if not two numbers (a
        phase only speeds the start up); TypeError if not text (a broken store)."""
        if stored is None:
            return None
        if not isinstance(stored, str | bytes):
            raise TypeError(f"expected a string or nil, got {type(stored).__name__}")
        try:
            lo, hi = (float(part) for part in stored.split())
        except ValueError:
            return None
        return lo, hi

    def for_send(self, windows: list[int] | None, local_seconds: list[int]) -> tuple[list[str], list[str]]:
        """(keys to charge, keys only to check) for a send: phase unknown (``windows`` None), its local
        seconds are charged; else its exchange ``windows`` are, and the local seconds only checked."""
        local = self.counts(False, local_seconds)
        return (local, []) if windows is None else (self.counts(True, windows), local)


@dataclass(frozen=True, slots=True)
class Send:
    """One send for ``BudgetStore.take`` to charge: the exchange ``windows`` it may land in (None: the phase is
    unknown) and the ``local_seconds`` to charge (phase unknown) or only check. ``ask_phase``: with the phase
    unknown, report a stored one instead of charging. ``trickle`` (reserve, interval seconds, the caller's
    clock now): the last ``reserve`` of a count go one per interval."""

    windows: list[int] | None
    local_seconds: list[int]
    ask_phase: bool = True
    trickle: tuple[int, float, float] | None = None


class BudgetStore(Protocol):
    """One (pocket, group) budget in a shared store. Every method raises ``StoreUnavailable`` when the store
    cannot be used; the limiter then paces in-process at its share of the budget among the processes the
    store last counted (``StoreLink.share``). The rules, per method (why, with the 429s each one removed:
    ``docs/pacing.md``, "One budget for several processes and machines"; ``tests/test_store_rules.py`` runs
    each over every store):

    - ``take``: phase known and dated (``Send.windows``), charge the exchange windows the send may land in and
      only check the host's local seconds (whose counts hold phase-unknown sends); else charge the local
      seconds ``floor(t)`` and ``floor(t) + 1``. Checking and charging are one atomic step. Say the process
      is there (``peers``); report a stored phase to a caller that does not know it (``phase_in_store``: so
      a take that does not know the phase never misses a charge ``date`` moved); trickle the last
      ``reserve`` of a count for all the host's processes together (``trickling``); a window full only of
      unsettled charges is ``held``.
    - ``settle``: an answer gives back (``give_back``) the windows its send did not land in (a send is
      charged one window more while in flight), charges the one its ``Date`` named if it was not charged
      (``take``), and counts the charges it kept in each count's "settled" twin (``<key>:s``: ``settled``).
    - ``date``: an answer whose ``Date`` names the exchange window of a send charged to local seconds moves
      the charge there once the host has a stored phase, else keeps it pending (``dated``) until
      ``save_phase`` moves every pending one. ``pool_bounds``: the host's processes pool their ``Date`` bounds
      of the phase (the intersection; bounds that do not meet it replace it).
    - ``fill`` (a 429): the windows of that send are full, whoever filled them (filled to twice the budget,
      so charges given back later cannot reopen them). ``block`` (a 418, per pocket): a shorter block never
      shortens a longer one; the end the store holds is returned.

    ``blocking``: its calls wait on I/O (a network round trip). An async caller never makes them on its
    event loop (``ratelimit`` runs them in a worker thread); a store that only touches memory is called
    in place. ``peers()`` does no I/O: how many processes of this budget took through the store in the
    last ``PEERS_SECONDS`` (this one included), as last seen (1 before any take).
    """

    url: str
    blocking: bool

    def take(self, send: Send) -> TakeResult: ...
    def fill(self, windows: list[int] | None, local_windows: list[int]) -> None: ...
    def settle(
        self, exchange_windows: bool, give_back: list[int], take: list[int], settled: list[int] | tuple[()] = ()
    ) -> None: ...
    def block(self, until: float, seconds: float) -> float: ...
    def date(self, window: int, local_seconds: list[int]) -> None: ...
    def save_phase(self, lo: float, hi: float) -> None: ...
    def pool_bounds(self, lo: float, hi: float) -> tuple[float, float] | None: ...
    def load_phase(self) -> tuple[float, float] | None: ...
    def peers(self) -> int: ...
    def close(self) -> None: ...


def open_store(url: str, pocket: str, group: str, per_second: int, *, window_seconds: int = 1) -> BudgetStore:
    """The store ``url`` names (checked by ``check_store_url``), for the budget of ``pocket`` and ``group``.

    ``StoreUnavailable`` if it cannot be used in this process at all (redis-py missing).
    """
    from .redis_store import SharedBudget  # only with a store: redis-py loads with it

    return SharedBudget(url, pocket, group, per_second, window_seconds=window_seconds)


log: logging.Logger = logging.getLogger("upbit_cancel.ratelimit")
T = TypeVar("T")

PHASE_POLL = 0.1
"""A send refused while the phase is unknown asks the store again this soon: a phase may be stored meanwhile."""

_warned_stores: set[str] = set()
"""Stores failing right now, already warned about (one warning per store and process)."""
_warned_lock = threading.Lock()

Pooled = Callable[[tuple[float, float]], "tuple[float, float] | None"]
"""Adopts the host's pooled bounds of the phase under the limiter's lock (``StoreLink.adopt_bounds``)."""


def on_event_loop() -> bool:
    """Whether this thread runs an event loop (asyncio, in a task or a callback; or trio) that a blocking
    call would stall. Neither loop runs where neither asyncio nor trio was imported (a sync batch loads
    neither, nor anyio: this asks without importing them)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            asyncio.get_running_loop()
            return True
        except RuntimeError:
            pass
    if asyncio is None and "trio" not in sys.modules:
        return False
    import anyio

    try:
        anyio.get_current_task()
    except RuntimeError:  # anyio.NoEventLoopError (a RuntimeError) on anyio >= 4.11
        return False
    return True


def forget_warnings() -> None:
    _warned_stores.clear()


class LinkState(enum.Enum):
    ACTIVE = "active"
    """Every send is charged in the store."""
    PAUSED = "paused"
    """The store failed: pacing in-process only until ``retry_at``."""


@dataclass(frozen=True, slots=True)
class Taken:
    """What the store said to a send: ``charge`` (taken), else ``wait`` seconds, else ``blocked_until``."""

    charge: tuple[bool, list[int]] | None = None
    wait: float = 0.0
    blocked_until: float | None = None


@dataclass(frozen=True, slots=True)
class Ask:
    """What to ask the store for one send, worked out under the limiter's lock (``StoreLink.plan``)."""

    store: BudgetStore
    send: Send


class LoopStore(Protocol):
    """A store's calls on the running asyncio loop (``redis_store.LoopBudget``): what ``BudgetStore.on_loop``
    gives, for a store that has one (``loop_store``)."""

    async def take(self, send: Send) -> TakeResult: ...
    async def load_phase(self) -> tuple[float, float] | None: ...
    async def write(self, method: str, args: tuple[Any, ...]) -> Any: ...
    def submit(self, writes: list[StoreWrite]) -> None: ...


def loop_store(store: BudgetStore) -> LoopStore | None:
    """``store``'s calls on the running asyncio loop, if it has them (``SharedBudget.on_loop``); else None
    (no asyncio loop runs here, trio, a Cluster, a store without them): its blocking calls serve."""
    on_loop = getattr(store, "on_loop", None)
    return None if on_loop is None else cast("LoopStore | None", on_loop())


Write = Callable[[], None]
"""A store write worked out under the limiter's lock, to be made without it (``StoreLink.run``)."""


@dataclass(frozen=True, slots=True)
class StoreWrite:
    """The ``Write`` s a link works out: the store's method ``method`` with ``args``, made blocking (called)
    or on an asyncio loop (``on_loop``); ``done`` is given its answer; a failure is told to ``failed`` with
    ``now`` (when the write was worked out), which pauses the link. ``then``, given the answer too, may say a
    write to make next, the same way and before any later one (settle then ``date``; ``pool_bounds`` then
    ``save_phase``); after a failure it is not made."""

    store: BudgetStore
    now: float
    method: str
    args: tuple[Any, ...]
    failed: Callable[[StoreUnavailable, float], None]
    done: Callable[[Any], None] | None = None
    then: Callable[[Any], StoreWrite | None] | None = None

    def __call__(self) -> None:
        following = self._answered(tried(getattr(self.store, self.method), *self.args))
        if following is not None:
            following()

    async def on_loop(self, store: LoopStore) -> None:
        """The same write through ``store``'s calls on the running loop (``LoopStore.write``)."""
        following = self._answered(await caught(store.write(self.method, self.args)))
        if following is not None:
            await following.on_loop(store)

    def _answered(self, answer: object) -> StoreWrite | None:
        """Give ``answer`` to ``done``, a failure to ``failed``; the write to make next, if any."""
        if isinstance(answer, StoreUnavailable):
            self.failed(answer, self.now)
            return None
        if self.done is not None:
            self.done(answer)
        return None if self.then is None else self.then(answer)


def tried(call: Callable[..., T], *args: object) -> T | StoreUnavailable:
    """``call(*args)``, a blocking call of a store: the answer, or the failure returned (``caught``'s twin)."""
    try:
        return call(*args)
    except StoreUnavailable as error:
        return error


async def caught(asked: Awaitable[T]) -> T | StoreUnavailable:
    """``StoreLink.ask`` or ``load_phase`` through the store's calls on the running loop (awaited, not
    blocking it): the answer, or the failure returned."""
    try:
        return await asked
    except StoreUnavailable as error:
        return error


class StoreLink:
    """One limiter's link to its store: ``ACTIVE`` (every send is charged in the store) or ``PAUSED`` (the
    store failed: the limiter paces in-process until ``STORE_RETRY_SECONDS`` passed, then the link is active
    again, at its ``share`` for as long again). It names a send's windows for the store from what the
    ``WindowLog`` knows (``windows``), settles a charge when its answer comes, shares the learned phase and
    the 418 blocks. Under the limiter's lock it only works out what to ask (``plan``) or write (``settle``,
    ``fill``, ``block``, ``share_phase``: ``Write`` jobs, made by ``run`` without the lock, never blocking an
    event loop: see ``ratelimit``), and reads the answer (``taken``)."""

    def __init__(self, store: BudgetStore) -> None:
        self.store = store
        self.state: LinkState = LinkState.ACTIVE
        self.retry_at: float = -math.inf
        self._saved_phase: tuple[float, float] | None = None
        self._pooled: tuple[float, float] | None = None
        """The bounds of the phase this process last added to the host's pool."""
        self._quiet_until = -math.inf
        """The store said no until then: every send of the process waits without asking it again."""
        self._writer: ThreadPoolExecutor | None = None
        self._writer_lock = threading.Lock()
        self._lost_at: float | None = None
        """When the store was lost (until ``share`` turned it into ``_hold_until``)."""
        self._hold_until = -math.inf
        self._share_until = -math.inf
        """Until then the link, active again after a loss, still paces at the process's share."""

    @property
    def url(self) -> str:
        return self.store.url

    @property
    def blocking(self) -> bool:
        """The store's calls wait on I/O: never made on an event loop."""
        return self.store.blocking

    def current(self, now: float) -> BudgetStore | None:
        """The store if the link is active at ``now`` (a paused link whose time came is active again)."""
        if self.state is LinkState.PAUSED and now >= self.retry_at:
            self.state = LinkState.ACTIVE
            self._share_until = now + STORE_RETRY_SECONDS
        return self.store if self.state is LinkState.ACTIVE else None

    def share(self, book: WindowLog, now: float) -> float:
        """Set ``book``'s share of the budget for a send at ``now``; the seconds to hold every send (0: none).

        While the store is lost, and for ``STORE_RETRY_SECONDS`` after (the others may still pace on their
        own), the budget split evenly among the processes the store last counted (``BudgetStore.peers``),
        and, with others present, nothing more in the window the store was lost in (``docs/pacing.md``, "A
        failover may lose the last writes", says why). Else the whole budget.
        """
        shared = self.current(now) is not None and now >= self._share_until
        peers = 1 if shared else self.store.peers()
        budget = book.per_second
        book.share = None if peers <= 1 or budget is None else max(1, budget // peers)
        if book.share is None:
            return 0.0
        if self._lost_at is not None:
            self._hold_until, self._lost_at = book.boundary_after(self._lost_at), None
        return max(0.0, self._hold_until - now)

    def _failed(self, error: StoreUnavailable, now: float) -> None:
        with _warned_lock:
            first = self.url not in _warned_stores
            _warned_stores.add(self.url)
        if first:
            log.warning(
                "%s; pacing in this process only until it answers again (tried every %g s)", error, STORE_RETRY_SECONDS
            )
        else:
            log.debug("%s; still pacing in this process only", error)
        self.retry_at = now + STORE_RETRY_SECONDS
        if self.state is LinkState.ACTIVE:
            self._lost_at = now
        self.state = LinkState.PAUSED

    def _answered(self) -> None:
        with _warned_lock:
            was_failing = self.url in _warned_stores
            _warned_stores.discard(self.url)
        if was_failing:
            log.info("rate-limit store %s answers again: the budget is shared again", redacted_url(self.url))

    # --- naming a send's windows -----------------------------------------------------------------------

    @staticmethod
    def windows(book: WindowLog, t: float, *, in_flight: bool = False) -> tuple[list[int] | None, list[int]]:
        """(exchange windows a send at ``t`` may land in, local windows to count or check) for the store.

        Windows are None unless the phase is known and dated; then the local windows are those whose
        counts hold every phase-unknown send (of another process) that may share those windows.
        ``in_flight``: one window more, for a request held up on its way (its answer gives it back).
        """
        w = book.window
        phase = book.phase
        local = math.floor(t / w)
        if not book.known or not phase.anchored or phase.lo is None or phase.hi is None:
            return None, [local, local + 1, local + 2] if in_flight else [local, local + 1]
        lo, hi = phase.lo - BASE_MARGIN, phase.hi + book.latency + BASE_MARGIN
        windows = sorted({math.floor((t + lo) / w), math.floor((t + hi) / w)})
        if in_flight:
            windows.append(windows[-1] + 1)
        # Window n spans local [n*w - hi, (n+1)*w - lo); a count of local window k holds sends of k - 1 and k.
        seconds = sorted(
            {s for n in windows for s in (math.floor((n * w - hi) / w) + 1, math.floor(((n + 1) * w - lo) / w))}
        )
        return windows, seconds

    # --- the store's side of a send (plan under the limiter's lock, ask without it, read under it) -------

    def plan(self, book: WindowLog, now: float, *, ask_phase: bool = True) -> Ask | float | None:
        """What to ask the store for a send at ``now``: None if the link is not active (send without it), or
        the seconds to wait while the store said no for everyone (no need to ask it again before then)."""
        store = self.current(now)
        if store is None:
            return None
        if now < self._quiet_until:
            return self._quiet_until - now
        windows, seconds = self.windows(book, now, in_flight=True)
        return Ask(store, Send(windows, seconds, ask_phase, self._trickle(book, windows, now)))

    @staticmethod
    def ask(ask: Ask) -> TakeResult | StoreUnavailable:
        """Ask the store (I/O: never under the limiter's lock); a failure is returned, for ``taken``."""
        return tried(ask.store.take, ask.send)

    @staticmethod
    def load_phase(ask: Ask) -> tuple[float, float] | StoreUnavailable | None:
        """The phase another process stored (I/O, without the limiter's lock); a failure is returned."""
        return tried(ask.store.load_phase)

    def adopt_phase(self, book: WindowLog, shared: tuple[float, float] | None) -> None:
        """Take the phase another process learned from the ``Date`` headers, unless ours is known and dated.

        Ours may be known from ``Remaining-Req`` alone (not dated: it cannot name the exchange's windows),
        or dated but too wide to pace by (slow answers bound it loosely): either way the stored one serves.
        """
        if shared is not None and not (book.phase.known and book.phase.anchored):
            book.phase.lo, book.phase.hi = shared
            book.phase.anchored = True
            self._saved_phase = shared

    def taken(self, book: WindowLog, ask: Ask, result: TakeResult | StoreUnavailable, now: float) -> Taken:
        """What the store's answer to ``ask`` means for the send (under the limiter's lock): a failure pauses
        the link and lets the send go (with other processes present: after a wait, at its ``share``)."""
        if isinstance(result, StoreUnavailable):
            self._failed(result, now)
            # Alone, the send goes; with others, it waits for its share (sends that were asking side by side
            # when the store went would otherwise all go uncharged, into a window the others filled).
            return Taken(wait=BASE_MARGIN) if self.store.peers() > 1 else Taken()
        self._answered()
        if result.blocked_until is not None:
            return Taken(blocked_until=result.blocked_until)
        if result.taken:
            windows = ask.send.windows
            return Taken(charge=(windows is not None, windows if windows is not None else ask.send.local_seconds))
        wait = self._refused_wait(book, result, now)
        self._quiet_until = now + wait
        return Taken(wait=wait)

    @staticmethod
    def _refused_wait(book: WindowLog, result: TakeResult, now: float) -> float:
        w = book.window
        if book.known and book.phase.lo is not None:
            # Ask again once the earliest window this send may reach has surely closed: within the
            # uncertain band around a boundary that is soon, not a window later.
            lo = book.phase.lo - BASE_MARGIN
            wait = max(BASE_MARGIN, (math.floor((now + lo) / w) + 1) * w - lo - now)
        else:
            # Phase unknown: another process of the host may store one any moment (and move the charges its
            # answers dated out of the local seconds), so ask again within ``PHASE_POLL``, not a second later.
            wait = min(PHASE_POLL, max(BASE_MARGIN, (math.floor(now / w) + 1) * w - now))
        if result.trickling:
            wait = min(wait, book.window / max(1, book.reserve_now()))
        elif result.held:
            # Full only of charges of requests in flight: their answers give back what they did not use,
            # so the window may open any moment (waiting for the next one would lose a whole window).
            wait = min(wait, max(IN_FLIGHT_POLL, book.latency))
        return wait

    @staticmethod
    def _trickle(book: WindowLog, windows: list[int] | None, now: float) -> tuple[int, float, float] | None:
        """Phase unknown: the host's processes trickle the last ``reserve`` of each count together, so that
        their sends spread over the second and some answer shows where the exchange's boundary falls."""
        reserve = book.reserve_now() if windows is None and book.per_second is not None else 0
        return (reserve, book.window / reserve, now) if reserve else None

    # --- writes: worked out under the limiter's lock, made by ``run`` without it ----------------------------

    def settle(
        self, book: WindowLog, permit: Permit, now: float, date: float | None, *, sent: bool = True
    ) -> Write | None:
        """The answer to ``permit`` (at ``now``; ``date`` its exchange second) settles its store charge.

        Never sent: every charge is given back. Dated, with windows charged: the window the ``Date``
        names keeps the charge (and is charged if it was not), the others give it back. Otherwise the
        request arrived no later than its answer: windows that opened after ``now`` give it back; and a
        ``Date`` of a send charged to local seconds names its window to the store (``BudgetStore.date``).
        """
        charged, permit.charged = permit.charged, None
        store = self.current(now)
        if charged is None or store is None:
            return None
        exchange_windows, numbers = charged
        w = book.window
        if not sent:
            give_back, take = numbers, []
        elif exchange_windows and date is not None:
            landed = math.floor(date / w)
            give_back = [n for n in numbers if n != landed]
            take = [] if landed in numbers else [landed]
        elif exchange_windows:
            hi = (book.phase.hi if book.phase.hi is not None else 1.0) + BASE_MARGIN
            give_back, take = [n for n in numbers if n > math.floor((now + hi) / w)], []
        else:
            give_back, take = [n for n in numbers if n > math.floor(now / w) + 1], []
        settled = [] if not sent else [n for n in numbers if n not in give_back] + take
        args = (exchange_windows, give_back, take, settled)
        then = None
        if sent and not exchange_windows and date is not None and settled:  # dated: then moved (``date``)
            dated = StoreWrite(store, now, "date", (math.floor(date / w), settled), self._failed, self._reopen)
            then = functools.partial(_next, dated)
        return StoreWrite(store, now, "settle", args, self._failed, self._reopen if give_back else None, then)

    def _reopen(self, _: object = None) -> None:
        self._quiet_until = -math.inf  # what this process gave back may be taken at once

    def fill(self, book: WindowLog, permit: Permit, now: float) -> Write | None:
        """A 429 answered ``permit``: the windows of its send are full, whoever filled them."""
        store = self.current(now)
        if store is None:
            return None
        return StoreWrite(store, now, "fill", self.windows(book, permit.sent_at), self._failed)

    def block(self, until: float, seconds: float, now: float, learned: Callable[[float], None]) -> Write | None:
        """Block the pocket in the store; ``learned`` is given the end of the block the store holds."""
        store = self.current(now)
        if store is None:
            return None
        return StoreWrite(store, now, "block", (until, seconds), self._failed, learned)

    def share_phase(
        self,
        book: WindowLog,
        now: float,
        pooled: Callable[[tuple[float, float]], tuple[float, float] | None] | None = None,
    ) -> Write | None:
        """Store the phase once known (and dated); until then pool its ``Date`` bounds with the host's other
        processes (``BudgetStore.pool_bounds``): ``pooled`` adopts the pool under the limiter's lock and says
        the phase it now knows, if any, which is stored at once."""
        store = self.current(now)
        phase = book.phase
        if store is None or not phase.anchored or phase.lo is None or phase.hi is None:
            return None
        current = (phase.lo, phase.hi)
        if not phase.known:
            if pooled is None or current == self._pooled:
                return None
            self._pooled = current
            then = functools.partial(self._after_pool, store, now, pooled)
            return StoreWrite(store, now, "pool_bounds", current, self._failed, then=then)
        saved = self._saved_phase
        if saved is not None and abs(saved[0] - current[0]) < 0.001 and abs(saved[1] - current[1]) < 0.001:
            return None
        return StoreWrite(store, now, "save_phase", current, self._failed, functools.partial(self._saved, current))

    def _saved(self, phase: tuple[float, float], _: object = None) -> None:
        self._saved_phase = phase

    def _after_pool(
        self, store: BudgetStore, now: float, pooled: Pooled, shared: tuple[float, float] | None
    ) -> StoreWrite | None:
        """After ``pool_bounds`` (without the limiter's lock): ``pooled`` adopts the ``shared`` bounds; the
        phase, if that made it known, is stored next."""
        known = None if shared is None else pooled(shared)
        if known is None:
            return None
        return StoreWrite(store, now, "save_phase", known, self._failed, functools.partial(self._saved, known))

    @staticmethod
    def adopt_bounds(book: WindowLog, shared: tuple[float, float]) -> tuple[float, float] | None:
        """Narrow ``book``'s phase with the host's pooled bounds (under the limiter's lock); the phase, if now
        known and dated (to be stored), else None."""
        if not book.phase.adopt_bounds(*shared) or not book.known or book.phase.lo is None or book.phase.hi is None:
            return None
        return book.phase.lo, book.phase.hi

    def run(self, writes: list[Write | None]) -> None:
        """Make ``writes`` in order, never under the limiter's lock: here, or (a blocking store, called on
        an event loop) by the store's writer task of an asyncio loop (``loop_store``) or else this link's
        writer thread, in the order they were given."""
        todo = [write for write in writes if write is not None]
        if not todo:
            return
        if not (self.store.blocking and on_event_loop()):
            _run_all(todo)
        elif (on_loop := loop_store(self.store)) is not None and all(isinstance(w, StoreWrite) for w in todo):
            on_loop.submit([write for write in todo if isinstance(write, StoreWrite)])
        else:
            self._writer_pool().submit(_run_all, todo)

    def _writer_pool(self) -> ThreadPoolExecutor:
        with self._writer_lock:
            if self._writer is None:
                from concurrent.futures import ThreadPoolExecutor  # with a store's first write only

                self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upbit-store-writer")
            return self._writer


def _next(write: StoreWrite, _: object) -> StoreWrite:
    return write


def _run_all(writes: list[Write]) -> None:
    for write in writes:
        write()

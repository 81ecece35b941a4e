"""The budget store: one interface for every place a rate-limit budget is shared through, and the setting.

A limiter (``ratelimit.RateLimiter``, through ``store_link.StoreLink``) talks to a ``BudgetStore`` only:
``redis_store.SharedBudget`` (Redis, the ``[redis]`` extra: every process and machine of a pocket) or
``memory_store.MemoryBudget`` (one process, and the tests). A store only counts, atomically; the strategy
(which windows a send may land in, how long to wait) stays in ``window_log`` and ``store_link``.

The rules a store keeps, and why (with the 429s each one removed), are ``docs/pacing.md``'s, "One budget
for several processes and machines"; one test table (``tests/test_store_rules.py``) runs every rule over
both stores. Per method of ``BudgetStore``:

- ``take``: phase known and dated, charge the exchange windows the send may land in and only check the
  host's local seconds (whose counts hold phase-unknown sends); else charge the local seconds ``floor(t)``
  and ``floor(t) + 1``. Checking and charging are one atomic step. Say the process is there (``peers``);
  report a stored phase to a caller that does not know it (``phase_in_store``: so a take that does not
  know the phase never misses a charge ``date`` moved); trickle the last ``reserve`` of a count for all
  the host's processes together (``trickling``); a window full only of unsettled charges is ``held``.
- ``settle``: an answer gives back the windows its send did not land in (a send is charged one window
  more while in flight); each count has a "settled" twin (``<key>:s``).
- ``date``: an answer whose ``Date`` names the exchange window of a send charged to local seconds moves the
  charge there once the host has a stored phase, else keeps it pending (``dated``) until ``save_phase``
  moves every pending one. ``pool_bounds``: the host's processes pool their ``Date`` bounds of the phase
  (the intersection; bounds that do not meet it replace it).
- ``fill`` (a 429): the windows of that send are full, whoever filled them (filled to twice the budget,
  so charges given back later cannot reopen them). ``block`` (a 418, per pocket): a shorter block never
  shortens a longer one.
- A store that cannot be used raises ``StoreUnavailable``; the limiter then paces in-process at its share
  of the budget among the processes the store last counted (``store_link``).

The setting: ``rate_limit_store=`` (or the CLI's ``--rate-limit-store``), else ``$UPBIT_RATE_LIMIT_STORE``,
read and checked in one place, ``resolve_store_url``. Its forms (one server, Sentinel, Cluster: ``docs/pacing.md``,
"Where the budget is kept") are parsed here without redis-py (``parse_store_address``), so that a setting
that can never work is refused before anything is sent, and the driver (``redis_connect``) reads the same
value; ``open_store`` turns a URL into a store.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

from .errors import ConfigurationError
from .settings import STORE_ENV as STORE_ENV

__all__ = [
    "KEY_FORMAT",
    "PEERS_SECONDS",
    "SENTINEL_PORT",
    "STORE_ENV",
    "BudgetKeys",
    "BudgetStore",
    "Send",
    "StoreAddress",
    "StoreUnavailable",
    "TakeResult",
    "check_store_setting",
    "check_store_url",
    "open_store",
    "parse_store_address",
    "redacted_text",
    "redacted_url",
    "resolve_store_url",
    "url_secrets",
]

PEERS_SECONDS = 3.0
"""A process of a budget counts as present this long after its last take (``BudgetStore.peers``)."""


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


def url_secrets(url: str) -> list[str]:
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
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


SENTINEL_PORT = 26379
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
    """The store ``url`` names; ``ValueError`` saying what is wrong with it (never quoting a credential).

    A one-server URL is only told apart here: redis-py reads it (``store.check_store_url`` checks it).
    """
    scheme, sep, rest = url.partition("://")
    kind = {"redis+sentinel": "sentinel", "redis+cluster": "cluster"}.get(scheme.lower(), "server")
    if kind == "server" or not sep:
        return StoreAddress("server", url)
    rest, _, query = rest.partition("?")
    userinfo, at, rest = rest.rpartition("@")
    netloc, _, path = rest.partition("/")
    if not netloc:
        raise ValueError("has no host")
    hosts = _hosts(netloc, SENTINEL_PORT if kind == "sentinel" else _CLUSTER_PORT)
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
    problem = _url_problem(url)
    if problem is not None:
        raise ConfigurationError(f"{source} {problem}: it must look like {_STORE_FORMS}; given: {redacted_url(url)!r}")
    return url


def _url_problem(url: str) -> str | None:
    """What is wrong with the store ``url`` (password-redacted), or None."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "must not contain whitespace or control characters"
    try:
        if parse_store_address(url).kind != "server":
            return None
    except ValueError as error:
        return redacted_text(str(error), url)
    problem = None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        problem = f"is not a valid URL ({redacted_text(str(error), url)})"
    else:
        scheme = parts.scheme.lower()
        if scheme == "unix":
            if not parts.path:
                problem = "needs a socket path"
        elif scheme not in ("redis", "rediss"):
            problem = "must use the redis, rediss, unix, redis+sentinel or redis+cluster scheme"
        elif not parts.hostname:
            problem = "has no host"
        elif port == 0:
            problem = "has an invalid port"
        elif parts.path.strip("/") and not parts.path.strip("/").isdigit():
            problem = "has a database that is not a number"
    return problem


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


def check_store_setting(rate_limit_store: str | None) -> None:
    """Check the store a batch is told to use (see ``resolve_store_url``)."""
    resolve_store_url(rate_limit_store)


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


KEY_FORMAT = "v2"
"""The store's key layout (``BudgetKeys``). Format 1 (no version segment, 0.x releases before it) named a
pocket ``upbit-rl:<hash>:...``; format 2 puts the pocket's hash in a hash tag so that a Cluster keeps a
pocket's keys in one slot. The two must never count one pocket's budget apart: see ``BudgetKeys.fence``."""


@dataclass(frozen=True, slots=True)
class BudgetKeys:
    """The names a budget's counts are kept under, for every store: ``upbit-rl:v2:{<sha256(pocket)[:16]>}:...``.

    Per (pocket, group) but the block (per pocket); the phase, the trickle, the local-second counts and the
    dated charges waiting for a phase (``dated``) per host too (a phase holds the host's clock error and
    latency). ``<key>:s`` is a count's settled twin.
    The pocket's hash is the key's hash tag (``{...}``): on a Redis Cluster every key of a pocket lives in
    one slot, so each Lua script (which may only touch one slot) runs there.

    ``fence``: the block key of format 1 for the pocket (``upbit-rl:<hash>:block``). A format-2 store
    keeps it set an hour ahead (renewed while in use): a process of format 1 still running, or started
    by mistake, reads its pocket as blocked and sends nothing, instead of spending a second budget of
    its own (``docs/pacing.md``, "Upgrading the store's format").
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
        pocket_prefix = f"upbit-rl:{KEY_FORMAT}:{{{digest}}}"
        prefix, host = f"{pocket_prefix}:{group or '-'}", socket.gethostname()
        block, fence = f"{pocket_prefix}:block", f"upbit-rl:{digest}:block"
        return cls(prefix, block, f"{prefix}:phase:{host}", f"{prefix}:trickle:{host}", host, fence)

    def counts(self, exchange_windows: bool, numbers: list[int] | tuple[()]) -> list[str]:
        """The count keys of exchange windows, else of this host's local seconds."""
        if exchange_windows:
            return [f"{self.prefix}:w:{n}" for n in numbers]
        return [f"{self.prefix}:l:{self.host}:{n}" for n in numbers]

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
    """One (pocket, group) budget in a shared store: the rules above. Every method raises ``StoreUnavailable``.

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

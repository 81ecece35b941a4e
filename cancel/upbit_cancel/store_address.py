"""Which Redis a store URL names: one server, a Sentinel-watched master, or a Cluster (parsing only, no I/O).

The forms (``docs/pacing.md``, "Where the budget is kept"):

- one server: ``redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]``, ``rediss://...`` (TLS), ``unix:///PATH[?db=N]``,
  read by redis-py's own ``Redis.from_url`` (every query parameter it knows);
- Sentinel: ``redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/SERVICE[/DB]``: the sentinels
  (port 26379 unless given) and the name they watch the master under; the user and password are the
  master's (``?sentinel_password=...`` for sentinels that ask for one);
- Cluster: ``redis+cluster://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]``: any of the cluster's nodes
  (port 6379 unless given) to learn the rest from; a cluster has database 0 only.

Parsed here, without redis-py, so that a setting that can never work is refused before anything is
sent (``store.check_store_url``) and the driver (``redis_connect``) reads the same value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["SENTINEL_PORT", "StoreAddress", "parse_store_address"]

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

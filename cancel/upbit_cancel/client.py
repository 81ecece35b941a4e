"""``connect()``: the one way to build a ready client, used by library callers and ``upbit-cancel`` alike.

One precedence, stated once (the README and ``upbit-cancel --help`` repeat it word for word):

- server: the ``base_url`` argument (``--server-url``), else ``UPBIT_OPEN_API_SERVER_URL`` (the name in
  Upbit's own examples), else ``UPBIT_BASE_URL`` (the official SDK's and CLI's), else the host of
  ``region`` (``--region``) from the spec's ``servers``, else Korea's;
- keys: the ``access_key``/``secret_key`` arguments (both or neither), else one complete pair from the
  environment (``upbit_auth.key_pair_from_env``);
- pocket (whose rate-limit budget and 418 block the key shares): the ``pocket`` argument (``--pocket``),
  else ``UPBIT_POCKET``, else none (the key is its own pocket);
- timeout: finite always (``DEFAULT_TIMEOUT`` seconds per request unless given), so no call waits
  forever on a silent server;
- TLS: one verifying ``ssl.SSLContext`` per process, made at the first ``connect()`` (httpx's own
  defaults, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured) and shared by every client it builds:
  httpx builds a new one for each client, which parses the whole CA bundle (~20 ms of CPU) every
  time a bot opens a client. ``httpx_args={"verify": ...}`` still chooses for one client;
- connections: up to a window's budget kept alive, idle HTTP/1.1 ones for ``KEEPALIVE_EXPIRY`` (55 s,
  not httpx's 5: a guard fires after a gap, and each connection opened again over TLS costs 2 round
  trips); HTTP/2 only when asked (``httpx_args={"http2": True}``, the ``[http2]`` extra) and only
  where the server offers it through ALPN (``default_limits``, ``make bench`` section 18 say why).
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import httpx

from upbit_auth import POCKET_VARIABLE, UpbitAuth
from upbit_client import Client
from upbit_client.registry import OPERATIONS, SERVERS

from .errors import ConfigurationError, MissingCredentials
from .events import Emitter, EventHook
from .pacing import Pacer
from .settings import DEFAULT_REGION as DEFAULT_REGION
from .settings import PRECEDENCE as PRECEDENCE
from .settings import SERVER_URL_VARIABLES as SERVER_URL_VARIABLES

if TYPE_CHECKING:
    from .transport import UpbitTransport

__all__ = [
    "DEFAULT_REGION",
    "DEFAULT_TIMEOUT",
    "SERVER_URL_VARIABLES",
    "ConnectedClient",
    "check_base_url",
    "connect",
    "resolve_base_url",
]

DEFAULT_TIMEOUT = 10.0
"""Seconds one request may take (connect, read, write, pool), unless the caller says otherwise."""


def check_base_url(url: str, source: str) -> str:
    """``url`` normalised to ``scheme://host[:port]``; raises ``ConfigurationError`` naming ``source`` otherwise."""
    if not isinstance(url, str):
        raise ConfigurationError(f"{source} must be a string; given: {type(url).__name__}")
    if "@" in url:
        # Said without echoing the URL: the part before the @ may be a password.
        raise ConfigurationError(f"{source} must not contain '@' (no user:password@ in the server URL)")
    problem = None
    try:
        parts = urlsplit(url)
    except ValueError as error:  # e.g. an unclosed IPv6 bracket, "http://[::1"
        raise ConfigurationError(f"{source} is not a valid URL ({error}); given: {url!r}") from None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        problem = "must not contain whitespace or control characters"
    elif parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        problem = "must look like https://host[:port]"
    elif parts.query or parts.fragment or "?" in url or "#" in url:
        problem = "must not have a query or fragment"
    elif parts.path not in ("", "/"):
        problem = "must not have a path (the API path is added by the client)"
    else:
        try:
            parts.port  # noqa: B018 - reading it validates it
        except ValueError:
            problem = "has an invalid port"
        if not parts.hostname:
            problem = "has no host"
    if problem is not None:
        raise ConfigurationError(f"{source} {problem}; given: {url!r}")
    return f"{parts.scheme.lower()}://{parts.netloc}"


def resolve_base_url(
    base_url: str | None = None, region: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The server by the module's precedence, checked and normalised."""
    if base_url is not None:
        return check_base_url(base_url, "base URL")
    env = os.environ if environ is None else environ
    for name in SERVER_URL_VARIABLES:
        if env.get(name):
            return check_base_url(env[name], name)
    if region is None:
        return SERVERS[DEFAULT_REGION]
    host = SERVERS.get(region.lower()) if isinstance(region, str) else None
    if host is None:
        raise ConfigurationError(f"region must be one of {', '.join(sorted(SERVERS))}; given: {region!r}")
    return host


# httpx_args the generated Client sets itself, taken from ``connect``'s own arguments instead: passed
# through they would reach httpx twice ("got multiple values") on the first request.
_OWN_ARGUMENTS = {
    "auth": "pass access_key/secret_key, or set the environment",
    "base_url": "pass base_url (or region) to connect()",
    "timeout": "pass timeout to connect()",
    "mounts": "every request goes through connect()'s one bounded transport; pass 'proxy' for a proxy",
    "cert": "pass an ssl.SSLContext holding the client certificate as 'verify'",
    "proxies": "pass 'proxy' (one proxy URL), or set HTTPS_PROXY",
}


@functools.cache
def _httpx_parameters() -> frozenset[str]:
    """What both ``httpx.Client`` and ``httpx.AsyncClient`` accept (the generated Client builds either)."""
    sync = set(inspect.signature(httpx.Client.__init__).parameters)
    both = sync & set(inspect.signature(httpx.AsyncClient.__init__).parameters)
    return frozenset(both - {"self"})


def _check_httpx_args(extra: Mapping[str, Any]) -> None:
    """Refuse, at ``connect()``, httpx arguments that would fail on the first request."""
    for name in extra:
        if name in _OWN_ARGUMENTS:
            raise ConfigurationError(f"httpx_args must not hold {name!r}: {_OWN_ARGUMENTS[name]}")
        if name not in _httpx_parameters():
            known = ", ".join(sorted(_httpx_parameters() - set(_OWN_ARGUMENTS)))
            raise ConfigurationError(f"httpx_args holds {name!r}, which httpx clients do not take; known: {known}")


KEEPALIVE_EXPIRY = 55.0
"""Seconds an idle HTTP/1.1 connection of a ``connect()`` client is kept for the next request (httpx: 5).
Under the 60 s idle timeout common in front of web servers, so the server rarely closes one as it is reused."""


@functools.cache
def default_limits(http2: bool = False) -> httpx.Limits:
    """httpx's connection limits with room to keep alive every connection a batch keeps busy, for long enough.

    A batch keeps up to a rate-limit group's whole per-window budget in flight (30 in ``default``,
    from the registry), each on its own connection. httpx keeps at most 20 idle connections by
    default, and httpcore 1.0 closes an idle connection whenever the pool holds more connections than
    that (it counts all of them, not only the idle ones): the batch would close answered connections
    and open new ones, each a TCP and TLS handshake away, window after window.

    Idle HTTP/1.1 connections are kept ``KEEPALIVE_EXPIRY`` seconds, not httpx's 5: a bot or a guard
    fires after gaps of seconds to minutes, and over TLS each connection opened again costs its first
    request 2 more round trips (``make bench`` section 18, "gap": 30 new connections and 3 round trips
    to the first answer with 5 s, none and 1 with 55 s). One the server closed meanwhile is never
    reused: httpcore checks an idle HTTP/1.1 connection for the server's close first (section 18, "past
    keep-alive": every order cancelled). httpcore makes no such check on an HTTP/2 connection (a chunk
    sent on one the server closed fails), so with ``http2`` the keep-alive stays httpx's 5 s.
    """
    widest = max((op.rate_limit.per_second for op in OPERATIONS.values() if op.rate_limit is not None), default=0)
    expiry = httpx.Limits().keepalive_expiry if http2 else KEEPALIVE_EXPIRY
    return httpx.Limits(max_connections=100, max_keepalive_connections=max(20, widest), keepalive_expiry=expiry)


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """The verifying TLS context every ``connect()`` client of this process shares (made once, on first use)."""
    return httpx.create_ssl_context()


def _auth(
    access_key: str | None, secret_key: str | None, environ: Mapping[str, str] | None, pocket: str | None
) -> UpbitAuth:
    if pocket is not None and (not isinstance(pocket, str) or not pocket.strip()):
        raise ConfigurationError(f"pocket must be a non-empty name or None; given: {pocket!r}")
    if access_key is None and secret_key is None:
        return UpbitAuth.from_env(environ, pocket=pocket)
    if access_key is None or secret_key is None:
        missing = "access_key" if access_key is None else "secret_key"
        raise MissingCredentials(
            f"give both access_key and secret_key, or neither (to read the environment); {missing} is missing"
        )
    env = os.environ if environ is None else environ
    return UpbitAuth(access_key, secret_key, pocket=pocket or env.get(POCKET_VARIABLE) or None)


def _transport(
    url: str, extra: dict[str, Any], environ: Mapping[str, str] | None, auth: UpbitAuth, events: Emitter
) -> UpbitTransport:
    """The one transport of the client (``transport.py``), from the httpx arguments that configure one.

    ``transport`` (and with it httpcore) is imported here, when a client is made, as httpx does: importing
    the package stays light (``make bench`` section 4)."""
    from .transport import Network, UpbitTransport, check_proxy, environment_proxy

    given = extra.pop("transport", None)
    verify = extra.pop("verify", None)
    http2 = bool(extra.pop("http2", False))
    if http2 and importlib.util.find_spec("h2") is None:
        raise ConfigurationError("httpx_args asks for http2, which needs h2: pip install 'upbit-order-cancel[http2]'")
    proxy = extra.pop("proxy", None)
    trust_env = extra.pop("trust_env", True)
    chosen: httpx.Proxy | None = None
    if proxy is not None:
        chosen = check_proxy(proxy, "httpx_args['proxy']")
    else:
        chosen = environment_proxy(url, os.environ if environ is None else environ) if trust_env else None
    inner = given
    if inner is None:
        context = shared_tls_context() if verify is None else _tls_context(verify)
        limits = extra.pop("limits", default_limits(http2))
        inner = Network(
            ssl_context=context, limits=limits, http1=bool(extra.pop("http1", True)), http2=http2, proxy=chosen
        )
    pacer = Pacer(access_key=auth.access_key, pocket=auth.pocket, store=None)
    return UpbitTransport(inner, pacer, events)


def _tls_context(verify: object) -> ssl.SSLContext:
    """``httpx_args["verify"]`` as a TLS context: a context as given, a CA bundle path, or False (no checks)."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        return shared_tls_context()
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, (str, os.PathLike)):
        try:
            return ssl.create_default_context(cafile=os.fspath(verify))
        except (OSError, ssl.SSLError) as error:
            raise ConfigurationError(f"httpx_args['verify'] names no readable CA bundle ({error})") from None
    raise ConfigurationError(
        f"httpx_args['verify'] must be True, False, a CA bundle path or an ssl.SSLContext; given: {verify!r}"
    )


def _merged(extra: dict[str, Any]) -> dict[str, Any]:
    """Headers and cookies of ``httpx_args``, merged with the client's own."""
    merged: dict[str, Any] = {}
    try:
        if "headers" in extra:
            merged["headers"] = dict(httpx.Headers(extra.pop("headers")))
        if "cookies" in extra:
            merged["cookies"] = dict(httpx.Cookies(extra.pop("cookies")))
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"httpx_args: headers and cookies must be mappings of strings; {error}") from None
    return merged


def _hooks(extra: dict[str, Any], transport: UpbitTransport) -> dict[str, list[Any]]:
    """The caller's event hooks, and the marker that names the client's transport (``transport.transport_of``)."""
    from .transport import Marker

    given = extra.pop("event_hooks", None) or {}
    try:
        hooks = {name: list(given.get(name, ())) for name in ("request", "response")}
    except (AttributeError, TypeError) as error:
        raise ConfigurationError(f"httpx_args['event_hooks'] must map 'request'/'response' to lists; {error}") from None
    hooks["request"].append(Marker(transport))
    return hooks


def _checked_timeout(timeout: object) -> httpx.Timeout:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, httpx.Timeout)):
        raise ConfigurationError(f"timeout must be a number of seconds or an httpx.Timeout; given: {timeout!r}")
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if not timeout > 0 or timeout == float("inf"):
        raise ConfigurationError(f"timeout must be a finite number of seconds above 0; given: {timeout!r}")
    return httpx.Timeout(float(timeout))


def connect(
    base_url: str | None = None,
    *,
    region: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    pocket: str | None = None,
    timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    environ: Mapping[str, str] | None = None,
    httpx_args: Mapping[str, Any] | None = None,
    on_event: EventHook | None = None,
) -> Client:
    """A generated ``upbit_client.Client`` signed by ``UpbitAuth``; every request goes through its one
    ``transport.UpbitTransport`` (deadline, byte cap, pacing, 418 blocks, refused redirects, SDK errors).

    A single call takes at most the longest part of ``timeout`` (10 s by default) over the whole
    exchange, its wait for a permit included. ``environ`` replaces ``os.environ`` (tests; proxy
    variables too). ``httpx_args``: ``headers``, ``cookies``, ``event_hooks`` are merged with the
    client's own; ``verify``, ``http1``/``http2``, ``limits``, ``proxy``, ``trust_env`` configure the
    transport, ``transport`` (a mock) replaces its network; ``auth``, ``base_url``, ``timeout`` (this
    function's arguments), ``follow_redirects=True``, ``mounts``, ``proxies``, ``cert`` and names httpx
    does not take are refused. ``pocket`` (else ``UPBIT_POCKET``) names the pocket whose budget and 418
    block the key shares. ``on_event`` is told each request's events (``upbit_cancel.events``). Raises
    ``MissingCredentials`` or ``ConfigurationError`` before sending; ``set_httpx_client`` takes ``connect()``'s.
    """
    extra = dict(httpx_args or {})
    _check_httpx_args(extra)
    checked = _checked_timeout(timeout)
    url = resolve_base_url(base_url, region, environ)
    if extra.pop("follow_redirects", False):
        raise ConfigurationError(
            "httpx_args['follow_redirects'] must not be true: Upbit's API never redirects, and following would "
            "send the signed token again; a redirect answer raises RedirectRefused"
        )
    merged = _merged(extra)
    auth = _auth(access_key, secret_key, environ, pocket)
    transport = _transport(url, extra, environ, auth, Emitter(on_event))
    httpx_options = {**extra, "auth": auth, "transport": transport, "trust_env": False}
    httpx_options["event_hooks"] = _hooks(extra, transport)
    return ConnectedClient(base_url=url, timeout=checked, httpx_args=httpx_options, **merged)


def _own(http: httpx.Client | httpx.AsyncClient, call: str) -> None:
    """``ConfigurationError`` unless ``http`` was built by ``connect()``: signed by ``UpbitAuth`` and sending
    through an ``UpbitTransport``. httpx offers no public way to give another client that transport."""
    from .transport import transport_of

    if isinstance(http.auth, UpbitAuth) and transport_of(http) is not None:
        return
    raise ConfigurationError(
        f"{call}() on a connect() client takes only an httpx client that connect() built (given: "
        f"{type(http).__name__} without its signing and bounded transport, whose requests would go out unsigned "
        "and unbounded); pass the settings to connect(httpx_args={...}) instead (headers, cookies, event_hooks, "
        "verify, limits, proxy, http2, or transport for a mock), or hand over another connect() client's own"
    )


class ConnectedClient(Client):
    """The generated ``Client`` that ``connect()`` returns: the same calls, but its httpx clients may only
    be replaced by ones ``connect()`` built (``set_httpx_client`` would otherwise drop signing and the one
    request path in silence, as a bare ``Client`` does)."""

    __slots__ = ()

    def set_httpx_client(self, client: httpx.Client) -> Self:
        """Use ``client`` (built by ``connect()``: ``ConfigurationError`` for any other) for the sync calls."""
        _own(client, "set_httpx_client")
        return super().set_httpx_client(client)

    def set_async_httpx_client(self, async_client: httpx.AsyncClient) -> Self:
        """Use ``async_client`` (built by ``connect()``: ``ConfigurationError`` otherwise) for the async calls."""
        _own(async_client, "set_async_httpx_client")
        return super().set_async_httpx_client(async_client)

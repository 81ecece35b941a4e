"""The one request path of a ``connect()`` client: ``UpbitTransport``, built from public httpx and httpcore pieces.

Every request of a ``connect()`` client, sync or async, goes through it and gets:

- **bounds**: inside ``reading.bounded`` the caller's; otherwise a deadline of the longest of the request's
  timeouts over the whole exchange (permit, connect, TLS, 1xx answers, headers, body) and
  ``reading.MAX_ANSWER_BYTES`` received and decoded;
- **pacing**: outside ``reading.bounded`` (a single call) a permit of its pocket's limiter, its answer fed
  back (``pacing.Sent``, ``answers.feed``); ``KeyBlocked`` and nothing sent while the pocket is blocked.
  Inside, its caller (the batch, the sweep) paces it;
- **redirects**: never followed; a 3xx raises ``RedirectRefused`` (the signed JWT is never sent twice);
- **events**: ``connect(on_event=...)``'s hook told each request's ``RequestSent``, ``RequestAnswered``
  (``RequestRateLimited``, ``RequestBlocked``) or ``RequestFailed`` (``events``), on the thread or loop that sends it;
- **errors**: each transport error is the SDK's ``TransportError`` and the matching httpx error at once
  (httpcore's become httpx's of the same name: httpx's own table is private).

Below it, ``Network``: httpcore's pool or proxy over ``network``'s bounded backends (AnyIO: asyncio and
trio), with ``connect()``'s TLS, HTTP/2, limits, and the environment's proxy read as httpx reads it. A
transport the caller passes (a mock) takes the place of ``Network``: all but the socket waits still hold.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, TypeVar, cast

import httpcore
import httpx

from . import reading
from .errors import ConfigurationError, RedirectRefused, TransportError, transport_error_class
from .events import NO_EVENTS, Emitter
from .network import AsyncBoundedBackend, BoundedBackend
from .pacing import BothWays, Pacer

__all__ = ["Network", "UpbitTransport", "check_proxy", "environment_proxy", "events_of", "sdk_error", "transport_of"]

E = TypeVar("E", bound=Exception)


def _httpx_class(exc: Exception) -> type[httpx.TransportError] | None:
    """The httpx transport error class of ``exc``: its own, or for an httpcore error the httpx class of the same
    name (httpx names each of httpcore's errors alike; its own table is private)."""
    for cls in type(exc).__mro__:
        if getattr(httpcore, cls.__name__, None) is cls or getattr(httpx, cls.__name__, None) is cls:
            found = getattr(httpx, cls.__name__, None)
            if isinstance(found, type) and issubclass(found, httpx.TransportError):
                return found
    return None


def sdk_error(exc: E) -> E:
    """``exc`` inside the SDK's error tree: an httpx or httpcore transport error becomes the SDK's
    ``TransportError`` that is also the matching httpx error (same message); anything else is returned."""
    base = None if isinstance(exc, TransportError) else _httpx_class(exc)
    if base is None:
        return exc
    request = None
    if isinstance(exc, httpx.RequestError):
        try:
            request = exc.request
        except RuntimeError:  # httpx raises it for an error made without a request
            request = None
    made = transport_error_class(base)(str(exc), request=request)  # type: ignore[arg-type]
    made.__cause__ = exc
    return cast("E", made)


@contextlib.contextmanager
def errors_mapped() -> Iterator[None]:
    """Raise any error of the block as ``sdk_error`` makes it (chained to the original)."""
    try:
        yield
    except Exception as exc:
        error = sdk_error(exc)
        if error is exc:
            raise
        raise error from exc


# --- proxies --------------------------------------------------------------------------------------------------

_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def check_proxy(value: object, source: str) -> httpx.Proxy:
    """``value`` (a URL, or an ``httpx.Proxy``) as a proxy this SDK can use; ``ConfigurationError`` naming
    ``source`` otherwise. The URL itself is not repeated (it may hold a password)."""
    if isinstance(value, httpx.Proxy):
        url = value.url
    else:
        text = str(value) if isinstance(value, (str, httpx.URL)) else None
        if text is None:
            raise ConfigurationError(f"{source} must be a proxy URL; given: {type(value).__name__}")
        try:
            url = httpx.URL(text if "://" in text else f"http://{text}")
        except (httpx.InvalidURL, ValueError, TypeError) as error:
            raise ConfigurationError(f"{source} is not a valid proxy URL ({type(error).__name__})") from None
    if url.scheme not in _PROXY_SCHEMES or not url.host:
        raise ConfigurationError(
            f"{source} must look like scheme://host[:port] with a scheme among {', '.join(_PROXY_SCHEMES)}; "
            f"given scheme {url.scheme!r}"
        )
    if url.scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
        raise ConfigurationError(f"{source} names a SOCKS proxy, which needs socksio: pip install 'httpx[socks]'")
    return value if isinstance(value, httpx.Proxy) else httpx.Proxy(url)


def _variable(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    for key in (name, name.upper()):
        if environ.get(key):
            return key, environ[key]
    return None


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``no_proxy`` (``*``, or hosts and domains, commas between) names ``host`` or a domain above it."""
    host = host.lower().rstrip(".")
    for entry in no_proxy.split(","):
        name = entry.strip().lower().lstrip("*").lstrip(".")
        if entry.strip() == "*" or (name and (host == name or host.endswith("." + name))):
            return True
    return False


def environment_proxy(base_url: str, environ: Mapping[str, str]) -> httpx.Proxy | None:
    """The proxy the environment names for ``base_url`` (None: go direct), read as httpx reads it with
    ``trust_env``: ``https_proxy`` (or ``http_proxy`` for http), else ``all_proxy``, unless ``no_proxy``
    names the host; each in lower case first, then upper case. ``ConfigurationError`` names a bad one."""
    url = httpx.URL(base_url)
    bypass = _variable(environ, "no_proxy")
    if bypass is not None and _bypassed(url.host, bypass[1]):
        return None
    found = _variable(environ, f"{url.scheme}_proxy") or _variable(environ, "all_proxy")
    return None if found is None else check_proxy(found[1], found[0])


# --- the network ------------------------------------------------------------------------------------------------


def _core_url(url: httpx.URL) -> httpcore.URL:
    return httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path)


def _core_request(request: httpx.Request) -> httpcore.Request:
    return httpcore.Request(
        method=request.method,
        url=_core_url(request.url),
        headers=request.headers.raw,
        content=request.stream,
        extensions=request.extensions,
    )


def _answer(answer: httpcore.Response) -> httpx.Response:
    return httpx.Response(
        answer.status, headers=answer.headers, stream=_MappedBody(answer.stream), extensions=answer.extensions
    )


class _MappedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body (httpcore's, or a ``BoundedBody``) as httpx reads it, its errors mapped into the SDK's tree."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with errors_mapped():
            yield from self._stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with errors_mapped():
            async for data in self._stream:
                yield data

    def close(self) -> None:
        self._stream.close()

    async def aclose(self) -> None:
        await self._stream.aclose()


class Network(BothWays):
    """httpcore's pools (one sync, one async, each made on first use) over the bounded backends.

    Each request reaches them through an ``httpx.MockTransport`` whose handler sends it (httpx's public
    "call this function" transport): vcrpy, and any tool that patches httpx's own transports, sees it."""

    def __init__(
        self, *, ssl_context: ssl.SSLContext, limits: httpx.Limits, http1: bool, http2: bool, proxy: httpx.Proxy | None
    ) -> None:
        self.proxy = proxy
        self.ssl_context = ssl_context
        self.limits = limits
        self._options: dict[str, Any] = {
            "ssl_context": ssl_context,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "http1": http1,
            "http2": http2,
        }
        self._lock = threading.Lock()
        # Requests pass through httpx's public handler transport on their way to the pools, so tools that
        # patch httpx's own transports (vcrpy, which ``upbit_sandbox.recording`` configures) see each one.
        self._door = httpx.MockTransport(self._send)
        self._async_door = httpx.MockTransport(self._send_async)

    def _pool(self, backend: Any, sync: bool) -> Any:
        options = {**self._options, "network_backend": backend}
        if self.proxy is None:
            return (httpcore.ConnectionPool if sync else httpcore.AsyncConnectionPool)(**options)
        where = _core_url(self.proxy.url)
        if self.proxy.url.scheme.startswith("socks"):
            socks = httpcore.SOCKSProxy if sync else httpcore.AsyncSOCKSProxy
            return socks(proxy_url=where, proxy_auth=self.proxy.raw_auth, **options)
        return (httpcore.HTTPProxy if sync else httpcore.AsyncHTTPProxy)(
            proxy_url=where,
            proxy_auth=self.proxy.raw_auth,
            proxy_headers=self.proxy.headers.raw,
            proxy_ssl_context=self.proxy.ssl_context,
            **options,
        )

    def _send(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if self._sync is None:
                self._sync = self._pool(BoundedBackend(), sync=True)
        with errors_mapped():
            return _answer(self._sync.handle_request(_core_request(request)))

    async def _send_async(self, request: httpx.Request) -> httpx.Response:
        if self._async is None:
            self._async = self._pool(AsyncBoundedBackend(), sync=False)
        with errors_mapped():
            return _answer(await self._async.handle_async_request(_core_request(request)))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._door.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._async_door.handle_async_request(request)


# --- the policy ---------------------------------------------------------------------------------------------------


def _longest(request: httpx.Request) -> float:
    """The longest of the request's timeouts (connect, read, write, pool); ``inf`` if none is set."""
    timeouts = request.extensions.get("timeout") or {}
    finite = [value for value in timeouts.values() if isinstance(value, (int, float)) and math.isfinite(value)]
    return max(finite) if finite else math.inf


def _left(bounds: reading.Bounds) -> float | None:
    return None if bounds.deadline == math.inf else max(bounds.deadline - time.monotonic(), 0.0)


def _bound(response: httpx.Response, bounds: reading.Bounds) -> httpx.Response:
    response.stream = _MappedBody(reading.BoundedBody(response.stream, bounds, reading.coding_of(response)))
    return response


def _redirect(request: httpx.Request, response: httpx.Response) -> RedirectRefused | None:
    if not 300 <= response.status_code < 400:
        return None
    location = response.headers.get("Location", "")[:200]
    return RedirectRefused(
        f"the server answered {response.status_code} (a redirect to {location!r}) to {request.method} "
        f"{request.url.path}; redirects are never followed (Upbit's API does not redirect): nothing was sent again",
        request=request,
    )


class UpbitTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """``connect()``'s transport: bounds, pacing, refused redirects and SDK errors over ``inner``.

    ``inner`` is a ``Network`` (``on_network``: the bounds hold at every socket wait) or the caller's
    own transport. One object serves the sync and the async client of one generated ``Client``.
    """

    def __init__(
        self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport, pacer: Pacer, events: Emitter = NO_EVENTS
    ) -> None:
        self.inner = inner
        self.pacer = pacer
        self.events = events
        """Tells ``connect(on_event=...)``'s hook each request's events (``events``), here for sync and async alike."""
        self.on_network: bool = isinstance(inner, Network)

    def _bounds(self, request: httpx.Request) -> reading.Bounds:
        """The caller's bounds (inside ``reading.bounded``), else the request's own. A transport of the
        caller's (``on_network`` false: a mock, the sandbox's) has no socket waits for the bounds to narrow,
        so it is told the caller's deadline in the request's timeouts (``reading.narrow``)."""
        request.headers["Accept-Encoding"] = reading.ACCEPTED_ENCODINGS
        caller = reading.current()
        if caller is None:
            return reading.Bounds(time.monotonic() + _longest(request))
        if not self.on_network:
            reading.narrow(request, caller)
        return caller

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.inner, httpx.BaseTransport):
            raise TypeError("the transport given to connect() is async only; use the client's async calls")
        bounds = self._bounds(request)
        sent = self.pacer.sent(request, _left(bounds))
        with sent, self.events.watch(request, self.pacer) as watch, errors_mapped(), reading.within(bounds):
            response = _bound(self.inner.handle_request(request), bounds)
            if sent.wants_body(response) or watch.wants_body(response):
                response.read()
            watch.heard(response)
        refused = _redirect(request, sent.heard(response))
        if refused is not None:
            response.close()
            raise refused
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.inner, httpx.AsyncBaseTransport):
            raise TypeError("the transport given to connect() is sync only; use the client's async calls")
        bounds = self._bounds(request)
        sent = await self.pacer.sent_async(request, _left(bounds))
        with sent, self.events.watch(request, self.pacer) as watch, errors_mapped(), reading.within(bounds):
            response = _bound(await self.inner.handle_async_request(request), bounds)
            if sent.wants_body(response) or watch.wants_body(response):
                await response.aread()
            watch.heard(response)
        refused = _redirect(request, sent.heard(response))
        if refused is not None:
            await response.aclose()
            raise refused
        return response

    def close(self) -> None:
        if isinstance(self.inner, httpx.BaseTransport):
            self.inner.close()

    async def aclose(self) -> None:
        if isinstance(self.inner, httpx.AsyncBaseTransport):
            await self.inner.aclose()


# --- telling a client's transport, through public httpx only ----------------------------------------------------


class Marker:
    """The request hook ``connect()`` adds to both clients: it does nothing; it names the client's transport
    (httpx has no public way to ask a client for it)."""

    def __init__(self, transport: UpbitTransport) -> None:
        self.transport = transport

    def __call__(self, request: httpx.Request) -> reading.Done:
        return reading.Done()


def transport_of(http: httpx.Client | httpx.AsyncClient) -> UpbitTransport | None:
    """The ``UpbitTransport`` ``http`` sends through (``connect()`` built it), else None."""
    for hook in http.event_hooks.get("request", []):
        if isinstance(hook, Marker):
            return hook.transport
    return None


def events_of(http: httpx.Client | httpx.AsyncClient) -> Emitter:
    """The emitter of ``http``'s ``connect(on_event=...)`` hook (``NO_EVENTS`` for a client it did not build)."""
    found = transport_of(http)
    return NO_EVENTS if found is None else found.events

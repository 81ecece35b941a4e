"""Bounded reading of the exchange's answers: a deadline over the whole answer, a cap on its bytes, safe JSON.

httpx's read timeout bounds the wait for each piece of an answer, not the answer: a server that
drips one byte a second never times out, and one that sends an endless body is read into memory to
the end. The batch therefore reads through a network stream of its own (an httpcore network
backend, the extension point httpcore offers for this) that, while a batch request is being sent
and read in the current thread or task (``bounded``), narrows every socket wait to what is left of
the deadline and counts the bytes read. Past the deadline a read raises ``httpcore.ReadTimeout``;
past ``MAX_ANSWER_BYTES`` it raises ``httpcore.ReadError``: httpx turns both into its own transport
errors, which the batch treats as a lost answer (the request may have been applied). Outside a
batch the stream does nothing.

``bounded(on_wire=...)`` also tells the caller when its request first touches the network (a new
connection's connect, or the first write on a kept one): ``pool_gate`` lets the next request into the
connection pool then.

A compressed answer is bounded too, after decoding: inside ``bounded`` the batch asks for ``gzip`` or
``deflate`` only (or none), and a response hook decodes them itself, stopping at ``MAX_ANSWER_BYTES`` of
decoded body (a 1 MiB gzip bomb would otherwise become a gigabyte); any other encoding is a lost answer.

``load_json`` reads a body as JSON or raises ``ValueError``, whatever the body is (nested 100,000
deep, not UTF-8, ...): nothing the exchange sends can raise ``RecursionError`` out of the batch.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
from httpcore._utils import is_socket_readable

__all__ = ["MAX_ANSWER_BYTES", "bounded", "install", "load_json", "reports_wire"]

MAX_ANSWER_BYTES = 1024 * 1024
"""The most bytes (status line, headers and body, as received) one answer may take: 1 MiB.

The largest real answers are far smaller (20 cancelled orders are a few KB; a lookup of 100 orders
about 100 KB). An answer past the cap is a lost answer: the request may have been applied."""


@dataclass(slots=True)
class _Bounds:
    deadline: float
    bytes_left: int
    on_wire: Callable[[], None] | None = None
    """Called once, when the request first touches the network (connect, or its first write)."""

    def touched(self) -> None:
        on_wire, self.on_wire = self.on_wire, None
        if on_wire is not None:
            on_wire()

    def wait(self, timeout: float | None, late: type[httpcore.TimeoutException] = httpcore.ReadTimeout) -> float:
        """The socket timeout to use now: ``timeout`` narrowed to the time left; ``late`` once it is up."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise late("the answer did not arrive whole before the batch's deadline")
        return left if timeout is None else min(timeout, left)

    def took(self, data: bytes) -> bytes:
        self.bytes_left -= len(data)
        if self.bytes_left < 0:
            raise httpcore.ReadError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes; not read further")
        return data


_bounds: contextvars.ContextVar[_Bounds | None] = contextvars.ContextVar("upbit_cancel_answer_bounds", default=None)


@contextlib.contextmanager
def bounded(
    seconds: float, max_bytes: int = MAX_ANSWER_BYTES, *, on_wire: Callable[[], None] | None = None
) -> Iterator[None]:
    """Inside the block, requests of this thread (or task) read through ``install``ed clients are bounded:
    the whole answer within ``seconds``, at most ``max_bytes``; ``on_wire`` is called (once) when the
    request first connects or writes."""
    token = _bounds.set(_Bounds(time.monotonic() + max(seconds, 0.001), max_bytes, on_wire))
    try:
        yield
    finally:
        _bounds.reset(token)


def _touch() -> None:
    bounds = _bounds.get()
    if bounds is not None:
        bounds.touched()


def _connecting(timeout: float | None) -> float | None:
    """A new connection is being made for the current request: the connect's timeout, narrowed to the deadline."""
    bounds = _bounds.get()
    if bounds is None:
        return timeout
    bounds.touched()
    return bounds.wait(timeout, httpcore.ConnectTimeout)


class _Readable:
    """Whether a connection's socket is readable: httpcore's ``is_socket_readable``, with one poll object per
    socket instead of one per call. The pool asks it of every idle connection each time a request comes or
    goes (tens of times per request with a pool of 30); a closed socket (or none) reads as readable."""

    __slots__ = ("_fd", "_poll", "_sock")

    def __init__(self, sock: socket.socket | None) -> None:
        self._sock = sock
        self._fd = -1
        self._poll: Any = None

    def __call__(self) -> bool:
        fd = -1 if self._sock is None else self._sock.fileno()
        if fd < 0 or not hasattr(select, "poll"):
            return is_socket_readable(self._sock)
        if fd != self._fd:
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN)
            self._fd = fd
        return bool(self._poll.poll(0))


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._readable: _Readable | None = None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounds = _bounds.get()
        if bounds is None:
            return self._inner.read(max_bytes, timeout)
        return bounds.took(self._inner.read(max_bytes, bounds.wait(timeout)))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounds = _bounds.get()
        if bounds is None:
            self._inner.write(buffer, timeout)
            return
        bounds.touched()
        self._inner.write(buffer, bounds.wait(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounds = _bounds.get()
        wait = timeout if bounds is None else bounds.wait(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Asked of every idle connection each time a request comes or goes (see ``_Readable``).
            if self._readable is None:
                self._readable = _Readable(self._inner.get_extra_info("socket"))
            return self._readable()
        return self._inner.get_extra_info(info)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._readable: _Readable | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounds = _bounds.get()
        if bounds is None:
            return await self._inner.read(max_bytes, timeout)
        return bounds.took(await self._inner.read(max_bytes, bounds.wait(timeout)))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounds = _bounds.get()
        if bounds is None:
            await self._inner.write(buffer, timeout)
            return
        bounds.touched()
        await self._inner.write(buffer, bounds.wait(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        bounds = _bounds.get()
        wait = timeout if bounds is None else bounds.wait(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # The pool asks this of every idle connection each time a request comes or goes (to spot
            # connections the server closed); anyio answers it by building the socket's attribute map
            # anew (getpeername() and more) each time, a large part of an async batch's CPU. The socket
            # is the connection's for its whole life: look it up once.
            if self._readable is None:
                self._readable = _Readable(self._inner.get_extra_info("socket"))
            return self._readable()
        return self._inner.get_extra_info(info)


SocketOptions = Iterable[Any] | None


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self.inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.NetworkStream:
        wait = _connecting(timeout)
        return _Stream(self.inner.connect_tcp(host, port, wait, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore.NetworkStream:
        _touch()
        return _Stream(self.inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        wait = _connecting(timeout)
        return _AsyncStream(await self.inner.connect_tcp(host, port, wait, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore.AsyncNetworkStream:
        _touch()
        return _AsyncStream(await self.inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


# --- compressed answers: decoded here, within the cap -------------------------------------------------------

_ACCEPTED = "gzip, deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class _Inflater:
    """Decode a gzip or deflate body, raising ``httpx.ReadError`` past ``MAX_ANSWER_BYTES`` of output."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._first = True
        self._zlib = zlib.decompressobj(_WBITS[coding])
        self._left = MAX_ANSWER_BYTES

    def feed(self, data: bytes) -> bytes:
        try:
            out = self._zlib.decompress(data, self._left + 1)
        except zlib.error as exc:
            if not (self._first and self._coding == "deflate"):
                raise httpx.DecodingError(f"answer not valid {self._coding}: {exc}") from exc
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate sent raw, as some servers do
            self._first = False
            return self.feed(data)
        self._first = False
        self._left -= len(out)
        if self._left < 0 or self._zlib.unconsumed_tail:
            raise httpx.ReadError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes once decoded; not read further")
        return out


class _InflatingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, coding: str) -> None:
        self._inner = inner
        self._inflater = _Inflater(coding)

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._inner, httpx.SyncByteStream)
        for data in self._inner:
            yield self._inflater.feed(data)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._inner, httpx.AsyncByteStream)
        async for data in self._inner:
            yield self._inflater.feed(data)

    def close(self) -> None:
        if isinstance(self._inner, httpx.SyncByteStream):
            self._inner.close()

    async def aclose(self) -> None:
        if isinstance(self._inner, httpx.AsyncByteStream):
            await self._inner.aclose()


def _ask_plain(request: httpx.Request) -> None:
    """Request hook: inside ``bounded``, accept only the encodings ``_decode_within_cap`` can bound."""
    if _bounds.get() is not None:
        request.headers["Accept-Encoding"] = _ACCEPTED


def _decode_within_cap(response: httpx.Response) -> None:
    """Response hook: inside ``bounded``, decode a compressed body here, within ``MAX_ANSWER_BYTES``."""
    if _bounds.get() is None:
        return
    codings = [value.strip().lower() for value in response.headers.get_list("content-encoding", split_commas=True)]
    codings = [coding for coding in codings if coding not in ("", "identity")]
    if not codings:
        return
    if len(codings) > 1 or codings[0] not in _WBITS:
        raise httpx.RemoteProtocolError(f"answer encoded as {', '.join(codings)!r}, which was not asked for")
    del response.headers["content-encoding"]
    response.stream = _InflatingStream(response.stream, codings[0])


async def _ask_plain_async(request: httpx.Request) -> None:
    _ask_plain(request)


async def _decode_within_cap_async(response: httpx.Response) -> None:
    _decode_within_cap(response)


def _add_hooks(http: httpx.Client | httpx.AsyncClient) -> None:
    hooks = http.event_hooks
    request, response = (
        (_ask_plain_async, _decode_within_cap_async)
        if isinstance(http, httpx.AsyncClient)
        else (_ask_plain, _decode_within_cap)
    )
    if response not in hooks["response"]:
        http.event_hooks = {
            **hooks,
            "request": [*hooks["request"], request],
            "response": [*hooks["response"], response],
        }


_install_lock = threading.Lock()


def install(http: httpx.Client | httpx.AsyncClient) -> bool:
    """Read the client's new connections through the bounded stream; True if every transport of it could be.

    Only httpx's own transports (``HTTPTransport``/``AsyncHTTPTransport``, mounts and proxies included)
    have a network to bound; any other transport (a mock, the caller's own) is left as it is. The
    hooks bounding compressed answers are added to every client. Installing twice changes nothing.
    The caller's client behaves as before outside ``bounded``.
    """
    transports = [getattr(http, "_transport", None), *getattr(http, "_mounts", {}).values()]
    every = True
    with _install_lock:
        _add_hooks(http)
        for transport in transports:
            pool = getattr(transport, "_pool", None)
            backend = getattr(pool, "_network_backend", None)
            if backend is None:
                every = every and not isinstance(transport, (httpx.HTTPTransport, httpx.AsyncHTTPTransport))
                continue
            if isinstance(backend, (_Backend, _AsyncBackend)):
                continue
            if isinstance(backend, httpcore.AsyncNetworkBackend):
                pool._network_backend = _AsyncBackend(backend)  # type: ignore[union-attr]
            elif isinstance(backend, httpcore.NetworkBackend):
                pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
            else:
                every = False
    return every


def reports_wire(http: httpx.Client | httpx.AsyncClient) -> bool:
    """True if every transport of ``http`` reads through the bounded stream (``install`` done), so that
    ``bounded(on_wire=...)`` hears of every request it sends; False with any other transport (a mock)."""
    transports = [getattr(http, "_transport", None), *getattr(http, "_mounts", {}).values()]
    return all(
        isinstance(getattr(getattr(transport, "_pool", None), "_network_backend", None), (_Backend, _AsyncBackend))
        for transport in transports
    )


def load_json(content: bytes | str) -> Any:
    """``content`` as JSON; ``ValueError`` for anything that is not readable JSON (nesting too deep included)."""
    try:
        return json.loads(content)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply to read") from exc
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc

"""Bounded reading of the exchange's answers: a deadline over the whole exchange, a cap on its bytes, safe JSON.

httpx's timeouts bound each wait for a piece of an answer, not the answer: a server that drips one
byte a second never times out, and one that sends an endless body is read into memory to the end.
So every answer is read within ``Bounds``: a deadline and a byte budget. Who sets them:

- ``bounded(seconds)``: the caller (the batch, the sweep) for the requests its thread or task sends
  inside the block. Those requests are paced by that caller, never again by the transport.
- otherwise ``connect()``'s transport (``transport.UpbitTransport``) for each request it sends: the
  deadline is the longest of the request's timeouts, ``MAX_ANSWER_BYTES`` the budget.

Where they hold: on a ``connect()`` client, in its network streams (``network.py``), so every socket
wait (connect, TLS, each write and read, informational answers and headers included) is narrowed to
what is left of the deadline and every byte received counts (``httpcore.ReadTimeout`` /
``ReadError`` past them). The body is read through ``BoundedBody`` in every case: it re-enters the
bounds for each piece (httpx reads the body after the transport returns), checks the deadline
between pieces, counts the body's bytes, and decodes ``gzip``/``deflate`` itself, stopping at
``MAX_ANSWER_BYTES`` of decoded body (a 1 MiB gzip bomb would otherwise become a gigabyte). Any other
encoding is a bad answer. On a client whose transport is not ours (a mock, a bare generated
``Client``), ``install`` adds response hooks that put the body behind ``BoundedBody`` inside
``bounded``, and narrow each of the request's timeouts to what is left of the deadline.

``bounded(on_wire=...)`` also tells the caller when its request first touches the network (a new
connection's connect, or the first write on a kept one): ``pool_gate`` lets the next request in then.

``load_json`` reads a body as JSON or raises ``ValueError``, whatever the body is (nested 100,000
deep, not UTF-8, ...): nothing the exchange sends can raise ``RecursionError`` out of the batch.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import httpcore

__all__ = [
    "MAX_ANSWER_BYTES",
    "Bounds",
    "bounded",
    "current",
    "install",
    "load_json",
    "narrow",
    "within",
]

MAX_ANSWER_BYTES = 1024 * 1024
"""The most bytes (status line, headers and body, as received; the body once decoded) one answer may take: 1 MiB.

The largest real answers are far smaller (20 cancelled orders are a few KB; a lookup of 100 orders
about 100 KB). An answer past the cap is a lost answer: the request may have been applied."""


@dataclass(slots=True)
class Bounds:
    """One exchange's deadline (``time.monotonic()``; ``inf``: none) and the bytes it may still receive."""

    deadline: float
    bytes_left: int = MAX_ANSWER_BYTES
    on_wire: Callable[[], None] | None = None
    """Called once, when the request first touches the network (connect, or its first write)."""

    def touched(self) -> None:
        on_wire, self.on_wire = self.on_wire, None
        if on_wire is not None:
            on_wire()

    def wait(self, timeout: float | None, late: type[httpcore.TimeoutException] | None = None) -> float | None:
        """The socket timeout to use now: ``timeout`` narrowed to the time left; ``late`` (by default
        ``httpcore.ReadTimeout``) once it is up. httpcore is imported here, not at the top: only a
        connected client's network reads bounds, and ``import upbit_cancel.batch`` stays as light as
        ``import httpx`` (which loads httpcore with its first transport too)."""
        if self.deadline == math.inf:
            return timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            import httpcore

            raise (late or httpcore.ReadTimeout)("the answer did not arrive whole before its deadline")
        return left if timeout is None else min(timeout, left)

    def took(self, data: bytes) -> bytes:
        self.bytes_left -= len(data)
        if self.bytes_left < 0:
            import httpcore

            raise httpcore.ReadError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes; not read further")
        return data


_bounds: contextvars.ContextVar[Bounds | None] = contextvars.ContextVar("upbit_cancel_answer_bounds", default=None)


def current() -> Bounds | None:
    """The bounds of the requests this thread (or task) sends now; None outside ``bounded``/``within``."""
    return _bounds.get()


@contextlib.contextmanager
def within(bounds: Bounds) -> Iterator[Bounds]:
    """Run the block under ``bounds`` (the transport's own, for a request sent outside ``bounded``)."""
    token = _bounds.set(bounds)
    try:
        yield bounds
    finally:
        _bounds.reset(token)


@contextlib.contextmanager
def bounded(
    seconds: float, max_bytes: int = MAX_ANSWER_BYTES, *, on_wire: Callable[[], None] | None = None
) -> Iterator[None]:
    """Inside the block, requests this thread (or task) sends are bounded: the whole exchange within
    ``seconds``, at most ``max_bytes``; ``on_wire`` is called (once) when the request first connects or
    writes. The caller paces these requests: a ``connect()`` client's transport does not pace them again."""
    with within(Bounds(time.monotonic() + max(seconds, 0.001), max_bytes, on_wire)):
        yield


# --- the body: read within the bounds, compressed answers decoded here --------------------------------------

ACCEPTED_ENCODINGS = "gzip, deflate"
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


def coding_of(response: httpx.Response) -> str | None:
    """The answer's one content coding, taken off its headers (``BoundedBody`` decodes it); None if plain.

    Raises ``httpx.RemoteProtocolError`` for a coding that was not asked for (``ACCEPTED_ENCODINGS``)."""
    codings = [value.strip().lower() for value in response.headers.get_list("content-encoding", split_commas=True)]
    codings = [coding for coding in codings if coding not in ("", "identity")]
    if not codings:
        return None
    if len(codings) > 1 or codings[0] not in _WBITS:
        raise httpx.RemoteProtocolError(f"answer encoded as {', '.join(codings)!r}, which was not asked for")
    del response.headers["content-encoding"]
    return codings[0]


class BoundedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An answer's body read under its ``Bounds``: the deadline checked between pieces, at most
    ``MAX_ANSWER_BYTES`` received and (``coding``) decoded. One class for both kinds of client."""

    def __init__(self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, bounds: Bounds, coding: str | None) -> None:
        self._inner = inner
        self._bounds = bounds
        self._left = MAX_ANSWER_BYTES
        self._inflater = None if coding is None else _Inflater(coding)

    def _took(self, data: bytes) -> bytes:
        if time.monotonic() >= self._bounds.deadline:
            raise httpx.ReadTimeout("the answer did not arrive whole before its deadline")
        self._left -= len(data)
        if self._left < 0:
            raise httpx.ReadError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes; not read further")
        return data if self._inflater is None else self._inflater.feed(data)

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._inner, httpx.SyncByteStream)
        pieces = iter(self._inner)
        while True:
            with within(self._bounds):
                data = next(pieces, None)
            if data is None:
                return
            yield self._took(data)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._inner, httpx.AsyncByteStream)
        pieces = aiter(self._inner)
        while True:
            with within(self._bounds):
                data = await anext(pieces, None)
            if data is None:
                return
            yield self._took(data)

    def close(self) -> None:
        if isinstance(self._inner, httpx.SyncByteStream):
            self._inner.close()

    async def aclose(self) -> None:
        if isinstance(self._inner, httpx.AsyncByteStream):
            await self._inner.aclose()


# --- clients whose transport is not ours: hooks, inside ``bounded`` only ---------------------------------


def narrow(request: httpx.Request, bounds: Bounds) -> None:
    """Narrow each of the request's timeouts (connect, read, write, pool) to what is left of ``bounds``' deadline.

    A transport that is not ours (a mock, the sandbox's in-process one) learns the deadline this way, the one
    way httpx gives every transport: its answer cannot outlast it if the transport honours its timeouts."""
    if bounds.deadline == math.inf:
        return
    left = max(bounds.deadline - time.monotonic(), 0.001)
    timeouts = request.extensions.get("timeout", {})
    request.extensions["timeout"] = {key: min(timeouts.get(key) or left, left) for key in _WAITS}


class Done:
    """What a hook of both clients returns: nothing a sync client looks at, an awaitable that is done for an
    async one (which awaits every hook). One hook then serves both kinds of client."""

    def __await__(self) -> Iterator[None]:
        return iter(())


def _ask_plain(request: httpx.Request) -> Done:
    """Request hook: inside ``bounded``, accept only the encodings ``BoundedBody`` can bound, and narrow each
    of the request's timeouts to what is left of the deadline (so its headers cannot outlast it either)."""
    bounds = _bounds.get()
    if bounds is not None:
        request.headers["Accept-Encoding"] = ACCEPTED_ENCODINGS
        narrow(request, bounds)
    return Done()


def _bound_body(response: httpx.Response) -> Done:
    """Response hook: inside ``bounded``, read the body through ``BoundedBody``."""
    bounds = _bounds.get()
    if bounds is not None and not isinstance(response.stream, BoundedBody):
        response.stream = BoundedBody(response.stream, bounds, coding_of(response))
    return Done()


_WAITS = ("connect", "read", "write", "pool")
_install_lock = threading.Lock()


def install(http: httpx.Client | httpx.AsyncClient) -> bool:
    """True if ``http`` sends through a ``connect()`` transport over the network (every bound holds there,
    and ``bounded(on_wire=...)`` hears of every request it sends).

    A ``connect()`` client over a transport of the caller's (a mock) is left as it is: its transport bounds
    the body already. Any other client gets hooks (added once) that, inside ``bounded``, narrow its requests'
    timeouts to the deadline and bound the body of its answers. The client behaves as before outside ``bounded``."""
    from .transport import transport_of

    ours = transport_of(http)
    if ours is not None:  # a connect() client: its transport bounds every answer, whatever its network
        return ours.on_network
    with _install_lock:
        hooks = http.event_hooks
        if _bound_body not in hooks["response"]:
            http.event_hooks = {
                **hooks,
                "request": [*hooks["request"], _ask_plain],
                "response": [*hooks["response"], _bound_body],
            }
    return False


def load_json(content: bytes | str) -> Any:
    """``content`` as JSON; ``ValueError`` for anything that is not readable JSON (nesting too deep included)."""
    try:
        return json.loads(content)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply to read") from exc
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc

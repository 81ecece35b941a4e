"""Per-request events of a ``connect()`` client, for metrics and tracing: typed values and their one emitter.

``connect(..., on_event=hook)`` subscribes ``hook`` (an ``EventHook``). The client's one transport
(``transport.UpbitTransport``) tells ``RequestSent``, ``RequestAnswered``, ``RequestRateLimited``,
``RequestBlocked`` and ``RequestFailed`` for every request (``Watch``); the batch (``batch._Batch``) and the
sweep's listing (``sweep.pages``) tell ``RequestRetried`` and ``LookupConfirmed``. When each is told, and the
rules a hook lives by (it runs on the sending thread or loop, must not block, never fails a request: an
exception from it is logged on ``upbit_cancel.events`` and ignored; events are frozen values; without a
hook none is built) are in docs/hooks.md.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from .errors import ConfigurationError
from .ratelimit import DEFAULT_BLOCK_SECONDS, block_seconds
from .remaining_req import RemainingReq, parse_remaining_req

if TYPE_CHECKING:
    from .pacing import Pacer

__all__ = [
    "NO_EVENTS",
    "Emitter",
    "Event",
    "EventHook",
    "LookupConfirmed",
    "RequestAnswered",
    "RequestBlocked",
    "RequestFailed",
    "RequestInfo",
    "RequestRateLimited",
    "RequestRetried",
    "RequestSent",
]

log: logging.Logger = logging.getLogger("upbit_cancel.events")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The request an event is about. ``id``: counts up per client, ties the request's events together;
    ``operation``: its name in ``upbit_client.registry.OPERATIONS`` (``cancel_orders_by_ids``), None if it
    names none; ``group``: its rate-limit group from the spec (``order``), None if it has none."""

    id: int
    method: str
    path: str
    operation: str | None
    group: str | None


@dataclass(frozen=True, slots=True)
class RequestSent:
    """A request leaves for the exchange."""

    request: RequestInfo


@dataclass(frozen=True, slots=True)
class RequestAnswered:
    """The exchange answered: ``status``; ``latency``, seconds from sending to the status line and headers;
    ``remaining``, its ``Remaining-Req`` header (group and requests left in the second), None if absent."""

    request: RequestInfo
    status: int
    latency: float
    remaining: RemainingReq | None


@dataclass(frozen=True, slots=True)
class RequestRateLimited:
    """The answer was a 429: the exchange refused the request for the budget (told after its ``RequestAnswered``)."""

    request: RequestInfo
    remaining: RemainingReq | None


@dataclass(frozen=True, slots=True)
class RequestBlocked:
    """The answer was a 418: the pocket is blocked. ``name``: Upbit's error name; ``seconds``: how long, as
    its message says (else the limiter's default); ``until``: when the block ends (epoch seconds)."""

    request: RequestInfo
    name: str | None
    seconds: float
    until: float


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """No answer came: ``error``, the exception's class name (the SDK's ``TransportError`` subclasses
    carry httpx's names: ``ReadTimeout``, ``RemoteProtocolError``), or ``cancelled``; ``latency``, seconds
    from sending until it was given up. The request may have been carried out (a lost answer)."""

    request: RequestInfo
    error: str
    latency: float


@dataclass(frozen=True, slots=True)
class RequestRetried:
    """The batch or the sweep sends a request again. ``operation``: ``cancel_orders_by_ids``,
    ``list_orders_by_ids`` (a lookup) or ``list_open_orders`` (a listing page); ``attempt``: this send's
    number (2 for the first retry); ``ids``: how many ids it carries (0 for a listing); ``reason``: what the
    last try got (the report's error name: ``too_many_requests``, ``transport_error``...)."""

    operation: str
    attempt: int
    ids: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class LookupConfirmed:
    """An order lookup settled ids whose cancel answer was lost or unclear: ``ids``, those it settled;
    ``cancelled``, those of them it found cancelled (the report names them ``confirmed_by="lookup"``)."""

    ids: tuple[str, ...]
    cancelled: tuple[str, ...]


Event = (
    RequestSent
    | RequestAnswered
    | RequestRateLimited
    | RequestBlocked
    | RequestFailed
    | RequestRetried
    | LookupConfirmed
)
"""Every event a hook may be told; match on its type."""

EventHook = Callable[[Event], object]
"""``on_event(event)``: quick, never blocking, on the thread or loop that sent the request; what it
returns is ignored, an exception it raises is logged (``upbit_cancel.events``) and ignored."""


def _error_name(exc: BaseException) -> str:
    if isinstance(exc, (Exception, KeyboardInterrupt)):
        return type(exc).__name__
    return "cancelled"  # asyncio's CancelledError, trio's Cancelled: the caller's scope ended the wait


class Watch:
    """One request's events, told by its transport: used as ``with watch: response = ...; watch.heard(response)``.

    Entering tells ``RequestSent``; ``heard`` tells ``RequestAnswered`` (and ``RequestRateLimited`` or
    ``RequestBlocked``); leaving with an exception before ``heard`` tells ``RequestFailed``. A 418's body is
    read before ``heard`` (``wants_body``): its message says how long the pocket is blocked."""

    __slots__ = ("answered", "emitter", "info", "started")

    def __init__(self, emitter: Emitter, info: RequestInfo) -> None:
        self.emitter: Emitter = emitter
        self.info: RequestInfo = info
        self.started: float = 0.0
        self.answered: bool = False

    def __enter__(self) -> Watch:
        self.started = time.monotonic()
        self.emitter.emit(RequestSent(self.info))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is not None and not self.answered:
            self.emitter.emit(RequestFailed(self.info, _error_name(exc), time.monotonic() - self.started))

    def wants_body(self, response: httpx.Response) -> bool:
        return response.status_code == 418

    def heard(self, response: httpx.Response) -> None:
        self.answered = True
        status = response.status_code
        remaining = parse_remaining_req(response.headers.get("Remaining-Req"))
        self.emitter.emit(RequestAnswered(self.info, status, time.monotonic() - self.started, remaining))
        if status == 429:
            self.emitter.emit(RequestRateLimited(self.info, remaining))
        elif status == 418:
            self.emitter.emit(self._blocked(response))

    def _blocked(self, response: httpx.Response) -> RequestBlocked:
        from .answers import from_response

        name, message = from_response(response).error_body()
        seconds = block_seconds(message)
        seconds = DEFAULT_BLOCK_SECONDS if seconds is None else seconds
        return RequestBlocked(self.info, name, seconds, time.time() + seconds)


class _Idle(Watch):
    """The watch of a client without a hook: tells nothing, reads nothing."""

    __slots__ = ()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None

    def wants_body(self, response: httpx.Response) -> bool:
        return False

    def heard(self, response: httpx.Response) -> None:
        return None


class Emitter:
    """Tells ``hook`` (None: nobody) each event, on the caller's thread; an exception it raises is logged on
    ``upbit_cancel.events`` and ignored. One per ``connect()`` client (its transport's ``events``)."""

    __slots__ = ("_ids", "hook")

    def __init__(self, hook: EventHook | None = None) -> None:
        if hook is not None and not callable(hook):
            raise ConfigurationError(f"on_event must be a callable taking one event, or None; given: {hook!r}")
        self.hook: EventHook | None = hook
        self._ids: Iterator[int] = itertools.count(1)

    def emit(self, event: Event) -> None:
        hook = self.hook
        if hook is None:
            return
        try:
            hook(event)
        except Exception:
            log.warning("on_event hook raised on %s; ignored", type(event).__name__, exc_info=True)

    def watch(self, request: httpx.Request, pacer: Pacer) -> Watch:
        """The events of ``request`` (its operation and group named by ``pacer``, from the registry)."""
        if self.hook is None:
            return _IDLE
        operation = pacer.operation_for(request)
        name = None if operation is None else operation.name
        group = None if operation is None or operation.rate_limit is None else operation.rate_limit.group
        info = RequestInfo(next(self._ids), request.method, request.url.path, name, group)
        return Watch(self, info)


NO_EVENTS = Emitter()
"""The emitter of a client without a hook (and of a batch on a client ``connect()`` did not build)."""
_IDLE = _Idle(NO_EVENTS, RequestInfo(0, "", "", None, None))

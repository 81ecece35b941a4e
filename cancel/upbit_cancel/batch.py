"""Cancel any number of orders with the Order List Cancel endpoint, sync or async: the ids, the merge, the report.

The ids are checked against the spec before anything is sent and split into chunks of its ``maxItems``;
every distinct id lands exactly once in success, failed, unconfirmed or not_sent. Nothing is raised once
sending has begun, except on interruption (``BatchInterrupted`` / ``BatchCancelled``, carrying the partial
report). How each fault is retried or reported, so that an id is neither lost nor reported wrongly, and
the test of each promise: docs/guarantees.md ("Batches", "Ask the exchange when an answer was lost").

Here, all without I/O: the ids and the merge rules (``_Batch``), each chunk's and lookup's requests as flows
(``cancel_flow``, ``lookup_flow``), the options (``BatchOptions``) and the public calls, which hand the flows
to the drivers (``drivers``); answers are read, and the limiter fed, in one place (``answers``).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NoReturn, TypedDict, TypeVar, Unpack, cast, get_args

import httpx
from attrs import evolve

from upbit_auth import UpbitAuth
from upbit_client.api.order import cancel_orders_by_ids as _endpoint
from upbit_client.api.order import list_orders_by_ids as _lookup_endpoint
from upbit_client.models import CancelOrdersGroup, CancelOrdersOrder, CancelOrdersResult, OpenOrderState, Order
from upbit_client.rules import ParameterRule, RateLimit, check_query
from upbit_client.types import UNSET, Unset

from . import reading
from .answers import Answer, Outcome, feed
from .drivers import Acquire, AnyClient, Enter, Flow, Send, Step, run_async, run_sync
from .errors import BatchInterrupted, ConfigurationError, is_asyncio_cancellation
from .events import NO_EVENTS, Emitter, LookupConfirmed, RequestRetried
from .pool_gate import NO_GATE, PoolGate, Turn
from .ratelimit import KeyBlocked, Permit, RateLimiter, limiter_for
from .remaining_req import RemainingReq
from .results import (
    BatchResult,
    ErrorInfo,
    FailureReason,
    IdKind,
    NotSentOrder,
    OrderRef,
    UnconfirmedOrder,
    group_sizes,
)
from .results import order_state as _order_state
from .results import text as _text
from .settings import STORE_ENV
from .workers import ProgressRelay, call_progress

__all__ = [
    "AnyClient",
    "BatchKeywords",
    "BatchOptions",
    "ProgressCallback",
    "ReportSink",
    "cancel_orders",
    "cancel_orders_async",
]

log: logging.Logger = logging.getLogger("upbit_cancel.batch")

ReportSink = Callable[[BatchResult], object]
"""``report_to(report)`` of the async batch and sweep: called once with the report, the final one or, on
cancellation, the partial one, before the cancellation goes on (under trio the only way to get it, as
trio's ``Cancelled`` may not be replaced by ``BatchCancelled``). An exception from it is logged and ignored."""

ProgressCallback = Callable[[int, int], None]
"""``on_progress(done_ids, total_ids)``: once before sending (0), then as chunks settle. Always called in
the thread that called the batch: sync, the caller's thread, never a worker thread (``workers``); async,
the event loop's. An exception from it is logged and ignored; a ``KeyboardInterrupt`` stops the sync batch."""

DEFAULT_MAX_TRIES = 5
# Only used when the spec names no rate limit for the endpoint, to keep the fan-out finite.
_IN_FLIGHT_WITHOUT_RATE_LIMIT = 4

# What building the report takes per id (a million ``NotSentOrder`` take about 2.5 s here): kept out of the
# time to send in (``_Batch.time_left``).
_REPORT_SECONDS_PER_ID = 3e-6

T = TypeVar("T")


class BatchKeywords(TypedDict, total=False):
    """``BatchOptions``'s fields as keyword arguments of the batch and sweep calls (sugar for ``options=``)."""

    timeout_total: float
    max_tries: int
    confirm: bool
    max_in_flight: int | None
    limiter: RateLimiter | None
    rate_limit_store: str | None


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How a batch (or a sweep) runs, as one frozen value like httpx's ``Timeout``: checked when made, so a
    bad value raises ``ConfigurationError`` (a ``ValueError``) naming the field and what was given.

    ``timeout_total``: seconds for the whole call, whatever the server does. ``max_tries``: sends per chunk.
    ``confirm``: look up every id left unconfirmed or failed. ``max_in_flight``: requests at once (None: the
    group's ``per_second`` from the spec). ``limiter``: paces the cancels (None: the process-wide one of the
    client's pocket). ``rate_limit_store``: ``redis://HOST:PORT/DB`` shared by processes (None:
    ``UPBIT_RATE_LIMIT_STORE``). Give it whole (``options=``) or its fields as keywords, never both; derive
    one from another with ``dataclasses.replace``."""

    timeout_total: float = 30.0
    max_tries: int = DEFAULT_MAX_TRIES
    confirm: bool = True
    max_in_flight: int | None = None
    limiter: RateLimiter | None = None
    rate_limit_store: str | None = None

    def __post_init__(self) -> None:
        seconds = self.timeout_total
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
            raise ConfigurationError(f"timeout_total must be a positive, finite number of seconds; given: {seconds!r}")
        whole_number("max_tries", self.max_tries, 1)
        if self.max_in_flight is not None:
            whole_number("max_in_flight", self.max_in_flight, 1, "at least 1 or None")
        flag("confirm", self.confirm)
        if self.limiter is not None and not isinstance(self.limiter, RateLimiter):
            raise ConfigurationError(f"limiter must be a RateLimiter or None; given: {type(self.limiter).__name__}")
        if self.rate_limit_store or os.environ.get(STORE_ENV):  # a store to check: the store's modules load here
            from .store import resolve_store_url

            resolve_store_url(self.rate_limit_store)

    def store(self) -> str | None:
        """The store to share the budget through: ``rate_limit_store``, else ``UPBIT_RATE_LIMIT_STORE``."""
        return self.rate_limit_store if self.rate_limit_store is not None else os.environ.get(STORE_ENV)


def whole_number(name: str, value: object, least: int, rule: str | None = None) -> None:
    """``ConfigurationError`` unless ``value`` is a whole number (not a bool) of at least ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigurationError(f"{name} must be {rule or f'a whole number >= {least}'}; given: {value!r}")


def flag(name: str, value: object) -> None:
    """``ConfigurationError`` unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False; given: {value!r}")


def chosen(kind: type[T], given: T | None, keywords: Mapping[str, Any], name: str) -> T:
    """The option value of a call: ``given`` whole, or one made of ``keywords``; ``ConfigurationError`` for both."""
    if given is None:
        return kind(**keywords)
    if keywords:
        raise ConfigurationError(
            f"give {name}={kind.__name__}(...) or its fields as keywords, not both; given {name} and "
            + ", ".join(sorted(keywords))
        )
    if not isinstance(given, kind):
        raise ConfigurationError(f"{name} must be a {kind.__name__}; given: {type(given).__name__}")
    return given


# Nothing reached the exchange: a retry cannot double-apply anything.
_NOT_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The client refused to build or send the request (a URL too long, a header h11 will not write): nothing left
# the machine, and the same request would be refused again.
_UNSENDABLE: tuple[type[Exception], ...] = (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)

# What an order lookup's ``state`` says about a cancel that failed (the states: openapi.yaml's Order).
_STATE_REASONS: dict[str, FailureReason] = {
    "cancel": "already_cancelled",
    "done": "filled",
    **dict.fromkeys(get_args(OpenOrderState), "still_open"),
}

# The operations' names (``upbit_client.registry.OPERATIONS``' keys) in ``RequestRetried`` events.
_CANCEL_NAME = _endpoint.OPERATION.module.rsplit(".", 1)[-1]
_LOOKUP_NAME = _lookup_endpoint.OPERATION.module.rsplit(".", 1)[-1]


# ---------------------------------------------------------------------------------------------
# Input checks (before anything is sent)


# The batch takes any number of ids and chunks them by ``maxItems``; every other rule of the spec holds.
_BATCH_RULES = tuple(evolve(rule, max_items=None) for rule in _endpoint.QUERY_RULES)


def _check_ids(
    uuids: Iterable[str] | None, identifiers: Iterable[str] | None
) -> tuple[IdKind, ParameterRule, list[str]]:
    """The id kind, its spec rule and the ids as given; ``InvalidRequest`` for anything the spec forbids."""
    given: dict[str, object] = {
        kind: list(values) if isinstance(values, Iterable) and not isinstance(values, (str, bytes)) else values
        for kind, values in (("uuids", uuids), ("identifiers", identifiers))
        if values is not None
    }
    check_query(_BATCH_RULES, _endpoint.EXACTLY_ONE_OF, given)
    kind: IdKind = "uuids" if "uuids" in given else "identifiers"
    rule = next(rule for rule in _endpoint.QUERY_RULES if rule.python_name == kind)
    return kind, rule, cast(list[str], given[kind])


def _chunks(ids: list[str], size: int | None) -> list[list[str]]:
    if size is None or size < 1:
        return [ids]
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _lookup_chunk_size(kind: IdKind) -> int | None:
    return next(rule.max_items for rule in _lookup_endpoint.QUERY_RULES if rule.python_name == kind)


# ---------------------------------------------------------------------------------------------
# Reading answers


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _BadShape(Exception):
    """A 200 body that is JSON but not the documented shape at the top."""


def _sec(answer: Answer) -> int | None:
    return answer.remaining.sec if answer.remaining is not None else None


_Named = tuple[str | None, str | None, str | None]
"""An order as a cancel answer names it: (uuid, market, identifier). The batch builds the report's
``OrderRef`` once per order, when it has matched it (``_Batch._match``)."""
_NOBODY: _Named = (None, None, None)


def _ref(item: object) -> _Named | None:
    """An order of a cancel answer, from the generated model or (if the model kept it raw) a JSON object."""
    if isinstance(item, CancelOrdersOrder):
        return _text(item.uuid), _text(item.market), _text(item.identifier)
    if isinstance(item, dict):
        return _text(item.get("uuid")), _text(item.get("market")), _text(item.get("identifier"))
    return None


def _orders(group: object, where: str) -> list[_Named]:
    """The orders of one group; an absent, null or unreadable group names none.

    The generated model keeps a group or a list it could not type-check as plain JSON: the orders
    are still read from it, each by the fields it does carry.
    """
    items: object
    count: object
    if isinstance(group, CancelOrdersGroup):
        items, count = group.orders, group.count
    elif isinstance(group, dict):
        items, count = group.get("orders"), group.get("count")
    else:
        if not isinstance(group, (Unset, type(None))):
            log.debug("%s is not an object; it names no order", where)
        return []
    refs = [ref for ref in map(_ref, items if isinstance(items, list) else []) if ref is not None]
    if isinstance(count, int) and count != len(refs):
        # The orders listed are what counts; ids not listed are looked up anyway.
        log.debug("%s.count is %d but %d orders are listed", where, count, len(refs))
    return refs


def _read_200(answer: Answer) -> tuple[list[_Named], list[_Named]]:
    """(success, failed) of a 200; ``ValueError`` if the body is not JSON, ``_BadShape`` if not an object."""
    if isinstance(answer.parsed, CancelOrdersResult):
        return _orders(answer.parsed.success, "success"), _orders(answer.parsed.failed, "failed")
    reading.load_json(answer.content)  # a body cut off, not JSON or nested too deep raises here: worth asking again
    raise _BadShape(answer.problem or "no result")


# ---------------------------------------------------------------------------------------------
# The batch: state and merge rules shared by the sync and async drivers


_Phase = Literal["queued", "in_flight", "settled"]
"""Where a chunk is: waiting for its (next) try, with a request on its way, or with its outcome final."""

_Reach = Literal["unreached", "reached", "maybe_applied"]
"""What the exchange may have done with a chunk's tries so far: none reached it (each refused before
connecting, or none sent: certainly not applied); each that reached it was answered (what it applied, it
said); or one may have been applied without our hearing it (an answer lost, or a fault of unknown reach)."""


@dataclass(slots=True)
class _Lookup:
    number: int
    ids: list[str]
    tries: int = 0
    last_error: ErrorInfo | None = None
    done: bool = False


@dataclass(slots=True)
class _Chunk(_Lookup):
    phase: _Phase = "queued"
    reach: _Reach = "unreached"
    granted: bool = False
    """A permit was granted for it once (``_Batch.backlog``)."""

    def lost_one(self) -> None:
        """A try may have been applied without our hearing it."""
        self.reach = "maybe_applied"

    def answered(self) -> None:
        """A try reached the exchange and its answer came (an earlier lost one still counts)."""
        if self.reach == "unreached":
            self.reach = "reached"


@dataclass(frozen=True, slots=True)
class _Sent:
    """Never sent, or never reached the exchange: certainly not cancelled by this run."""

    why: str
    error: ErrorInfo | None = None


_Outcome = tuple[Literal["success", "failed"], OrderRef] | ErrorInfo | _Sent


@dataclass(slots=True)
class _Confirm:
    ids: list[str] = field(default_factory=list)
    found: dict[str, Order] = field(default_factory=dict)
    looked_up: set[str] = field(default_factory=set)
    """Ids a trustworthy lookup answer covered (found or not)."""
    errors: dict[str, ErrorInfo] = field(default_factory=dict)


class _Batch:
    def __init__(self, kind: IdKind, ids: list[str], chunk_size: int | None, options: BatchOptions,
                 on_progress: ProgressCallback | None, lookup_limiter: RateLimiter) -> None:  # fmt: skip
        assert options.limiter is not None  # ``_prepare`` resolves it
        self.kind = kind
        self.ids: list[str] = list(dict.fromkeys(ids))
        self.chunks: list[_Chunk] = [_Chunk(n, part) for n, part in enumerate(_chunks(self.ids, chunk_size), 1)]
        self.ungranted: int = len(self.chunks)
        """Chunks no permit was granted for yet (``backlog``)."""
        self.limiter: RateLimiter = options.limiter
        self.lookup_limiter = lookup_limiter
        """Paces the confirm phase's lookups: the limiter of the lookup operation's own rate-limit group."""
        self.lock: threading.RLock = threading.RLock()
        """Held by a driver while it reads or merges the batch's state (the sync drivers run on threads)."""
        self.max_tries: int = options.max_tries
        self.timeout_total: float = options.timeout_total
        self.on_progress = on_progress
        self.started: float = time.monotonic()
        self.report_reserve: float = min(self.timeout_total / 4, len(self.ids) * _REPORT_SECONDS_PER_ID)
        self.outcomes: dict[str, _Outcome] = {}
        self.lost: set[str] = set()
        """Ids of chunks an attempt of which may have been applied without us hearing the answer."""
        self.confirm: _Confirm = _Confirm()
        self.done_ids: int = 0
        self.requests_sent: int = 0
        self.lookups_sent: int = 0
        self.rate_limited: int = 0
        self.retries: int = 0
        self.remaining_req: RemainingReq | None = None
        self.blocked: ErrorInfo | None = None
        self.stopping = False  # set on interruption: nothing more is sent
        self.cancels_out_of_time: bool = False
        """A cancel found no permit before the deadline, so no later one will (``over``)."""
        self.reported = False
        """An interrupted batch handed its report out: answers after that change nothing in it."""
        self.sending_tasks: set[int] = set()
        """Async workers (task ids) with a request in flight: an interruption lets them finish."""
        self.gate: PoolGate | None = None
        """Async: lets one request at a time into the client's connection pool (``pool_gate``); None: no gate."""
        self.events: Emitter = NO_EVENTS
        """Told ``RequestRetried`` and ``LookupConfirmed`` (``events``): the ``connect()`` client's ``on_event``."""

    def time_left(self) -> float:
        """Seconds left to send and hear answers in: ``timeout_total`` less the time the report will take
        to build (``_REPORT_SECONDS_PER_ID`` an id, at most a quarter of the budget), so that the call
        returns within ``timeout_total`` even at a million ids."""
        return self.timeout_total - self.report_reserve - (time.monotonic() - self.started)

    def progress(self) -> None:
        call_progress(self.on_progress, self.done_ids, len(self.ids), log)

    def stop_reason(self, tries: int, last_error: ErrorInfo | None) -> ErrorInfo | None:
        """Why a request must not be sent (again), or None if it may be."""
        if self.blocked is not None:
            return self.blocked
        if tries >= self.max_tries:
            last = last_error or ErrorInfo("max_tries", "no usable answer")
            return ErrorInfo(last.name, f"{last.message} (gave up after {tries} tries)", last.status)
        if self.time_left() <= 0:
            return self.timeout_error(last_error)
        return None

    def timeout_error(self, last_error: ErrorInfo | None) -> ErrorInfo:
        message = f"gave up: timeout_total of {self.timeout_total:g}s reached"
        if last_error is not None:
            message += f"; last error: {last_error.name}: {last_error.message}"
        return ErrorInfo("timeout_total", message, last_error.status if last_error else None)

    def backlog(self, chunk: _Chunk) -> int:
        """Requests this batch still has to send for its cancels, ``chunk``'s included: a limiter may hold the
        last free send of a window back as a probe when more follow (``RateLimiter.try_acquire``)."""
        return self.ungranted + (1 if chunk.granted else 0)

    def granted(self, chunk: _Chunk) -> None:
        """Count ``chunk`` out of the backlog, the moment its first permit comes (before another driver asks)."""
        if not chunk.granted:
            chunk.granted = True
            self.ungranted -= 1

    def sending(self, request: _Lookup) -> None:
        """A chunk's or a lookup's try goes out: counted, and told as ``RequestRetried`` if not the first."""
        request.tries += 1
        operation = _LOOKUP_NAME
        if isinstance(request, _Chunk):
            request.phase, operation = "in_flight", _CANCEL_NAME
            self.retries += request.tries > 1
        else:
            self.lookups_sent += 1
        if request.tries > 1:
            last = None if request.last_error is None else request.last_error.name
            self.events.emit(RequestRetried(operation, request.tries, len(request.ids), last))

    def finish(self, chunk: _Chunk, outcomes: dict[str, _Outcome]) -> None:
        if chunk.phase == "settled":
            return
        chunk.phase = "settled"
        if chunk.reach == "maybe_applied":
            self.lost.update(chunk.ids)
        for order_id in chunk.ids:
            self.outcomes.setdefault(order_id, outcomes[order_id])
        self.done_ids += len(chunk.ids)
        self.progress()

    def key_blocked(self, chunk: _Chunk, exc: KeyBlocked) -> None:
        """A 418 met earlier (by this batch or another of the process) still blocks the key: send nothing."""
        if self.blocked is None:
            self.blocked = ErrorInfo("blocked", str(exc), 418)
        self.give_up(chunk, self.blocked)

    def give_up(self, chunk: _Chunk, error: ErrorInfo) -> None:
        if chunk.tries == 0 or chunk.reach == "unreached":
            # Never sent (a 418 or timeout_total before its turn), or every try was refused before the
            # connection was made: certainly not cancelled.
            log.debug("chunk %d/%d not sent: %s", chunk.number, len(self.chunks), error.name)
            self.finish(chunk, dict.fromkeys(chunk.ids, _Sent(f"{error.name}: {error.message}", error)))
            return
        log.debug("chunk %d/%d unconfirmed: %s", chunk.number, len(self.chunks), error.name)
        self.finish(chunk, dict.fromkeys(chunk.ids, error))

    def rejected(self, chunk: _Chunk, error: ErrorInfo) -> None:
        """The exchange refused the whole request (400, 401, 403, 404): nothing of it was applied."""
        if chunk.reach == "maybe_applied":
            # An earlier attempt's answer was lost: that one may have been applied.
            self.give_up(chunk, error)
            return
        log.debug("chunk %d/%d rejected: %s", chunk.number, len(self.chunks), error.name)
        named = functools.partial(self._named, _NOBODY, reason="rejected", error=error)
        self.finish(chunk, {order_id: ("failed", named(order_id)) for order_id in chunk.ids})

    def unsendable(self, chunk: _Chunk, exc: Exception) -> None:
        """The client refused to build or send the request: nothing left the machine (and never will)."""
        detail = _describe(exc)
        error = ErrorInfo("request_not_sendable", f"the client could not send the request: {detail}")
        log.debug("chunk %d/%d cannot be sent: %s", chunk.number, len(self.chunks), detail)
        self.give_up(chunk, error)

    def handle(self, chunk: _Chunk, permit: Permit, outcome: Outcome) -> bool:
        """Merge one attempt's outcome; True if the chunk is to be sent again."""
        chunk.phase = "queued"
        feed(self.limiter, permit, outcome)
        # Counted once known to have left the machine: an answer, or a network failure after connecting
        # (a refused connection, or a fault raised before the transport, such as a signing error, sent nothing).
        if not isinstance(outcome, Exception) or (
            isinstance(outcome, httpx.TransportError) and not isinstance(outcome, (*_NOT_SENT, *_UNSENDABLE))
        ):
            self.requests_sent += 1
        if isinstance(outcome, Exception):
            return self._not_answered(chunk, outcome)
        chunk.answered()
        self._note(outcome)
        if outcome.status == 200:
            return self._merge_200(chunk, outcome)
        self._tried(chunk, "HTTP %d, remaining=%s", outcome.status, _sec(outcome))
        return self._refused_or_lost(chunk, outcome.status, outcome.error_info())

    def _not_answered(self, chunk: _Chunk, outcome: Exception) -> bool:
        """A try that brought no answer; True if the chunk is to be sent again."""
        detail = _describe(outcome)
        if isinstance(outcome, _UNSENDABLE):
            self.unsendable(chunk, outcome)
            return False
        if not isinstance(outcome, httpx.TransportError):
            # Not a network failure but a fault in the client set-up (a custom transport, a
            # hook): retrying would fail the same way, and whether it was sent is unknown.
            log.warning("chunk %d/%d: request failed", chunk.number, len(self.chunks), exc_info=outcome)
            chunk.lost_one()
            self.give_up(chunk, ErrorInfo("client_error", detail))
            return False
        if not isinstance(outcome, _NOT_SENT):
            chunk.lost_one()
        chunk.last_error = ErrorInfo("transport_error", detail)
        self._tried(chunk, "%s", detail)
        return True

    def _refused_or_lost(self, chunk: _Chunk, status: int, error: ErrorInfo) -> bool:
        """An answer other than 200; True if the chunk is to be sent again."""
        if status == 429:
            chunk.last_error = error
            return True
        if status == 418:
            # The limiter (``answers.feed``) blocks the pocket: every batch of the process stops until it ends.
            self._block(error)
            self.give_up(chunk, error)
            return False
        if status >= 500:
            chunk.lost_one()
            chunk.last_error = error
            return True
        if 400 <= status < 500:
            self.rejected(chunk, error)
            return False
        # Any other status (a redirect not followed, a 2xx other than 200): whether it was applied is unknown.
        self.give_up(chunk, error)
        return False

    def _note(self, answer: Answer) -> None:
        if answer.remaining is not None:
            self.remaining_req = answer.remaining
        if answer.status == 429:
            self.rate_limited += 1

    def _block(self, error: ErrorInfo) -> None:
        if self.blocked is None:
            log.warning("HTTP 418 %s: no more requests are sent in this batch", error.name)
            self.blocked = error

    def _tried(self, chunk: _Chunk, what: str, *args: object) -> None:
        log.debug("chunk %d/%d try %d: " + what, chunk.number, len(self.chunks), chunk.tries, *args)

    def _merge_200(self, chunk: _Chunk, answer: Answer) -> bool:
        try:
            success, failed = _read_200(answer)
        except _BadShape as exc:
            self._tried(chunk, "HTTP 200 of the wrong shape: %s", exc)
            chunk.lost_one()
            self.give_up(chunk, ErrorInfo("invalid_response", f"HTTP 200 body not as documented: {exc}", 200))
            return False
        except ValueError as exc:
            # Cut off or not JSON: the exchange may have processed the request; ask again.
            chunk.lost_one()
            chunk.last_error = ErrorInfo("invalid_response", f"unreadable HTTP 200 body: {exc}", 200)
            self._tried(chunk, "unreadable HTTP 200 body")
            return True
        self._tried(chunk, "HTTP 200, success=%d failed=%d, remaining=%s", len(success), len(failed), _sec(answer))
        self.finish(chunk, self._match(chunk, success, failed))
        return False

    def _key(self, uuid: str | None, identifier: str | None) -> str | None:
        return uuid if self.kind == "uuids" else identifier

    def _named(self, order: _Named, order_id: str, **fields: Any) -> OrderRef:
        """The report's ``OrderRef`` of an order an answer named, keyed by the id sent, with ``fields``."""
        uuid, market, identifier = order
        if self.kind == "uuids":
            return OrderRef(order_id, market, identifier, **fields)
        return OrderRef(uuid, market, order_id, **fields)

    def _match(self, chunk: _Chunk, success: list[_Named], failed: list[_Named]) -> dict[str, _Outcome]:
        sent = set(chunk.ids)
        found: dict[str, dict[str, _Named]] = {}
        for group, orders in (("success", success), ("failed", failed)):
            for order in orders:
                order_id = self._key(order[0], order[2])
                if order_id is not None and order_id in sent:
                    found.setdefault(order_id, {}).setdefault(group, order)
                else:
                    log.debug("chunk %d: answer names an order that was not asked for; ignored", chunk.number)
        outcomes: dict[str, _Outcome] = {}
        for order_id in chunk.ids:
            named = found.get(order_id, {})
            if "success" in named:
                # The exchange said it cancelled it: nothing else it says downgrades that.
                outcomes[order_id] = ("success", self._named(named["success"], order_id, confirmed_by="answer"))
            elif "failed" in named:
                outcomes[order_id] = ("failed", self._named(named["failed"], order_id))
            else:
                # Whether the exchange acted on it is unknown: the confirm phase treats it like a lost answer.
                self.lost.add(order_id)
                outcomes[order_id] = ErrorInfo("missing_from_answer", "the exchange's answer did not mention it", 200)
        return outcomes

    # --- confirm phase ----------------------------------------------------------------------

    def _needs_lookup(self, order_id: str) -> bool:
        """Reported failed (why?), or unconfirmed after an attempt the exchange may have applied unheard.

        Ids the exchange refused with an error status (400/401/403/404) are ``rejected``: nothing was
        applied, and the same keys would be refused again. Ids only ever met with connect errors were
        never delivered (``not_sent``), so a lookup could not tell more either.
        """
        outcome = self.outcomes.get(order_id)
        if isinstance(outcome, tuple):
            return outcome[0] == "failed" and outcome[1].reason != "rejected"
        return isinstance(outcome, ErrorInfo) and order_id in self.lost

    def lookups(self) -> list[_Lookup]:
        """The lookups the confirm phase needs: every id unconfirmed or reported failed, in order given."""
        if self.blocked is not None:
            return []
        needed = [order_id for order_id in self.ids if self._needs_lookup(order_id)]
        self.confirm.ids = needed
        return [_Lookup(number, part) for number, part in enumerate(_chunks(needed, _lookup_chunk_size(self.kind)), 1)]

    def handle_lookup(self, lookup: _Lookup, permit: Permit, outcome: Outcome) -> bool:
        """Merge one lookup attempt; True if it is to be sent again."""
        feed(self.lookup_limiter, permit, outcome)
        if isinstance(outcome, Exception):
            lookup.last_error = ErrorInfo("lookup_failed", f"order lookup failed: {_describe(outcome)}")
            return isinstance(outcome, httpx.TransportError)
        self._note(outcome)
        if outcome.status == 200 and isinstance(outcome.parsed, list):
            self._merge_lookup(lookup, outcome.parsed)
            return False
        if outcome.status == 200:
            lookup.last_error = ErrorInfo(
                "lookup_failed", f"order lookup answer not as documented: {outcome.problem or 'no result'}", 200
            )
            return False
        error = outcome.error_info()
        lookup.last_error = ErrorInfo(error.name, f"order lookup: {error.message}", error.status)
        if outcome.status == 418:
            # A block of the pocket (every group, ``answers.feed``), as on the cancel path.
            self._block(error)
            return False
        return outcome.status == 429 or outcome.status >= 500

    def _merge_lookup(self, lookup: _Lookup, orders: list[Any]) -> None:
        asked = set(lookup.ids)
        matchable = True
        for order in orders:
            if not isinstance(order, Order):
                matchable = False
                continue
            order_id = self._key(_text(order.uuid), _text(order.identifier))
            if order_id is None:
                matchable = False
            elif order_id in asked:
                self.confirm.found[order_id] = order
        for order_id in lookup.ids:
            if order_id in self.confirm.found or matchable:
                self.confirm.looked_up.add(order_id)
            else:
                self.confirm.errors[order_id] = ErrorInfo(
                    "lookup_unmatched", "the order lookup listed orders it could not be matched to", 200
                )
        lookup.done = True
        self._lost_settled(lookup)

    def _lost_settled(self, lookup: _Lookup) -> None:
        """Tell ``LookupConfirmed`` for the ids of ``lookup`` whose cancel answer was lost and that it settled."""
        settled = tuple(
            order_id for order_id in lookup.ids if order_id in self.lost and order_id in self.confirm.looked_up
        )
        if settled:
            found = self.confirm.found
            cancelled = tuple(i for i in settled if i in found and _text(found[i].state) == "cancel")
            self.events.emit(LookupConfirmed(settled, cancelled))

    def lookup_failed(self, lookup: _Lookup, error: ErrorInfo) -> None:
        lookup.done = True
        for order_id in lookup.ids:
            self.confirm.errors[order_id] = error

    def _unlooked(self, order_id: str, before: _Outcome) -> _Outcome:
        """The outcome of an id no lookup settled (``confirm=False``, or the lookup got no usable answer)."""
        error = self.confirm.errors.get(order_id)
        if isinstance(before, tuple) and before[0] == "failed" and order_id in self.lost:
            # The retry's "failed" may be the echo of the lost attempt that did cancel it.
            lost = "an earlier attempt's answer was lost"
            detail = f"; {error.message}" if error is not None else ""
            return ErrorInfo(
                "failed_after_lost_answer",
                f"reported failed on a retry after {lost}: that attempt may have cancelled it{detail}",
                200,
            )
        if isinstance(before, ErrorInfo) and error is not None:
            return ErrorInfo(before.name, f"{before.message}; {error.message}", before.status)
        return before

    def _confirmed(self, order_id: str, before: _Outcome) -> _Outcome:
        """The final outcome of an id after the confirm phase (or without it)."""
        if order_id not in self.confirm.looked_up:
            return self._unlooked(order_id, before)
        order = self.confirm.found.get(order_id)
        prior = before[1] if isinstance(before, tuple) else None
        if order is None:
            return ("failed", self._from_lookup(order_id, None, prior, reason="not_found"))
        state = _text(order.state)
        if state == "cancel" and order_id in self.lost:
            return (
                "success",
                self._from_lookup(order_id, order, prior, confirmed_by="lookup", state=_order_state(state)),
            )
        reason = _STATE_REASONS.get(state or "")
        if reason is None:
            if isinstance(before, ErrorInfo):
                return ErrorInfo(before.name, f"{before.message}; order lookup: unknown state {state!r}", before.status)
            reason = "unknown"
        return ("failed", self._from_lookup(order_id, order, prior, reason=reason, state=_order_state(state)))

    def _from_lookup(self, order_id: str, order: Order | None, prior: OrderRef | None, **fields: Any) -> OrderRef:
        """The ``OrderRef`` of an id the lookup settled: each field as the lookup shows it, else as the answer did."""

        def known(name: str) -> str | None:
            return _text(getattr(order, name, None)) or (getattr(prior, name) if prior else None)

        return self._named((known("uuid"), known("market"), known("identifier")), order_id, **fields)

    # --- the report ---------------------------------------------------------------------------

    def _unfinished(self, chunk: _Chunk, interrupted: bool) -> _Outcome:
        """The outcome of a chunk the batch stopped before it settled: interrupted, or never started because
        nothing more could be sent (``over``: the deadline or a 418; its flow would have said the same)."""
        if not interrupted and chunk.tries == 0:
            reason = self.blocked or self.timeout_error(None)
            return _Sent(f"{reason.name}: {reason.message}", reason)
        if chunk.phase == "in_flight":
            return ErrorInfo("interrupted", "interrupted while the request was in flight: it may have been cancelled")
        if chunk.reach == "maybe_applied":
            return ErrorInfo(
                "interrupted",
                "interrupted before a retry; an earlier attempt's answer was lost: it may have been cancelled",
            )
        if chunk.tries == 0:
            return _Sent("interrupted before it was sent")
        # Sent, but every answer was a refusal (429): the exchange applied none of them.
        return _Sent("interrupted before the exchange accepted it")

    def over(self) -> bool:
        """Nothing more is to be started: interrupted, blocked (418), past ``timeout_total``, or a cancel found
        no permit before it (``cancels_out_of_time``). The drivers then leave the flows not yet started alone
        (``result`` reports their ids ``not_sent``): at a million ids, walking each of tens of thousands of
        chunks through its flow to give it up costs seconds past the deadline."""
        return self.stopping or self.blocked is not None or self.cancels_out_of_time or self.time_left() <= 0

    def close_cancels(self) -> None:
        """After the cancels ran to their end: chunks never started count as done (``not_sent``) in the progress."""
        self.cancels_out_of_time = False  # the lookups have a limiter (a rate-limit group) of their own
        unstarted = sum(len(chunk.ids) for chunk in self.chunks if chunk.phase != "settled")
        if unstarted:
            self.done_ids += unstarted
            self.progress()

    def close_lookups(self, lookups: Sequence[_Lookup]) -> None:
        """After the lookups ran to their end: those never started fail as their flow would have said."""
        for lookup in lookups:
            reason = None if lookup.done else self.stop_reason(lookup.tries, lookup.last_error)
            if reason is not None:
                self.lookup_failed(lookup, ErrorInfo(reason.name, f"order lookup: {reason.message}", reason.status))

    def result(self, *, interrupted: bool = False) -> BatchResult:
        """The report: every distinct id exactly once, in the order given (chunks are consecutive slices)."""
        result = BatchResult(
            id_kind=self.kind,
            requests_sent=self.requests_sent,
            lookups_sent=self.lookups_sent,
            rate_limited=self.rate_limited,
            retries=self.retries,
            elapsed=time.monotonic() - self.started,
            remaining_req=self.remaining_req,
            blocked=self.blocked,
            interrupted=interrupted,
        )
        confirming = set(self.confirm.ids)
        for chunk in self.chunks:
            pending = None if chunk.phase == "settled" else self._unfinished(chunk, interrupted)
            if isinstance(pending, _Sent) and chunk.tries == 0:
                # Never sent: no lookup concerns it (the common case at scale, kept cheap).
                result.not_sent.extend(
                    NotSentOrder(order_id, self.kind, pending.why, pending.error) for order_id in chunk.ids
                )
                continue
            for order_id in chunk.ids:
                outcome = self.outcomes[order_id] if pending is None else pending
                if order_id in confirming or order_id in self.lost:
                    outcome = self._confirmed(order_id, outcome)
                self._file(result, order_id, outcome)
        return result

    def _file(self, result: BatchResult, order_id: str, outcome: _Outcome) -> None:
        """Put one id's final outcome in its place in ``result``."""
        if isinstance(outcome, _Sent):
            result.not_sent.append(NotSentOrder(order_id, self.kind, outcome.why, outcome.error))
        elif isinstance(outcome, ErrorInfo):
            result.unconfirmed.append(UnconfirmedOrder(order_id, self.kind, outcome))
        elif outcome[0] == "success":
            result.success.append(outcome[1])  # named ``confirmed_by`` the answer or the lookup
        else:
            ref = outcome[1]
            result.failed.append(ref if ref.reason is not None else replace(ref, reason="unknown"))


# ---------------------------------------------------------------------------------------------
# The requests of a chunk and of a lookup, as flows without I/O (``drivers``). An answer that comes once the
# report was handed out (``_Batch.reported``) is still fed to the limiter (a 418 still blocks the pocket) but
# changes nothing in the report.


def _id_args(kind: IdKind, ids: list[str]) -> dict[str, Any]:
    return {"uuids": ids if kind == "uuids" else UNSET, "identifiers": ids if kind == "identifiers" else UNSET}


def _enter(batch: _Batch, limiter: RateLimiter, permit: Permit) -> Generator[Step, Any, Turn | None]:
    """The pool's turn of a request with ``permit``: at once without a gate (``_Batch.gate``)."""
    if batch.gate is None:
        return NO_GATE
    turn: Turn | None = yield Enter(batch.gate, limiter, permit, batch.time_left())
    return turn


def cancel_flow(batch: _Batch, chunk: _Chunk) -> Flow:
    """Send one chunk until it settles: a permit, the pool's turn, the request, the merge; again if asked."""
    limiter = batch.limiter
    while not batch.stopping:
        reason = batch.stop_reason(chunk.tries, chunk.last_error)
        if reason is not None:
            batch.give_up(chunk, reason)
            return
        permit = yield Acquire(limiter, batch.time_left(), functools.partial(batch.backlog, chunk))
        if batch.stopping:
            _give_back(limiter, permit, NO_GATE)
            return
        if not isinstance(permit, Permit):
            _not_granted(batch, chunk, permit)
            return
        batch.granted(chunk)
        turn = yield from _enter(batch, limiter, permit)
        if turn is None:
            batch.give_up(chunk, batch.timeout_error(chunk.last_error))
            return
        if batch.stopping or batch.blocked is not None:
            # Interrupted, or another request met a 418, while this one waited: nothing is sent.
            _give_back(limiter, permit, turn)
            if not batch.stopping and batch.blocked is not None:
                batch.give_up(chunk, batch.blocked)
            return
        batch.sending(chunk)
        outcome = yield Send(limiter, permit, _endpoint, _id_args(batch.kind, chunk.ids), batch.time_left(), turn)
        if batch.reported or not batch.handle(chunk, permit, outcome):
            _late(batch, limiter, permit, outcome)
            return


def _not_granted(batch: _Batch, chunk: _Chunk, refusal: KeyBlocked | None) -> None:
    if isinstance(refusal, KeyBlocked):
        batch.key_blocked(chunk, refusal)
    else:
        batch.cancels_out_of_time = True
        batch.give_up(chunk, batch.timeout_error(chunk.last_error))


def _give_back(limiter: RateLimiter, permit: object, turn: Turn) -> None:
    """Nothing was sent with ``permit``: its budget goes back, and the pool's turn to the next request."""
    turn.release()
    if isinstance(permit, Permit):
        limiter.cancel(permit)


def _late(batch: _Batch, limiter: RateLimiter, permit: Permit, outcome: Any) -> None:
    """An outcome after the report was handed out: the limiter still learns from it, the report does not."""
    if batch.reported:
        feed(limiter, permit, outcome)


def lookup_flow(batch: _Batch, lookup: _Lookup) -> Flow:
    """Send one order lookup until it settles (the confirm phase), paced in the lookup's own group."""
    limiter = batch.lookup_limiter
    while not batch.stopping:
        reason = batch.stop_reason(lookup.tries, lookup.last_error)
        if reason is not None:
            batch.lookup_failed(lookup, ErrorInfo(reason.name, f"order lookup: {reason.message}", reason.status))
            return
        permit = yield Acquire(limiter, batch.time_left())
        turn: Turn | None = NO_GATE
        if isinstance(permit, Permit) and not batch.stopping:
            turn = yield from _enter(batch, limiter, permit)
            permit = permit if turn is not None else None  # no turn in time: the permit was given back
        if _lookup_stopped(batch, lookup, permit):
            _give_back(limiter, permit, turn or NO_GATE)
            return
        assert isinstance(permit, Permit) and turn is not None
        batch.sending(lookup)
        args = _id_args(batch.kind, lookup.ids)
        outcome = yield Send(limiter, permit, _lookup_endpoint, args, batch.time_left(), turn)
        if batch.reported:
            _late(batch, limiter, permit, outcome)
            return
        if not batch.handle_lookup(lookup, permit, outcome):
            if not lookup.done:
                batch.lookup_failed(lookup, lookup.last_error or ErrorInfo("lookup_failed", "no usable answer"))
            return


def _lookup_stopped(batch: _Batch, lookup: _Lookup, permit: Permit | KeyBlocked | None) -> bool:
    """True if ``lookup`` is not to be sent; settles it if the key is blocked or time is up."""
    if batch.stopping:
        return True
    if isinstance(permit, KeyBlocked):
        batch.lookup_failed(lookup, ErrorInfo("blocked", f"order lookup: {permit}", 418))
        return True
    if permit is None:
        batch.lookup_failed(lookup, batch.timeout_error(lookup.last_error))
        return True
    # Another request met a 418 while this one waited: nothing more is sent (the ids keep what they had).
    return batch.blocked is not None


def limiter_of(http: httpx.Client | httpx.AsyncClient, rate_limit: RateLimit | None, store: str | None) -> RateLimiter:
    """The limiter that paces ``http``'s requests of one rate-limit group: the process-wide one of the
    client's pocket (``UpbitAuth.pocket``, else its access key) for that group, sharing ``store``. The
    batch paces its own requests whatever the client's transport (none paces inside ``reading.bounded``).
    A client signed some other way still gets a limiter, shared by all such clients."""
    auth = http.auth
    if isinstance(auth, UpbitAuth):
        return limiter_for(auth.access_key, rate_limit, store=store, pocket=auth.pocket)
    return limiter_for("", rate_limit, store=store, pocket=None)


def _prepare(
    http: httpx.Client | httpx.AsyncClient, uuids: Sequence[str] | None, identifiers: Sequence[str] | None,
    options: BatchOptions, on_progress: ProgressCallback | None,
) -> _Batch:  # fmt: skip
    """The batch of a call, its ids checked and its limiters chosen: nothing is sent yet."""
    kind, rule, ids = _check_ids(uuids, identifiers)
    limiter = options.limiter or limiter_of(http, _endpoint.OPERATION.rate_limit, options.store())  # the registry row
    lookup_rate = _lookup_endpoint.OPERATION.rate_limit
    lookup_limiter = limiter
    if limiter.group != ("" if lookup_rate is None else lookup_rate.group):
        # Lookups are paced in their own group's budget (the registry row); a limiter given for the
        # cancels paces the lookups too only when both operations are in its group.
        lookup_limiter = limiter_of(http, lookup_rate, options.store())
    batch = _Batch(kind, ids, rule.max_items, replace(options, limiter=limiter), on_progress, lookup_limiter)
    from .transport import events_of  # with httpcore: loaded by the first client, not at import

    batch.events = events_of(http)
    log.debug(
        "cancelling %d distinct %s in %d chunks (group %r)", len(batch.ids), kind, len(batch.chunks), limiter.group
    )
    batch.progress()
    return batch


def hand_over(sink: Callable[[T], object] | None, report: T) -> T:
    """Give ``report`` to ``sink`` (a ``ReportSink``, or ``PocketsSink`` for a sweep over pockets) and return
    it; a failing sink costs nothing else."""
    if sink is not None:
        try:
            sink(report)
        except Exception:
            log.warning("report_to callback raised; ignored", exc_info=True)
    return report


def _log_result(result: BatchResult) -> BatchResult:
    log.debug(
        "batch done: success=%d failed=%d unconfirmed=%d not_sent=%d requests=%d lookups=%d 429s=%d retries=%d "
        "in %.3fs",
        *group_sizes(result),
        result.requests_sent,
        result.lookups_sent,
        result.rate_limited,
        result.retries,
        result.elapsed,
    )
    return result


def cancel_orders(
    client: AnyClient,
    *,
    uuids: Sequence[str] | None = None,
    identifiers: Sequence[str] | None = None,
    options: BatchOptions | None = None,
    on_progress: ProgressCallback | None = None,
    **keywords: Unpack[BatchKeywords],
) -> BatchResult:
    """Cancel every order named by ``uuids`` or by ``identifiers`` (exactly one), as many chunks at once as
    the budget allows; ``options`` (or its fields as keywords) says how (``BatchOptions``).

    Raises ``InvalidRequest`` (bad ids) or ``ConfigurationError`` (bad options) before sending anything.
    Returns within ``timeout_total`` (plus about a second) whatever the server does: ids without a
    trustworthy answer are unconfirmed, ids never sent ``not_sent``. ``on_progress(done_ids, total_ids)``
    is called as chunks settle, always in the calling thread. Requests go out on up to ``max_in_flight``
    daemon threads (``upbit-cancel-N``; 1: the calling thread), none left once the call returns.

    Ctrl-C raises ``BatchInterrupted``, a ``KeyboardInterrupt`` whose ``.report`` is the partial report
    (requests in flight unconfirmed, ids not yet sent ``not_sent``); nothing more is sent.
    """
    options = chosen(BatchOptions, options, keywords, "options")
    batch = _prepare(client.get_httpx_client(), uuids, identifiers, options, on_progress)
    width = _width(batch, options.max_in_flight)
    relay = _relay(batch) if width > 1 else None
    try:
        for flows in _rounds(batch, options.confirm):
            run_sync(batch, client, flows, relay, width)
        if relay is not None:
            relay.deliver()
    except BaseException as exc:
        with batch.lock:
            # Workers still running see this and send nothing more; answers still coming change nothing.
            batch.stopping = batch.reported = True
            if isinstance(exc, KeyboardInterrupt):
                raise BatchInterrupted(_log_result(batch.result(interrupted=True))) from exc
        raise  # anything else (SystemExit, a bug) as it is
    return _log_result(batch.result())


def _rounds(batch: _Batch, confirm: bool) -> Iterator[list[Flow]]:
    """The flows the drivers run, round after round: every chunk's cancels, then the lookups they call for
    (``_Batch.lookups``); after each round, what was never started is settled as its flow would have said."""
    yield [cancel_flow(batch, chunk) for chunk in batch.chunks]
    batch.close_cancels()
    if confirm and not batch.stopping:
        lookups = batch.lookups()
        yield [lookup_flow(batch, lookup) for lookup in lookups]
        batch.close_lookups(lookups)


def _relay(batch: _Batch) -> ProgressRelay:
    """Workers note progress; the calling thread calls the user's callback (``workers``). Never put back:
    a worker finishing after an interruption must not call it from its own thread."""
    relay = ProgressRelay(batch.on_progress)
    if batch.on_progress is not None:  # without a callback, no worker wakes the calling thread per chunk
        batch.on_progress = relay.note
    return relay


def _width(batch: _Batch, max_in_flight: int | None) -> int:
    """Requests in flight at most: ``max_in_flight``, else the group's ``per_second`` from the spec."""
    return max_in_flight or batch.limiter.per_second or _IN_FLIGHT_WITHOUT_RATE_LIMIT


async def cancel_orders_async(
    client: AnyClient,
    *,
    uuids: Sequence[str] | None = None,
    identifiers: Sequence[str] | None = None,
    options: BatchOptions | None = None,
    on_progress: ProgressCallback | None = None,
    report_to: ReportSink | None = None,
    **keywords: Unpack[BatchKeywords],
) -> BatchResult:
    """``cancel_orders`` on any event loop anyio supports (asyncio, trio), through the client's one
    ``httpx.AsyncClient``, as many chunks in flight as the budget allows.

    Cancelled, it stops sending, waits for the answers in flight (up to the client's read timeout, within
    ``timeout_total``), hands the partial report to ``report_to`` (if given; else called once with the final
    report) and lets the cancellation go on: under asyncio as ``BatchCancelled`` (a ``CancelledError`` whose
    ``.report`` is the report), under trio as trio's own ``Cancelled`` (``report_to`` is the way there).
    """
    import anyio  # here, not at the top: the sync batch's import path loads neither anyio nor asyncio

    options = chosen(BatchOptions, options, keywords, "options")
    batch = _prepare(client.get_async_httpx_client(), uuids, identifiers, options, on_progress)
    width = _width(batch, options.max_in_flight)
    http = client.get_async_httpx_client()
    if reading.install(http) and width > 1:
        # Every transport tells when a request is on the wire: the gate can let the next one in then.
        batch.gate = PoolGate()
    try:
        for flows in _rounds(batch, options.confirm):
            await run_async(batch, client, flows, width)
    except anyio.get_cancelled_exc_class() as exc:
        batch.stopping = batch.reported = True
        go_on(exc, hand_over(report_to, _log_result(batch.result(interrupted=True))))
    return hand_over(report_to, _log_result(batch.result()))


def go_on(exc: BaseException, report: BatchResult) -> NoReturn:
    """Let a cancellation go on, its report handed out (``report_to``): as ``BatchCancelled`` carrying
    ``report`` under asyncio, as trio's own ``Cancelled`` under trio (as trio requires)."""
    if is_asyncio_cancellation(exc):
        from .cancelled import BatchCancelled

        raise BatchCancelled(report) from exc
    raise exc

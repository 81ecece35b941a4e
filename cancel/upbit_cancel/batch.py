"""Cancel any number of orders with the Order List Cancel endpoint, sync or async.

The ids are checked against the spec before anything is sent, split into chunks of the spec's
``maxItems``, each chunk sent with the generated ``cancel_orders_by_ids`` call, paced by the shared
per-key limiter of ``ratelimit``, and the answers merged into one ``BatchResult`` in which every
distinct id lands exactly once in success, failed or unconfirmed. Nothing is raised once sending
has begun: the result is the report.

Retry rules, chosen so that an id can neither be lost nor be reported wrongly:

- connect errors (nothing reached the exchange): retried as if never sent;
- a lost answer (read timeout, reset, protocol error, 5xx, unreadable 200): the chunk may have been
  processed, so it is retried, but an id the retry reports ``failed`` becomes unconfirmed (the lost
  attempt may have cancelled it);
- 429: retried after the next second boundary (a fresh nonce comes from the auth flow);
- 418: nothing more is sent; the chunk and every unsent id are unconfirmed and ``blocked`` is set;
- any other error status (401/403 auth errors, 400, 404): not retried, the chunk is unconfirmed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import httpx
from attrs import evolve

from upbit_auth import UpbitAuth
from upbit_client import AuthenticatedClient, Client
from upbit_client.api.order import cancel_orders_by_ids as _endpoint
from upbit_client.errors import InvalidResponse, UnexpectedStatus
from upbit_client.models import CancelOrdersGroup, CancelOrdersResult
from upbit_client.types import UNSET, ParameterRule, Response, Unset, check_query

from .errors import UpbitAPIError, error_from_response
from .ratelimit import KeyBlocked, Permit, RateLimiter, block_seconds, limiter_for
from .remaining_req import RemainingReq, parse_date_header, parse_remaining_req
from .results import BatchResult, ErrorInfo, IdKind, OrderRef, UnconfirmedOrder
from .store import STORE_ENV

__all__ = ["ProgressCallback", "cancel_orders", "cancel_orders_async"]

log = logging.getLogger("upbit_cancel.batch")

ProgressCallback = Callable[[int, int], None]

DEFAULT_MAX_TRIES = 5
# Only used when the spec names no rate limit for the endpoint, to keep the fan-out finite.
_IN_FLIGHT_WITHOUT_RATE_LIMIT = 4

# Nothing reached the exchange: a retry cannot double-apply anything.
_NOT_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

AnyClient = Client | AuthenticatedClient


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


# ---------------------------------------------------------------------------------------------
# Reading answers


@dataclass(frozen=True, slots=True)
class _Answer:
    """What came back for one request, whichever way the generated call delivered it."""

    status: int
    content: bytes
    remaining: RemainingReq | None
    parsed: object = None
    """The generated client's model of the body, or None when it could not read it."""
    problem: str | None = None
    """Why the generated client could not read a documented answer (``InvalidResponse``)."""
    date: float | None = None
    """The exchange's ``Date`` header in epoch seconds, which tells the limiter where its second starts."""


class _BadShape(Exception):
    """A 200 body that is JSON but not the documented shape."""


def _error_body(content: bytes) -> tuple[str | None, str | None]:
    try:
        body = json.loads(content)
        error = body["error"]
        name, message = error.get("name"), error.get("message")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None
    return (name if isinstance(name, str) else None), (message if isinstance(message, str) else None)


def _error_info(error: UpbitAPIError) -> ErrorInfo:
    message = f"{error.message} ({error.hint})" if error.hint else error.message
    return ErrorInfo(error.name, message, error.status)


def _api_error(answer: _Answer) -> ErrorInfo:
    name, message = _error_body(answer.content)
    return _error_info(error_from_response(answer.status, name, message))


def _orders(group: CancelOrdersGroup, where: str) -> list[OrderRef]:
    refs = [
        OrderRef(order.uuid, order.market, None if isinstance(order.identifier, Unset) else order.identifier)
        for order in group.orders
    ]
    if group.count != len(refs):
        # The orders listed are what counts; ids not listed end unconfirmed anyway.
        log.warning("%s.count is %d but %d orders are listed", where, group.count, len(refs))
    return refs


def _read_200(answer: _Answer) -> tuple[list[OrderRef], list[OrderRef]]:
    """(success, failed) of a 200; ``ValueError`` if the body is not JSON, ``_BadShape`` if not the documented shape.

    The generated client already parsed and type-checked the body against the spec's models.
    """
    if isinstance(answer.parsed, CancelOrdersResult):
        return _orders(answer.parsed.success, "success"), _orders(answer.parsed.failed, "failed")
    json.loads(answer.content)  # a body cut off or not JSON at all raises here, and is worth asking again
    raise _BadShape(answer.problem or "no result")


# ---------------------------------------------------------------------------------------------
# The batch: state and merge rules shared by the sync and async drivers


@dataclass(slots=True)
class _Chunk:
    number: int
    ids: list[str]
    tries: int = 0
    maybe_processed: bool = False
    """An earlier attempt's answer was lost: the exchange may have applied it."""
    last_error: ErrorInfo | None = None
    done: bool = False


_Outcome = tuple[Literal["success", "failed"], OrderRef] | ErrorInfo


class _Batch:
    def __init__(
        self,
        kind: IdKind,
        ids: list[str],
        chunk_size: int | None,
        limiter: RateLimiter,
        *,
        max_tries: int,
        timeout_total: float,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.kind = kind
        self.ids = list(dict.fromkeys(ids))
        self.chunks = [_Chunk(number, part) for number, part in enumerate(_chunks(self.ids, chunk_size), 1)]
        self.limiter = limiter
        self.max_tries = max(1, max_tries)
        self.timeout_total = timeout_total
        self.on_progress = on_progress
        self.started = time.monotonic()
        self.outcomes: dict[str, _Outcome] = {}
        self.done_ids = 0
        self.requests_sent = 0
        self.rate_limited = 0
        self.retries = 0
        self.remaining_req: RemainingReq | None = None
        self.blocked: ErrorInfo | None = None

    def time_left(self) -> float:
        return self.timeout_total - (time.monotonic() - self.started)

    def progress(self) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(self.done_ids, len(self.ids))
        except Exception:
            # A broken progress display must not cost the report of orders already cancelled.
            log.warning("on_progress callback raised; ignored", exc_info=True)

    def stop_reason(self, chunk: _Chunk) -> ErrorInfo | None:
        """Why ``chunk`` must not be sent (again), or None if it may be."""
        if self.blocked is not None:
            return self.blocked
        if chunk.tries >= self.max_tries:
            last = chunk.last_error or ErrorInfo("max_tries", "no usable answer")
            return ErrorInfo(last.name, f"{last.message} (gave up after {chunk.tries} tries)", last.status)
        if self.time_left() <= 0:
            return self.timeout_error(chunk)
        return None

    def timeout_error(self, chunk: _Chunk) -> ErrorInfo:
        message = f"gave up: timeout_total of {self.timeout_total:g}s reached"
        if chunk.last_error is not None:
            message += f"; last error: {chunk.last_error.name}: {chunk.last_error.message}"
        return ErrorInfo("timeout_total", message, chunk.last_error.status if chunk.last_error else None)

    def sending(self, chunk: _Chunk) -> None:
        chunk.tries += 1
        self.requests_sent += 1
        if chunk.tries > 1:
            self.retries += 1

    def finish(self, chunk: _Chunk, outcomes: dict[str, _Outcome]) -> None:
        if chunk.done:
            return
        chunk.done = True
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
        log.debug("chunk %d/%d unconfirmed: %s", chunk.number, len(self.chunks), error.name)
        self.finish(chunk, dict.fromkeys(chunk.ids, error))

    def handle(self, chunk: _Chunk, permit: Permit, outcome: _Answer | Exception) -> bool:
        """Merge one attempt's outcome; True if the chunk is to be sent again."""
        total = len(self.chunks)
        if isinstance(outcome, Exception):
            self.limiter.record(permit, None)
            detail = f"{type(outcome).__name__}: {outcome}" if str(outcome) else type(outcome).__name__
            if not isinstance(outcome, httpx.TransportError):
                # Not a network failure but a fault in the client set-up (a custom transport, a
                # hook): retrying would fail the same way, and whether it was sent is unknown.
                log.warning("chunk %d/%d: request failed", chunk.number, total, exc_info=outcome)
                self.give_up(chunk, ErrorInfo("client_error", detail))
                return False
            if not isinstance(outcome, _NOT_SENT):
                chunk.maybe_processed = True
            chunk.last_error = ErrorInfo("transport_error", detail)
            log.debug("chunk %d/%d try %d: %s", chunk.number, total, chunk.tries, detail)
            return True

        answer = outcome
        self.limiter.record(permit, answer.remaining, rate_limited=answer.status == 429, date=answer.date)
        if answer.remaining is not None:
            self.remaining_req = answer.remaining
        remaining = answer.remaining.sec if answer.remaining is not None else None
        status = answer.status
        if status == 200:
            return self._merge_200(chunk, answer, remaining)
        log.debug("chunk %d/%d try %d: HTTP %d, remaining=%s", chunk.number, total, chunk.tries, status, remaining)
        error = _api_error(answer)
        if status == 429:
            self.rate_limited += 1
            chunk.last_error = error
            return True
        if status == 418:
            # Remembered by the limiter for the key: every batch of the process stops until the block ends.
            self.limiter.block(block_seconds(_error_body(answer.content)[1]), error.name)
            if self.blocked is None:
                log.warning("HTTP 418 %s: no more requests are sent in this batch", error.name)
                self.blocked = error
            self.give_up(chunk, error)
            return False
        if status >= 500:
            chunk.maybe_processed = True
            chunk.last_error = error
            return True
        self.give_up(chunk, error)
        return False

    def _merge_200(self, chunk: _Chunk, answer: _Answer, remaining: int | None) -> bool:
        total = len(self.chunks)
        try:
            success, failed = _read_200(answer)
        except _BadShape as exc:
            log.debug("chunk %d/%d try %d: HTTP 200 of the wrong shape: %s", chunk.number, total, chunk.tries, exc)
            self.give_up(chunk, ErrorInfo("invalid_response", f"HTTP 200 body not as documented: {exc}", 200))
            return False
        except ValueError as exc:
            # Cut off or not JSON: the exchange may have processed the request; ask again.
            chunk.maybe_processed = True
            chunk.last_error = ErrorInfo("invalid_response", f"unreadable HTTP 200 body: {exc}", 200)
            log.debug("chunk %d/%d try %d: unreadable HTTP 200 body", chunk.number, total, chunk.tries)
            return True
        log.debug(
            "chunk %d/%d try %d: HTTP 200, success=%d failed=%d, remaining=%s",
            chunk.number,
            total,
            chunk.tries,
            len(success),
            len(failed),
            remaining,
        )
        self.finish(chunk, self._match(chunk, success, failed))
        return False

    def _match(self, chunk: _Chunk, success: list[OrderRef], failed: list[OrderRef]) -> dict[str, _Outcome]:
        def key(order: OrderRef) -> str | None:
            return order.uuid if self.kind == "uuids" else order.identifier

        sent = set(chunk.ids)
        found: dict[str, list[tuple[Literal["success", "failed"], OrderRef]]] = {}
        groups: tuple[tuple[Literal["success", "failed"], list[OrderRef]], ...] = (
            ("success", success),
            ("failed", failed),
        )
        for group, orders in groups:
            for order in orders:
                order_id = key(order)
                if order_id is not None and order_id in sent:
                    found.setdefault(order_id, []).append((group, order))
                else:
                    log.debug("chunk %d: answer names an order that was not asked for; ignored", chunk.number)
        outcomes: dict[str, _Outcome] = {}
        for order_id in chunk.ids:
            entries = found.get(order_id, [])
            named = {group for group, _ in entries}
            if not entries:
                outcomes[order_id] = ErrorInfo("missing_from_answer", "the exchange's answer did not mention it", 200)
            elif len(named) > 1:
                outcomes[order_id] = ErrorInfo(
                    "contradictory_answer", "the exchange listed it under both success and failed", 200
                )
            elif "failed" in named and chunk.maybe_processed:
                lost = chunk.last_error.message if chunk.last_error else "unknown"
                outcomes[order_id] = ErrorInfo(
                    "failed_after_lost_answer",
                    f"reported failed on a retry after an earlier attempt's answer was lost ({lost}): "
                    "that attempt may have cancelled it",
                    200,
                )
            else:
                outcomes[order_id] = entries[0]
        return outcomes

    def result(self) -> BatchResult:
        result = BatchResult(
            id_kind=self.kind,
            requests_sent=self.requests_sent,
            rate_limited=self.rate_limited,
            retries=self.retries,
            elapsed=time.monotonic() - self.started,
            remaining_req=self.remaining_req,
            blocked=self.blocked,
        )
        for order_id in self.ids:
            outcome = self.outcomes.get(order_id)
            if outcome is None:
                # Unreachable by construction; kept so an id can never vanish from the report.
                outcome = ErrorInfo("not_sent", "the batch ended before this id was sent")
            if isinstance(outcome, ErrorInfo):
                result.unconfirmed.append(UnconfirmedOrder(order_id, self.kind, outcome))
            elif outcome[0] == "success":
                result.success.append(outcome[1])
            else:
                result.failed.append(outcome[1])
        return result


# ---------------------------------------------------------------------------------------------
# Sending


def _answer(response: Response[Any]) -> _Answer:
    remaining = parse_remaining_req(response.headers.get("Remaining-Req"))
    date = parse_date_header(response.headers.get("Date"))
    return _Answer(int(response.status_code), response.content, remaining, response.parsed, date=date)


def _settled(exc: Exception) -> _Answer | Exception:
    """An answer the generated call refused to parse is still an answer; anything else is a failure to send."""
    if isinstance(exc, InvalidResponse):
        return _Answer(exc.status_code, exc.content, None, problem=exc.problem)
    if isinstance(exc, UnexpectedStatus):
        return _Answer(exc.status_code, exc.content, None)
    return exc


def _send_sync(client: AnyClient, kind: IdKind, ids: list[str]) -> _Answer | Exception:
    try:
        return _answer(
            _endpoint.sync_detailed(
                client=client,
                uuids=ids if kind == "uuids" else UNSET,
                identifiers=ids if kind == "identifiers" else UNSET,
            )
        )
    except Exception as exc:
        return _settled(exc)


async def _send_async(client: AnyClient, kind: IdKind, ids: list[str]) -> _Answer | Exception:
    try:
        return _answer(
            await _endpoint.asyncio_detailed(
                client=client,
                uuids=ids if kind == "uuids" else UNSET,
                identifiers=ids if kind == "identifiers" else UNSET,
            )
        )
    except Exception as exc:
        return _settled(exc)


def _drive_sync(batch: _Batch, client: AnyClient, chunk: _Chunk) -> None:
    while True:
        reason = batch.stop_reason(chunk)
        if reason is not None:
            batch.give_up(chunk, reason)
            return
        try:
            permit = batch.limiter.acquire(timeout=batch.time_left())
        except KeyBlocked as exc:
            batch.key_blocked(chunk, exc)
            return
        if permit is None:
            batch.give_up(chunk, batch.timeout_error(chunk))
            return
        if batch.blocked is not None:
            batch.limiter.cancel(permit)
            batch.give_up(chunk, batch.blocked)
            return
        batch.sending(chunk)
        if not batch.handle(chunk, permit, _send_sync(client, batch.kind, chunk.ids)):
            return


async def _drive_async(batch: _Batch, client: AnyClient, chunk: _Chunk) -> None:
    while True:
        reason = batch.stop_reason(chunk)
        if reason is not None:
            batch.give_up(chunk, reason)
            return
        try:
            permit = await batch.limiter.acquire_async(timeout=batch.time_left())
        except KeyBlocked as exc:
            batch.key_blocked(chunk, exc)
            return
        if permit is None:
            batch.give_up(chunk, batch.timeout_error(chunk))
            return
        # Another task may have met a 418 while this one waited for the permit.
        if batch.blocked is not None:
            batch.limiter.cancel(permit)
            batch.give_up(chunk, batch.blocked)
            return
        batch.sending(chunk)
        outcome: _Answer | Exception
        try:
            # ``timeout_total`` bounds the whole batch, a request in flight included.
            outcome = await asyncio.wait_for(
                _send_async(client, batch.kind, chunk.ids), timeout=max(batch.time_left(), 0.001)
            )
        except TimeoutError:
            outcome = httpx.ReadTimeout(f"no answer before timeout_total of {batch.timeout_total:g}s")
        if not batch.handle(chunk, permit, outcome):
            return


def _access_key(auth: object) -> str:
    # A client signed some other way still gets a limiter, shared by all such clients.
    return auth.access_key if isinstance(auth, UpbitAuth) else ""


def _prepare(
    client_auth: object,
    uuids: Sequence[str] | None,
    identifiers: Sequence[str] | None,
    *,
    timeout_total: float,
    on_progress: ProgressCallback | None,
    max_tries: int,
    limiter: RateLimiter | None,
    rate_limit_store: str | None = None,
) -> _Batch:
    kind, rule, ids = _check_ids(uuids, identifiers)
    if limiter is None:
        store = rate_limit_store if rate_limit_store is not None else os.environ.get(STORE_ENV)
        limiter = limiter_for(_access_key(client_auth), _endpoint.RATE_LIMIT, store=store)
    batch = _Batch(
        kind,
        ids,
        rule.max_items,
        limiter,
        max_tries=max_tries,
        timeout_total=timeout_total,
        on_progress=on_progress,
    )
    log.debug(
        "cancelling %d distinct %s in %d chunks (group %r)", len(batch.ids), kind, len(batch.chunks), limiter.group
    )
    batch.progress()
    return batch


def _log_result(result: BatchResult) -> BatchResult:
    log.debug(
        "batch done: success=%d failed=%d unconfirmed=%d requests=%d 429s=%d retries=%d in %.3fs",
        len(result.success),
        len(result.failed),
        len(result.unconfirmed),
        result.requests_sent,
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
    timeout_total: float = 30.0,
    on_progress: ProgressCallback | None = None,
    max_tries: int = DEFAULT_MAX_TRIES,
    limiter: RateLimiter | None = None,
    rate_limit_store: str | None = None,
) -> BatchResult:
    """Cancel every order named by ``uuids`` or by ``identifiers`` (exactly one), sending chunks one by one.

    Raises ``upbit_client.errors.InvalidRequest`` before sending anything if the ids break the
    spec; otherwise never raises: ids without a trustworthy answer (after at most ``max_tries``
    sends per chunk and ``timeout_total`` seconds in all) are reported unconfirmed.
    ``on_progress(done_ids, total_ids)`` is called as chunks settle. ``limiter`` defaults to the
    process-wide one of the client's access key for the endpoint's rate-limit group; ``rate_limit_store``
    (``redis://HOST:PORT/DB``, default: the ``UPBIT_RATE_LIMIT_STORE`` environment variable) shares its
    budget, the learned phase and 418 blocks with every process using the same store.
    """
    batch = _prepare(
        client.get_httpx_client().auth,
        uuids,
        identifiers,
        timeout_total=timeout_total,
        on_progress=on_progress,
        max_tries=max_tries,
        limiter=limiter,
        rate_limit_store=rate_limit_store,
    )
    for chunk in batch.chunks:
        _drive_sync(batch, client, chunk)
    return _log_result(batch.result())


async def cancel_orders_async(
    client: AnyClient,
    *,
    uuids: Sequence[str] | None = None,
    identifiers: Sequence[str] | None = None,
    timeout_total: float = 30.0,
    on_progress: ProgressCallback | None = None,
    max_tries: int = DEFAULT_MAX_TRIES,
    limiter: RateLimiter | None = None,
    max_in_flight: int | None = None,
    rate_limit_store: str | None = None,
) -> BatchResult:
    """``cancel_orders`` with as many chunks in flight as the current second's budget allows.

    Uses the client's one ``httpx.AsyncClient`` (one connection pool). ``max_in_flight`` caps the
    concurrent requests; by default it is the rate-limit group's ``per_second`` from the spec.
    """
    batch = _prepare(
        client.get_async_httpx_client().auth,
        uuids,
        identifiers,
        timeout_total=timeout_total,
        on_progress=on_progress,
        max_tries=max_tries,
        limiter=limiter,
        rate_limit_store=rate_limit_store,
    )
    queue = deque(batch.chunks)

    async def worker() -> None:
        while queue:
            await _drive_async(batch, client, queue.popleft())

    width = max_in_flight or batch.limiter.per_second or _IN_FLIGHT_WITHOUT_RATE_LIMIT
    await asyncio.gather(*(worker() for _ in range(max(1, min(width, len(batch.chunks))))))
    return _log_result(batch.result())

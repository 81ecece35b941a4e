"""The batch's requests as flows without I/O: one chunk of cancels, one order lookup.

Each flow is a generator in the style of httpx's ``Auth.auth_flow``: it yields the action it needs next
(``Acquire`` a permit, ``Enter`` the pool, ``Send``) and is sent what came of it. All the rules live here,
in ``listing`` and in ``_Batch`` (the merge); the drivers (``drivers``) only carry the actions out. An
answer that comes once the report was handed out (``_Batch.reported``) is still fed to the limiter (a 418
still blocks the pocket) but changes nothing in the report.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from upbit_client.api.order import cancel_orders_by_ids as _endpoint
from upbit_client.api.order import list_orders_by_ids as _lookup_endpoint
from upbit_client.types import UNSET

from .answers import feed
from .pool_gate import NO_GATE, PoolGate, Turn
from .ratelimit import KeyBlocked, Permit, RateLimiter
from .results import ErrorInfo

if TYPE_CHECKING:
    from .batch import _Batch, _Chunk, _Lookup
    from .results import IdKind

__all__ = ["Acquire", "Done", "Enter", "Flow", "Send", "Step", "advance", "cancel_flow", "lookup_flow"]

S = TypeVar("S")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Acquire:
    """A permit of ``limiter`` within ``timeout`` (``backlog``: ``RateLimiter.try_acquire``); sent a
    ``Permit``, the pocket's ``KeyBlocked``, or None (none in time)."""

    limiter: RateLimiter
    timeout: float
    backlog: int | Callable[[], int] = 1


@dataclass(frozen=True, slots=True)
class Enter:
    """The request's turn to enter the client's pool through ``gate`` (``pool_gate``) within ``seconds``; sent a
    ``Turn``, or None when ``timeout_total`` ran out first (the driver has given the permit back then)."""

    gate: PoolGate
    limiter: RateLimiter
    permit: Permit
    seconds: float


@dataclass(frozen=True, slots=True)
class Send:
    """Call the generated ``endpoint`` with ``args`` and ``permit``, the whole answer within ``seconds``
    (``turn`` released once the request is on the wire); sent an ``answers.Outcome``."""

    limiter: RateLimiter
    permit: Permit
    endpoint: ModuleType
    args: dict[str, Any]
    seconds: float
    turn: Turn = NO_GATE


Step = Acquire | Enter | Send
Flow = Generator[Step, Any, None]


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """A flow has ended; ``value`` is what it returned."""

    value: T


def advance(flow: Generator[S, Any, T], sent: object) -> S | Done[T]:
    """The flow's next action, given what came of the last one (None to start), or ``Done`` at its end."""
    try:
        return flow.send(sent)
    except StopIteration as end:
        return Done(end.value)


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
        batch.sending_lookup(lookup)
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

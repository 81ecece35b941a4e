"""The batch's requests as flows without I/O: one chunk of cancels, one order lookup.

Each flow is a generator in the style of httpx's ``Auth.auth_flow``. It yields the action it needs next and
is sent what came of it:

- ``Acquire``: a permit of ``limiter`` within ``timeout`` (``backlog``: see ``RateLimiter.try_acquire``);
  sent a ``Permit``, the pocket's ``KeyBlocked``, or None (none in time);
- ``Enter``: the request's turn to enter the client's connection pool (``pool_gate``); sent a ``Turn``, or
  None when ``timeout_total`` ran out first (the driver has given the permit back then);
- ``Send``: send ``ids`` with ``permit``; sent an ``answers.Outcome``.

All the rules live here and in ``_Batch`` (the merge); the drivers in ``batch`` only carry actions out: the
sync one with blocking calls on threads (each step of a flow under the batch's lock), the async one with
anyio. An answer that comes once the report was handed out (``_Batch.reported``) is still fed to the
limiter (a 418 still blocks the pocket) but changes nothing in the report.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .answers import feed
from .pool_gate import NO_GATE, Turn
from .ratelimit import KeyBlocked, Permit, RateLimiter
from .results import ErrorInfo

if TYPE_CHECKING:
    from .batch import _Batch, _Chunk, _Lookup

__all__ = ["Acquire", "Done", "Enter", "Flow", "Send", "Step", "advance", "cancel_flow", "lookup_flow"]

S = TypeVar("S")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Acquire:
    limiter: RateLimiter
    timeout: float
    backlog: int | Callable[[], int] = 1


@dataclass(frozen=True, slots=True)
class Enter:
    limiter: RateLimiter
    permit: Permit


@dataclass(frozen=True, slots=True)
class Send:
    limiter: RateLimiter
    permit: Permit
    ids: list[str]
    turn: Turn
    lookup: bool = False


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
        turn = yield Enter(limiter, permit)
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
        outcome = yield Send(limiter, permit, chunk.ids, turn)
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
            turn = yield Enter(limiter, permit)
            permit = permit if turn is not None else None  # no turn in time: the permit was given back
        if _lookup_stopped(batch, lookup, permit):
            _give_back(limiter, permit, turn or NO_GATE)
            return
        assert isinstance(permit, Permit) and turn is not None
        batch.sending_lookup(lookup)
        outcome = yield Send(limiter, permit, lookup.ids, turn, lookup=True)
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

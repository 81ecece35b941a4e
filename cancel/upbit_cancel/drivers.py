"""The actions of every flow without I/O, and their two drivers, which carry them out and hold no rule.

A flow (the batch's cancels and lookups, ``batch``; the sweep's listing, ``sweep.pages``) is a generator in the
style of httpx's ``Auth.auth_flow``: it yields the action it needs next (``Acquire`` a permit, ``Enter`` the
pool, ``Send``) and is sent what came of it.

- sync: each flow runs in the calling thread or on a worker thread (``workers``), each of its steps under
  ``lock`` (the batch's); a request is bounded by ``timeout_total`` through ``reading.bounded``.
- async: on anyio (asyncio or trio), ``width`` worker tasks take the flows one after another
  (``_AsyncWorkers``), shielded from the caller's cancellation so that requests in flight may still be
  answered within the grace; the pool gate (``pool_gate``) lets one request at a time into the pool.

Interrupted with a request on its way (Ctrl-C, a cancellation past the grace), a driver closes the
request's permit as unheard (``answers.feed``): it counts until the window it may have landed in is over.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Generator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from upbit_client import AuthenticatedClient, Client

from . import reading
from .answers import feed, from_response, settled
from .pool_gate import NO_GATE, PoolGate, Turn
from .ratelimit import KeyBlocked, Permit, RateLimiter
from .workers import ProgressRelay, run_in_threads

if TYPE_CHECKING:
    import anyio

    from .batch import _Batch

__all__ = [
    "Acquire",
    "AnyClient",
    "Done",
    "Enter",
    "Flow",
    "Send",
    "Step",
    "advance",
    "drive_async",
    "drive_sync",
    "run_async",
    "run_sync",
]

AnyClient = Client | AuthenticatedClient
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


# How long an interrupted async batch waits for answers in flight when the client has no timeout.
_GRACE_WITHOUT_CLIENT_TIMEOUT = 5.0


async def _turn(step: Enter) -> Turn | None:
    """The turn to enter the pool; None if ``timeout_total`` ran out first. Either way nothing was sent when
    it is not had (cancelled, or None): the permit is given back."""
    try:
        turn = await step.gate.turn(step.seconds)
    except BaseException:
        step.limiter.cancel(step.permit)
        raise
    if turn is None:
        step.limiter.cancel(step.permit)
    return turn


def _act_sync(client: AnyClient, step: Step) -> object:
    """Carry one action out, blocking (no pool gate: each thread waits for its own connection)."""
    if isinstance(step, Acquire):
        try:
            return step.limiter.acquire(timeout=step.timeout, backlog=step.backlog)
        except KeyBlocked as exc:
            return exc
    if isinstance(step, Enter):
        return NO_GATE
    try:
        reading.install(client.get_httpx_client())
        with reading.bounded(step.seconds):
            return from_response(step.endpoint.sync_detailed(client=client, **step.args))
    except Exception as exc:
        return settled(exc)
    except BaseException:
        # Interrupted (Ctrl-C) with the request on its way: whether it arrived is unknown, so it counts
        # until the window it may have landed in is over, not for ``_STALE_IN_FLIGHT``.
        feed(step.limiter, step.permit, None)
        raise


async def _act_async(client: AnyClient, step: Step, sending: set[int]) -> object:
    """Carry one action out with anyio (asyncio or trio); a request's task is in ``sending`` meanwhile (an
    interruption lets it finish)."""
    import anyio  # the async paths' own: the sync batch's import path loads neither anyio nor asyncio

    if isinstance(step, Acquire):
        try:
            return await step.limiter.acquire_async(timeout=step.timeout, backlog=step.backlog)
        except KeyBlocked as exc:
            return exc
    if isinstance(step, Enter):
        return await _turn(step)
    task = anyio.get_current_task().id
    sending.add(task)
    try:
        reading.install(client.get_async_httpx_client())
        # ``timeout_total`` bounds the request in flight, and the answer's size is bounded too. The next
        # request enters the pool once this one is on the wire (``pool_gate``).
        with reading.bounded(step.seconds, on_wire=step.turn.release), anyio.fail_after(max(step.seconds, 0.001)):
            return from_response(await step.endpoint.asyncio_detailed(client=client, **step.args))
    except TimeoutError:
        return httpx.ReadTimeout(f"no answer within the {step.seconds:.3g}s left of timeout_total")
    except Exception as exc:
        return settled(exc)
    except BaseException:
        # Cancelled with the request on its way (after the grace): as in ``_act_sync``.
        feed(step.limiter, step.permit, None)
        raise
    finally:
        step.turn.release()
        sending.discard(task)


def drive_sync(client: AnyClient, flow: Generator[Step, Any, T], lock: AbstractContextManager[object]) -> T:
    """Run one flow to its end in this thread, each of its steps under ``lock``; what it returned."""
    result: object = None
    while True:
        with lock:
            step = advance(flow, result)
        if isinstance(step, Done):
            return step.value
        result = _act_sync(client, step)


async def drive_async(client: AnyClient, flow: Generator[Step, Any, T], sending: set[int]) -> T:
    """Run one flow to its end in this task; what it returned."""
    result: object = None
    while not isinstance(step := advance(flow, result), Done):
        result = await _act_async(client, step, sending)
    return step.value


def run_sync(batch: _Batch, client: AnyClient, flows: Sequence[Flow], relay: ProgressRelay | None, width: int) -> None:
    """Run the flows: in the calling thread if one at a time will do, else on worker threads."""
    jobs = [functools.partial(drive_sync, client, flow, batch.lock) for flow in flows]
    if relay is None or len(jobs) <= 1:
        for job in jobs:
            if batch.over():
                return  # the jobs not started are the batch's to report (``_Batch.over``)
            job()
            if relay is not None:
                relay.deliver()
        return
    run_in_threads(jobs, width, stopping=batch.over, relay=relay)


def _grace(client: AnyClient, batch: _Batch) -> float:
    """How long an interrupted batch waits for answers in flight: the client's read timeout, within the budget."""
    read = client.get_async_httpx_client().timeout.read
    return max(0.0, min(_GRACE_WITHOUT_CLIENT_TIMEOUT if read is None else read, batch.time_left()))


class _AsyncWorkers:
    """Worker tasks taking jobs from one queue, shielded from the caller's cancellation so that requests in
    flight may still be answered; the caller's task decides when they stop (``stop``)."""

    def __init__(self, batch: _Batch, jobs: Sequence[Callable[[], Awaitable[None]]]) -> None:
        import anyio

        self.batch = batch
        self.queue = list(reversed(jobs))
        self.scopes: dict[int, anyio.CancelScope] = {}
        self.shield = anyio.CancelScope(shield=True)
        self.done = anyio.Event()
        self.failure: Exception | None = None

    async def run(self, width: int) -> None:
        import anyio

        try:
            with self.shield:
                async with anyio.create_task_group() as group:
                    for _ in range(width):
                        group.start_soon(self.worker)
        finally:
            self.done.set()

    async def worker(self) -> None:
        import anyio

        with anyio.CancelScope() as scope:
            self.scopes[anyio.get_current_task().id] = scope
            try:
                while self.queue and not self.batch.over():
                    await self.queue.pop()()
            except Exception as exc:
                # A bug in a worker surfaces as itself once the others are done (not in an exception group).
                self.failure = self.failure or exc

    async def stop(self, grace: float) -> None:
        """Send nothing more; let requests in flight be answered for up to ``grace`` seconds, then cut them off."""
        import anyio

        self.batch.stopping = True
        for task, scope in self.scopes.items():
            if task not in self.batch.sending_tasks:
                scope.cancel()  # waiting for a permit or between requests: nothing to wait for
        try:
            with anyio.CancelScope(shield=True), anyio.move_on_after(grace):
                await self.done.wait()
        finally:
            self.shield.cancel()
            with anyio.CancelScope(shield=True):
                await self.done.wait()


async def run_async(batch: _Batch, client: AnyClient, flows: Sequence[Flow], width: int) -> None:
    """Run the flows ``width`` at a time; on cancellation let requests in flight finish.

    Any backend anyio runs on (asyncio, trio). A cancellation already queued when the batch starts (as a
    signal handler on the loop queues it) is met at the first checkpoint, before any worker exists:
    nothing is sent. One that comes later stops the workers as ``_AsyncWorkers.stop`` says, and goes on.
    """
    import anyio
    import anyio.lowlevel

    await anyio.lowlevel.checkpoint()
    workers = _AsyncWorkers(
        batch, [functools.partial(drive_async, client, flow, batch.sending_tasks) for flow in flows]
    )
    async with anyio.create_task_group() as group:
        group.start_soon(workers.run, max(1, min(width, len(flows))))
        try:
            await workers.done.wait()
        except anyio.get_cancelled_exc_class():
            await workers.stop(_grace(client, batch))
            raise
    if workers.failure is not None:
        raise workers.failure

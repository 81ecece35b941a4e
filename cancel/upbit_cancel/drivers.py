"""The batch's two drivers: they carry the flows' actions out (``flows``), and hold no rule of their own.

- sync: each flow runs in the calling thread or on a worker thread (``workers``), each of its steps under
  the batch's lock; a request is bounded by ``timeout_total`` through ``reading.bounded``.
- async: on anyio (asyncio or trio), ``width`` worker tasks take the flows one after another
  (``_AsyncWorkers``), shielded from the caller's cancellation so that requests in flight may still be
  answered within the grace; the pool gate (``pool_gate``) lets one request at a time into the pool.

Interrupted with a request on its way (Ctrl-C, a cancellation past the grace), a driver closes the
request's permit as unheard (``answers.feed``): it counts until the window it may have landed in is over.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from upbit_client import AuthenticatedClient, Client
from upbit_client.api.order import cancel_orders_by_ids as _endpoint
from upbit_client.api.order import list_orders_by_ids as _lookup_endpoint
from upbit_client.types import UNSET

from . import reading
from .answers import feed, from_response, settled
from .flows import Acquire, Done, Enter, Flow, Step, advance
from .pool_gate import NO_GATE, Turn
from .ratelimit import KeyBlocked, Permit, RateLimiter
from .results import IdKind
from .workers import ProgressRelay, run_in_threads

if TYPE_CHECKING:
    import anyio

    from .batch import _Batch

__all__ = ["AnyClient", "acquired", "acquired_async", "job_async", "job_sync", "run_async", "run_sync"]

AnyClient = Client | AuthenticatedClient

# How long an interrupted async batch waits for answers in flight when the client has no timeout.
_GRACE_WITHOUT_CLIENT_TIMEOUT = 5.0


def _id_args(kind: IdKind, ids: list[str]) -> dict[str, Any]:
    return {"uuids": ids if kind == "uuids" else UNSET, "identifiers": ids if kind == "identifiers" else UNSET}


def _send_sync(client: AnyClient, kind: IdKind, ids: list[str], seconds: float, *, lookup: bool = False) -> Any:
    try:
        http = client.get_httpx_client()
        reading.install(http)
        with reading.bounded(seconds):
            if lookup:
                return from_response(_lookup_endpoint.sync_detailed(client=client, **_id_args(kind, ids)))
            return from_response(_endpoint.sync_detailed(client=client, **_id_args(kind, ids)))
    except Exception as exc:
        return settled(exc)


async def _send_async(client: AnyClient, kind: IdKind, ids: list[str], *, lookup: bool = False) -> Any:
    try:
        if lookup:
            return from_response(await _lookup_endpoint.asyncio_detailed(client=client, **_id_args(kind, ids)))
        return from_response(await _endpoint.asyncio_detailed(client=client, **_id_args(kind, ids)))
    except Exception as exc:
        return settled(exc)


async def _bounded_async(
    batch: _Batch, client: AnyClient, ids: list[str], *, lookup: bool = False, turn: Turn = NO_GATE
) -> Any:
    import anyio  # the async paths' own: the sync batch's import path loads neither anyio nor asyncio

    task = anyio.get_current_task().id
    batch.sending_tasks.add(task)
    try:
        reading.install(client.get_async_httpx_client())
        # ``timeout_total`` bounds the whole batch, a request in flight included; the answer's size is bounded
        # too. The next request enters the pool once this one is on the wire (``pool_gate``).
        with reading.bounded(batch.time_left(), on_wire=turn.release), anyio.fail_after(max(batch.time_left(), 0.001)):
            return await _send_async(client, batch.kind, ids, lookup=lookup)
    except TimeoutError:
        return httpx.ReadTimeout(f"no answer before timeout_total of {batch.timeout_total:g}s")
    finally:
        turn.release()
        batch.sending_tasks.discard(task)


async def _turn(batch: _Batch, limiter: RateLimiter, permit: Permit) -> Turn | None:
    """The turn of a request with ``permit`` to enter the pool (``pool_gate``); None if ``timeout_total``
    ran out first. Either way nothing was sent when it is not had (cancelled, or None): the permit is given back."""
    if batch.gate is None:
        return NO_GATE
    try:
        turn = await batch.gate.turn(batch.time_left())
    except BaseException:
        limiter.cancel(permit)
        raise
    if turn is None:
        limiter.cancel(permit)
    return turn


def acquired(step: Acquire) -> Permit | KeyBlocked | None:
    """The permit an ``Acquire`` asks for, blocking: a ``Permit``, the pocket's ``KeyBlocked``, or None."""
    try:
        return step.limiter.acquire(timeout=step.timeout, backlog=step.backlog)
    except KeyBlocked as exc:
        return exc


async def acquired_async(step: Acquire) -> Permit | KeyBlocked | None:
    """``acquired`` without blocking the event loop."""
    try:
        return await step.limiter.acquire_async(timeout=step.timeout, backlog=step.backlog)
    except KeyBlocked as exc:
        return exc


def _act_sync(batch: _Batch, client: AnyClient, step: Step) -> object:
    """Carry one action of a flow out, blocking (no pool gate: each thread waits for its own connection)."""
    if isinstance(step, Acquire):
        return acquired(step)
    if isinstance(step, Enter):
        return NO_GATE
    try:
        return _send_sync(client, batch.kind, step.ids, batch.time_left(), lookup=step.lookup)
    except BaseException:
        # Interrupted (Ctrl-C) with the request on its way: whether it arrived is unknown, so it counts
        # until the window it may have landed in is over, not for ``_STALE_IN_FLIGHT``.
        feed(step.limiter, step.permit, None)
        raise


async def _act_async(batch: _Batch, client: AnyClient, step: Step) -> object:
    """Carry one action of a flow out with anyio (asyncio or trio)."""
    if isinstance(step, Acquire):
        return await acquired_async(step)
    if isinstance(step, Enter):
        return await _turn(batch, step.limiter, step.permit)
    try:
        return await _bounded_async(batch, client, step.ids, lookup=step.lookup, turn=step.turn)
    except BaseException:
        # Cancelled with the request on its way (after the grace): as in ``_act_sync``.
        feed(step.limiter, step.permit, None)
        raise


def _drive_sync(batch: _Batch, client: AnyClient, flow: Flow) -> None:
    """Run one flow to its end in this thread; its steps under the batch's lock (workers are threads)."""
    result: object = None
    while True:
        with batch.lock:
            step = advance(flow, result)
        if isinstance(step, Done):
            return
        result = _act_sync(batch, client, step)


async def _drive_async(batch: _Batch, client: AnyClient, flow: Flow) -> None:
    """Run one flow to its end in this task."""
    result: object = None
    while not isinstance(step := advance(flow, result), Done):
        result = await _act_async(batch, client, step)


def job_sync(batch: _Batch, client: AnyClient, flow: Flow) -> Callable[[], None]:
    return functools.partial(_drive_sync, batch, client, flow)


def run_sync(batch: _Batch, jobs: Sequence[Callable[[], None]], relay: ProgressRelay | None, width: int) -> None:
    """Run the sync drivers: in the calling thread if one at a time will do, else on worker threads."""
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


async def run_async(
    batch: _Batch, client: AnyClient, jobs: Sequence[Callable[[], Awaitable[None]]], width: int
) -> None:
    """Run ``jobs`` (coroutine factories) ``width`` at a time; on cancellation let requests in flight finish.

    Any backend anyio runs on (asyncio, trio). A cancellation already queued when the batch starts (as a
    signal handler on the loop queues it) is met at the first checkpoint, before any worker exists:
    nothing is sent. One that comes later stops the workers as ``_AsyncWorkers.stop`` says, and goes on.
    """
    import anyio
    import anyio.lowlevel

    await anyio.lowlevel.checkpoint()
    workers = _AsyncWorkers(batch, jobs)
    async with anyio.create_task_group() as group:
        group.start_soon(workers.run, max(1, min(width, len(jobs))))
        try:
            await workers.done.wait()
        except anyio.get_cancelled_exc_class():
            await workers.stop(_grace(client, batch))
            raise
    if workers.failure is not None:
        raise workers.failure


def job_async(batch: _Batch, client: AnyClient, flow: Flow) -> Callable[[], Awaitable[None]]:
    return functools.partial(_drive_async, batch, client, flow)

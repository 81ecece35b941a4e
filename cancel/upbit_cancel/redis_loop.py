"""A shared budget's Redis calls on an asyncio event loop, through ``redis.asyncio`` (issue 22).

An async caller never waits on the store on its loop. Through a worker thread (``anyio.to_thread``) it
does not, but at a window boundary some twenty tasks each ask the store at once, and the threads running
redis-py beside the loop took the GIL from it: the loop's worst tick beside a batch through a loopback
Redis was 26 ms (``make bench`` section 13), twice what the asks cost in CPU. On asyncio the asks are now
awaited on the loop itself, through a ``redis.asyncio`` client of that loop: no thread, no hand-off, and
the loop runs its other tasks while Redis answers.

``LoopBudget`` is one ``SharedBudget``'s calls on one loop: the same ``Call`` s, the same readers, the
same failures (``SharedBudget.failure``, ``answered_in_time``), through a client made for that loop.
Asks (``take``, ``load_phase``) are awaited by the caller; writes (``settle``, ``date``, ``fill``,
``block``, ``save_phase``, ``pool_bounds``) are made in order by one task of the loop (``submit``), which,
when the loop shuts down (``asyncio.run`` cancels the tasks left), makes the writes still queued and closes
the client; from then on (a task cancelled during the shutdown still gives its permit back) the budget's
blocking calls serve that loop, from threads, as they do on trio.

Under trio (``redis.asyncio`` runs on asyncio only) and for a Cluster (its async client would parse the
server's whole command table on the loop when made), the limiter keeps its worker thread (``ratelimit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from .redis_connect import open_redis_async
from .redis_store import TIMEOUT, Call, Scripts, answered_in_time
from .store import Send, TakeResult

if TYPE_CHECKING:
    from .redis_store import SharedBudget
    from .store_link import StoreWrite

__all__ = ["ASKS_AT_ONCE", "LoopBudget"]

ASKS_AT_ONCE = 4
"""Takes of one budget on one loop that may be on their way at once, each on a connection of its own (the
others wait their turn). Unbounded, twenty tasks asking at a window boundary opened twenty connections,
each one's set-up work done on the loop (then some 4 ms each: redis-py 8 read its version from the package
metadata for ``CLIENT SETINFO``, which ``redis_connect`` no longer sends)."""


class LoopBudget:
    """The calls of ``budget`` on ``loop`` (the running one when made: no I/O yet). Every method raises
    ``StoreUnavailable`` on failure, as ``SharedBudget``'s do."""

    def __init__(self, budget: SharedBudget, loop: asyncio.AbstractEventLoop) -> None:
        self.budget = budget
        self.loop = loop
        self.client: Any = open_redis_async(budget.url, timeout=TIMEOUT)
        self.scripts: Scripts = Scripts(self.client)
        self.queue: deque[StoreWrite] = deque()
        self.wake: asyncio.Event = asyncio.Event()
        self.asking: asyncio.Semaphore = asyncio.Semaphore(ASKS_AT_ONCE)
        self.closing: bool = False
        """The loop shuts down: the writer makes the writes left and closes the client; nothing new comes here."""
        self.writer: asyncio.Task[None] = loop.create_task(self.write_in_order(), name="upbit-store-writer")

    def send(self, call: Call) -> Awaitable[Any]:
        if call.name == "get":
            return self.client.get(call.keys[0])  # type: ignore[no-any-return]
        return self.scripts.run(call)  # type: ignore[no-any-return]

    async def call(self, call: Call) -> Any:
        """``call`` on this loop's client, read by ``call.read``: ``SharedBudget._call``'s rules."""
        started = time.monotonic()
        try:
            reply = await self.send(call)
            return call.read(answered_in_time(reply, started))
        except Exception as error:  # every failure of the store is one failure (redis_store)
            raise self.budget.failure(error) from error

    async def take(self, send: Send) -> TakeResult:
        async with self.asking:
            answers = [await self.call(call) for call in self.budget.take_calls(send)]
        result: TakeResult = answers[-1]
        return result

    async def load_phase(self) -> tuple[float, float] | None:
        async with self.asking:
            phase: tuple[float, float] | None = await self.call(self.budget.load_phase_call())
        return phase

    async def fill(self, windows: list[int] | None, local_seconds: list[int]) -> None:
        await self.call(self.budget.fill_call(windows, local_seconds))

    async def settle(
        self, exchange_windows: bool, give_back: list[int], take: list[int], settled: list[int] | tuple[()] = ()
    ) -> None:
        call = self.budget.settle_call(exchange_windows, give_back, take, settled)
        if call is not None:
            await self.call(call)

    async def block(self, until: float, seconds: float) -> float:
        end: float = await self.call(self.budget.block_call(until, seconds))
        return end

    async def save_phase(self, lo: float, hi: float) -> None:
        await self.call(self.budget.save_phase_call(lo, hi))

    async def date(self, window: int, local_seconds: list[int]) -> None:
        await self.call(self.budget.date_call(window, local_seconds))

    async def pool_bounds(self, lo: float, hi: float) -> tuple[float, float] | None:
        bounds: tuple[float, float] | None = await self.call(self.budget.pool_bounds_call(lo, hi))
        return bounds

    # --- writes, in order, by one task of the loop -----------------------------------------------------------

    def submit(self, writes: list[StoreWrite]) -> None:
        """Make ``writes`` after those submitted before (called on this loop, without the limiter's lock)."""
        self.queue.extend(writes)
        self.wake.set()

    async def write_in_order(self) -> None:
        """The loop's writer: the writes as they come; at the loop's shutdown (this task cancelled), those left,
        then the client closes. A cancellation that reached a write on its way may be swallowed by redis-py
        (seen on a unix socket: the shutdown then waited for ever), so the task's own count is what says so."""
        task = asyncio.current_task()
        with contextlib.suppress(asyncio.CancelledError):
            while task is None or not task.cancelling():
                await self.wake.wait()
                self.wake.clear()
                await self.drain()
        # The loop shuts down. A write cut off on its way is not made again (made twice, a give-back would
        # free a charge twice); the rest are made, then the connections are closed. (A loop closed without
        # shutting its tasks down closes this coroutine unrun: nothing is done then, not even on the budget's
        # lock, which the thread dropping the task may hold: ``SharedBudget.on_loop``.)
        self.closing = True  # from now on, the budget's blocking calls serve this loop (from threads)
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await self.drain()
            await self.close()

    async def drain(self) -> None:
        while self.queue:
            await self.queue.popleft().on_loop(self)

    async def close(self) -> None:
        """Close this loop's client (and, for a Sentinel's master, the clients of the sentinels)."""
        manager = getattr(self.client.connection_pool, "sentinel_manager", None)
        for client in [self.client, *(manager.sentinels if manager is not None else [])]:
            close = getattr(client, "aclose", None) or client.close  # aclose: redis-py >= 5.0.1
            await close()

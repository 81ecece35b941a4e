"""One async batch request at a time enters the client's connection pool, so none collides with another.

Why: httpcore's async pool hands every request that arrives to the first idle connection, and that
connection turns busy only once the request's task has run again (it waits on two anyio locks, each of
which yields to the event loop first). Twenty tasks of a batch whose permits came at the same window
boundary all reach the pool in that gap: all twenty are handed the same connection, nineteen find it
busy and start over, and each start-over scans every connection of the pool again (``docs/benchmarks.md``,
issue 16's pool gate: most of the client's CPU in the window after the first).

What: a batch's ``PoolGate`` lets one request at a time from the moment it has its permit until it
first touches the network (``reading.bounded``'s ``on_wire``: the first write of the request on a kept
connection, or the start of a new connection's connect). Then the connection is busy and the next
request goes to another. Only the time between is serialised, which is CPU work of the one event loop
thread anyway: nothing waits on the network under the gate, except for a free connection when the
client's pool is full (which every request would wait for anyway). It is used only when every transport
of the client reads through ``reading``'s stream (which reports the first touch).

The gate is an ``anyio.Semaphore`` of one (asyncio and trio alike), not an ``anyio.Lock``: a lock has an
owner task and refuses a release from any other, while a turn is a token handed over with the request. Its
``fast_acquire`` takes a free gate without a trip through the event loop; a task that waits still yields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import anyio

__all__ = ["PoolGate", "Turn"]


class Turn:
    """A request's turn to enter the pool; ``release`` (idempotent) lets the next request in."""

    __slots__ = ("_lock",)

    def __init__(self, lock: anyio.Semaphore | None) -> None:
        self._lock = lock

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()


NO_GATE = Turn(None)
"""The turn of a request sent without a gate: releasing it does nothing."""


class PoolGate:
    """Turns to enter one client's connection pool, first come first served, for the tasks of one event loop.

    A turn is released from ``reading.bounded``'s ``on_wire`` or when its request's send ends.
    """

    def __init__(self) -> None:
        import anyio  # made by an async batch only: the sync batch's import path does not load anyio

        self._lock = anyio.Semaphore(1, fast_acquire=True)

    async def turn(self, timeout: float) -> Turn | None:
        """Wait for this task's turn; None if it did not come within ``timeout`` seconds.

        Cancelled while waiting: no turn is held (the lock hands it on).
        """
        import anyio

        with anyio.move_on_after(max(timeout, 0.0)):
            await self._lock.acquire()
            return Turn(self._lock)
        return None

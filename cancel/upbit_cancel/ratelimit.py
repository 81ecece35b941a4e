"""Client-side pacing for Upbit's rate-limit groups, corrected by what the exchange reports.

Upbit counts requests per group in whole-second windows and reports what is left of the current
one in ``Remaining-Req`` (``sec``). ``RateLimiter`` keeps one such budget per (access key, group):
it starts each wall-clock second at the spec's ``per_second``, charges every request when it is
sent (so in-flight requests count), lowers the budget to what the exchange says is left, and makes
callers wait for the next second boundary once the budget is spent. One limiter is shared by every
batch of the process through ``limiter_for``; it is thread-safe and usable from threads and asyncio
tasks at once (its lock is never held while waiting).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from upbit_client.rules import RateLimit

from .remaining_req import RemainingReq

__all__ = ["Permit", "RateLimiter", "limiter_for", "reset_limiters"]

Clock = Callable[[], float]
Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class Permit:
    """The right to send one request, taken in whole-second ``window``; hand it back through the limiter."""

    window: int
    open: bool = True


class RateLimiter:
    """A per-second budget for one rate-limit ``group`` of one access key.

    ``per_second`` None means the spec names no budget: only the exchange's ``Remaining-Req`` and
    429s pace the requests. ``clock`` must return wall-clock seconds (window boundaries are whole
    seconds of it, as on the exchange); ``sleep``/``async_sleep`` are injectable for tests.
    """

    def __init__(
        self,
        group: str,
        per_second: int | None,
        *,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        async_sleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        if per_second is not None and per_second < 1:
            raise ValueError(f"per_second must be at least 1 or None; given: {per_second!r}")
        self.group = group
        self.per_second = per_second
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._lock = threading.Lock()
        self._window = math.floor(clock())
        self._remaining: float = self._budget()
        self._in_flight = 0
        self.last_remaining: RemainingReq | None = None
        """The ``Remaining-Req`` of the last response recorded, whatever its group."""

    def _budget(self) -> float:
        return math.inf if self.per_second is None else float(self.per_second)

    def _roll(self, now: float) -> int:
        window = math.floor(now)
        if window != self._window:
            self._window = window
            # A request still in flight across the boundary may be counted in the new window by
            # the exchange: charging it to both windows costs a little speed, never a 429.
            self._remaining = max(0.0, self._budget() - self._in_flight)
        return window

    @property
    def remaining(self) -> int | None:
        """Requests this limiter would still let out in the current second (None: unbounded)."""
        with self._lock:
            self._roll(self._clock())
            return None if math.isinf(self._remaining) else int(self._remaining)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def try_acquire(self) -> Permit | float:
        """A permit if the current second's budget allows one, else the seconds to the next boundary."""
        with self._lock:
            now = self._clock()
            window = self._roll(now)
            if self._remaining >= 1:
                self._remaining -= 1
                self._in_flight += 1
                return Permit(window)
            return max(window + 1 - now, 0.0)

    def acquire(self, timeout: float | None = None) -> Permit | None:
        """Wait (blocking) for a permit; None if none can be had within ``timeout`` seconds."""
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            got = self.try_acquire()
            if isinstance(got, Permit):
                return got
            if deadline is not None and self._clock() + got > deadline:
                return None
            self._sleep(got)

    async def acquire_async(self, timeout: float | None = None) -> Permit | None:
        """Wait (without blocking the event loop) for a permit; None if none within ``timeout`` seconds."""
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            got = self.try_acquire()
            if isinstance(got, Permit):
                return got
            if deadline is not None and self._clock() + got > deadline:
                return None
            await self._async_sleep(got)

    def record(self, permit: Permit, remaining: RemainingReq | None, *, rate_limited: bool = False) -> None:
        """Close ``permit`` with what its response said (``remaining`` None: no readable header or no response).

        ``rate_limited`` (a 429) spends the rest of the current second, so the retry waits for the
        next boundary whatever the header said.
        """
        with self._lock:
            if not permit.open:
                return
            permit.open = False
            self._in_flight -= 1
            window = self._roll(self._clock())
            if remaining is not None:
                self.last_remaining = remaining
                # ``sec`` is about the window the exchange counted this request in; an answer from
                # an earlier window says nothing about this one. Requests still in flight may not
                # be in ``sec`` yet, so they are taken off it.
                if remaining.group == self.group and permit.window == window:
                    self._remaining = min(self._remaining, float(max(0, remaining.sec - self._in_flight)))
            if rate_limited:
                self._remaining = 0.0

    def cancel(self, permit: Permit) -> None:
        """Give back a permit whose request was never sent."""
        with self._lock:
            if not permit.open:
                return
            permit.open = False
            self._in_flight -= 1
            if permit.window == self._roll(self._clock()):
                self._remaining = min(self._budget(), self._remaining + 1)

    def __repr__(self) -> str:
        return f"RateLimiter(group={self.group!r}, per_second={self.per_second!r})"


_registry: dict[tuple[str, str], RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(access_key: str, rate_limit: RateLimit | None) -> RateLimiter:
    """The process-wide limiter of ``access_key`` for the group ``rate_limit`` names (from the spec).

    Every batch of the process sending with the same key in the same group shares it, so two
    concurrent batches together stay within the group's budget.
    """
    group = "" if rate_limit is None else rate_limit.group
    per_second = None if rate_limit is None else rate_limit.per_second
    with _registry_lock:
        limiter = _registry.get((access_key, group))
        if limiter is None:
            limiter = _registry[(access_key, group)] = RateLimiter(group, per_second)
        return limiter


def reset_limiters() -> None:
    """Forget every shared limiter (for tests, or after the keys changed)."""
    with _registry_lock:
        _registry.clear()

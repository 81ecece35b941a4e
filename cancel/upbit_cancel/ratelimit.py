"""Client-side pacing for Upbit's rate-limit groups, per pocket, by the exchange's own windows.

``docs/pacing.md`` ("What the limiter does") states the rules and the limiter's three parts; here is the third,
``RateLimiter``: a lock, a clock, the pocket's 418 block (``KeyBlock``) and the waiting, around a
``window_log.WindowLog`` and a ``store.StoreLink``. One limiter per (pocket, group) serves every batch and
``PacedTransport`` of the process (``limiter_for``), from threads and async tasks at once, on asyncio or trio.
Its lock is never held while waiting nor across a call to the store: what to ask is worked out under it, the
store is asked without it (awaited on an asyncio loop, else from a worker thread for an async caller), and the
answer is read under it again. The clock and the sleeps are injectable, so tests run on a fake clock.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar, cast

from upbit_client.rules import RateLimit

from .errors import KeyBlocked
from .remaining_req import RemainingReq
from .window_log import STORE_RETRY_SECONDS, Permit, PhaseEstimate, WindowLog

if TYPE_CHECKING:  # loaded with a store only (``use_store``, ``limiter_for``): a limiter without one needs neither
    from .store import Ask, BudgetStore, LoopStore, StoreLink, StoreUnavailable, TakeResult, Write

__all__ = [
    "DEFAULT_BLOCK_SECONDS",
    "MAX_BLOCK_SECONDS",
    "STORE_RETRY_SECONDS",
    "Backlog",
    "KeyBlock",
    "KeyBlocked",
    "Permit",
    "RateLimiter",
    "block_seconds",
    "limiter_for",
    "pocket_id",
    "reset_limiters",
]

log: logging.Logger = logging.getLogger("upbit_cancel.ratelimit")

T = TypeVar("T")
_StoreStep = tuple["Ask", Literal["take", "read_phase"]]
"""A step of ``RateLimiter._try`` for its driver: the store call to make for ``Ask`` (its take, or reading the
phase it holds)."""
Clock = Callable[[], float]
Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]
Backlog = int | Callable[[], int]
"""How many requests a caller still has to send, this one included: a number, or a function asked at every try."""


async def _anyio_sleep(seconds: float) -> None:
    """``RateLimiter``'s async sleep by default; anyio is imported on the first wait, not with the module."""
    import anyio

    await anyio.sleep(seconds)


DEFAULT_BLOCK_SECONDS = 600.0
"""How long a 418 is assumed to last when its message names no time. Upbit's blocks grow with repeat
offences and the exchange does not document them; sending into a block lengthens it, so the guess errs long."""

MAX_BLOCK_SECONDS = 3600.0
"""The longest block a 418 is taken to announce: one hour. Upbit names its blocks in seconds or minutes; a
message naming more (``Blocked for 99999999999999999 hours.``) is read as an hour. Should the exchange still
block after it, the next request meets a new 418 and the block starts again: one request an hour, not a
process that sends nothing for a day."""

_BLOCK_TIME = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?|초|분|시간)\b",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "초": 1.0, "분": 60.0, "시간": 3600.0}


def block_seconds(message: str | None) -> float | None:
    """The block time a 418 message names (``Blocked for 60 seconds.``, ``... 5 minutes``, ``10초``), or None."""
    match = _BLOCK_TIME.search(message or "")
    if match is None:
        return None
    unit = match["unit"].lower()
    key = unit if unit in _UNIT_SECONDS else ("ms" if unit.startswith("mil") else unit[0])
    return min(float(match["n"]) * _UNIT_SECONDS[key], MAX_BLOCK_SECONDS)


def pocket_id(access_key: str, pocket: str | None = None) -> str:
    """Who shares a budget: the pocket the user named, else the access key's own pocket (never the secret)."""
    return f"pocket:{pocket}" if pocket else f"key:{access_key}"


@dataclass(slots=True)
class KeyBlock:
    """A 418 block of one pocket, shared by every limiter of that pocket (all groups): ``until`` epoch seconds."""

    until: float = -float("inf")
    reason: str = ""


class RateLimiter:
    """A budget for one rate-limit ``group`` of one pocket, paced by the exchange's windows.

    ``per_second`` requests per window of ``window_seconds`` exchange seconds (the spec's
    ``x-rate-limit``); None means the spec names no budget: only ``Remaining-Req`` and 429s pace.
    ``reserve`` (default a third of ``per_second``) is trickled out while the exchange's phase is
    unknown. ``clock`` must return wall-clock seconds; ``sleep``/``async_sleep`` are injectable for tests
    (``async_sleep`` None: ``anyio.sleep``).
    """

    def __init__(
        self,
        group: str,
        per_second: int | None,
        *,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        async_sleep: AsyncSleep | None = None,
        reserve: int | None = None,
        key_block: KeyBlock | None = None,
        window_seconds: int = 1,
    ) -> None:
        self._log = WindowLog(group, per_second, window_seconds=window_seconds, reserve=reserve)
        self.group = group
        self.per_second = per_second
        self.window_seconds = window_seconds
        self.reserve: int = self._log.reserve
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = _anyio_sleep if async_sleep is None else async_sleep
        self._lock = threading.Lock()
        self._thread_turn = threading.Lock()
        """Worker threads asking the store for an async caller go one at a time (see ``_next_async``)."""
        self._block = KeyBlock() if key_block is None else key_block
        self._link: StoreLink | None = None
        self.last_remaining: RemainingReq | None = None
        """The ``Remaining-Req`` of the last response recorded, whatever its group."""

    @property
    def phase(self) -> PhaseEstimate:
        """What the answers told about where the exchange's windows start (read it, do not change it)."""
        return self._log.phase

    # --- the shared store ------------------------------------------------------------------------------

    def use_store(self, shared: BudgetStore) -> None:
        """Share this budget (and 418 blocks, and the learned phase) with every limiter using ``shared``."""
        from .store import StoreLink

        with self._lock:
            self._link = StoreLink(shared)

    @property
    def store(self) -> BudgetStore | None:
        """The shared store in use now: None without one, or while it is failing (see ``STORE_RETRY_SECONDS``)."""
        with self._lock:
            return None if self._link is None else self._link.current(self._clock())

    @property
    def store_link(self) -> StoreLink | None:
        """The link to the shared store (its ``state``: active or paused), or None without one."""
        return self._link

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def remaining(self) -> int | None:
        """Requests this limiter would let out right now, one after another (None: unbounded)."""
        with self._lock:
            return self._log.remaining(self._clock())

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._log.in_flight

    def blocked_until(self) -> float | None:
        """The end of a 418 block on this pocket (epoch seconds), or None if not blocked."""
        with self._lock:
            return self._block.until if self._clock() < self._block.until else None

    # --- taking and giving back permits --------------------------------------------------------------

    def try_acquire(self, backlog: int = 1) -> Permit | float:
        """A permit if a send is allowed now, else the seconds to wait; ``KeyBlocked`` during a 418 block.
        With a ``backlog`` (``Backlog``) of more than one, the last free send of a window may be held back as a
        probe of where the exchange's next window begins (``window_log``), at no cost in windows."""
        return _blocking(self._try(backlog))

    def _try(self, backlog: int) -> Generator[_StoreStep, object, Permit | float]:
        """``try_acquire`` as steps without I/O, for a driver to make blocking (``_blocking``) or on a loop
        (``_on_loop``): yields ``(ask, "take")`` to ask the store (sent the ``TakeResult``, or the
        ``StoreUnavailable``) and ``(ask, "read_phase")`` to read the phase it holds (sent it). With a store, the send
        is logged before the store is asked (so that callers asking meanwhile count it) and withdrawn if the
        store says no. A phase another process stored is read and adopted first (once: one that cannot be read
        or used stops no send)."""
        with self._lock:
            now = self._clock()
            if now < self._block.until:
                raise KeyBlocked(self.group, self._block.until, self._block.reason)
            link = self._link
            wait = (0.0 if link is None else link.share(self._log, now)) or self._log.wait(now, backlog)
            if wait > 0:
                return wait
            ask = None if link is None else link.plan(self._log, now)
            if isinstance(ask, float):
                return ask
            permit, last_send = Permit(now), self._log.last_send
            self._log.sent(permit)
        if link is None or ask is None:
            return permit
        from .store import Ask, StoreUnavailable

        result = yield ask, "take"
        if not isinstance(result, StoreUnavailable) and cast("TakeResult", result).phase_in_store:
            shared = yield ask, "read_phase"
            if isinstance(shared, StoreUnavailable):
                result = shared
            else:
                with self._lock:
                    link.adopt_phase(self._log, cast("tuple[float, float] | None", shared))
                    again = link.plan(self._log, now, ask_phase=False)
                if isinstance(again, Ask):
                    ask = again
                    result = yield again, "take"
        return self._taken(link, ask, cast("TakeResult | StoreUnavailable", result), (permit, last_send))

    def _taken(
        self, link: StoreLink, ask: Ask, result: TakeResult | StoreUnavailable, sent: tuple[Permit, float]
    ) -> Permit | float:
        """Under the lock, the store's ``result`` for the send ``sent`` (its permit; the log's ``last_send``
        before it): the permit, else the send withdrawn and the wait (``KeyBlocked``: the store holds a block)."""
        permit, last_send = sent
        with self._lock:
            taken = link.taken(self._log, ask, result, permit.sent_at)
            if taken.blocked_until is None and taken.wait <= 0:
                permit.charged = taken.charge
                return permit
            self._log.withdrawn(permit, last_send)
            if taken.blocked_until is None:
                return taken.wait
            self._block.until = max(self._block.until, taken.blocked_until)
            self._block.reason = self._block.reason or "blocked (seen in the shared store)"
            raise KeyBlocked(self.group, self._block.until, self._block.reason)

    def acquire(self, timeout: float | None = None, *, backlog: Backlog = 1) -> Permit | None:
        """Wait (blocking) for a permit; None if none can be had within ``timeout`` seconds (``backlog``: see
        ``try_acquire``; a callable, asked again at every try, lets a long wait see it fall)."""
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            got = self._next(backlog, deadline)
            if got is None or isinstance(got, Permit):
                return got
            self._sleep(got)

    async def acquire_async(self, timeout: float | None = None, *, backlog: Backlog = 1) -> Permit | None:
        """Wait (without blocking the event loop, asyncio or trio) for a permit; None if none within ``timeout``
        seconds (``backlog``: as for ``acquire``)."""
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            got = await self._next_async(backlog() if callable(backlog) else backlog, deadline)
            if got is None or isinstance(got, Permit):
                return got
            await self._async_sleep(got)

    async def _next_async(self, backlog: int, deadline: float | None) -> Permit | float | None:
        """``_next`` for a caller on an event loop; a store that blocks is never waited on there.

        On asyncio the store's calls are awaited on the loop (``_on_loop``). Elsewhere (trio, a Cluster)
        the try runs in a worker thread, which is not abandoned if the caller is cancelled meanwhile: the
        permit it got is returned (the cancellation comes at the caller's next checkpoint, where a caller
        gives its permit back). The threads take turns (``_thread_turn``): thirty tasks asking at a window
        boundary would otherwise be thirty threads running Python at once, and the event loop would wait
        its turn for the GIL behind all of them (48 ms worst tick, ``make bench`` section 13)."""
        link = self._link
        if link is None or not link.blocking:
            return self._next(backlog, deadline)
        from .store import loop_store

        store = loop_store(link.store)
        if store is None:
            import anyio.to_thread

            return await anyio.to_thread.run_sync(self._next_in_turn, backlog, deadline)
        got = await _on_loop(self._try(backlog), store)
        if self._in_time(got, deadline):
            return got
        again = await _on_loop(self._try(1), store) if backlog > 1 else None
        return again if again is not None and self._in_time(again, deadline) else None

    def _next_in_turn(self, backlog: int, deadline: float | None) -> Permit | float | None:
        with self._thread_turn:
            return self._next(backlog, deadline)

    def _next(self, backlog: Backlog, deadline: float | None) -> Permit | float | None:
        """A try of ``acquire``: a permit, the seconds to wait before the next try, or None when none comes
        before ``deadline``. A probe is never worth missing the deadline: a wait past it is asked again
        without the backlog (the send goes now if the window has room)."""
        count = backlog() if callable(backlog) else backlog
        got = self.try_acquire(count)
        if self._in_time(got, deadline):
            return got
        again = self.try_acquire(1) if count > 1 else None
        return again if again is not None and self._in_time(again, deadline) else None

    def _in_time(self, got: Permit | float, deadline: float | None) -> bool:
        return isinstance(got, Permit) or deadline is None or self._clock() + got <= deadline

    def record(
        self,
        permit: Permit,
        remaining: RemainingReq | None,
        *,
        rate_limited: bool = False,
        date: float | None = None,
    ) -> None:
        """Close ``permit`` with what its response said.

        ``remaining`` None: no readable header or no response. ``date``: the exchange's ``Date`` of the
        answer in epoch seconds (None if absent). ``rate_limited`` (a 429) means the window the request
        landed in was full, whatever the header said.
        """
        writes: list[Write | None] = []
        with self._lock:
            if not permit.open:
                return
            permit.open = False
            now = self._clock()
            if remaining is not None:
                self.last_remaining = remaining
            link = self._link
            self._log.answered(permit, now, remaining, date, rate_limited=rate_limited)
            if link is not None:
                if not rate_limited:
                    # Only a trusted ``Date`` names the window the charge stays in (``permit.counted_in``).
                    writes.append(link.settle(self._log, permit, now, permit.counted_in))
                elif self._log.budget is not None:
                    writes.append(link.fill(self._log, permit, now))
                writes.append(link.share_phase(self._log, now, self._adopt_bounds))
        if link is not None:
            link.run(writes)

    def _adopt_bounds(self, shared: tuple[float, float]) -> tuple[float, float] | None:
        link = self._link
        with self._lock:
            return None if link is None else link.adopt_bounds(self._log, shared)

    def cancel(self, permit: Permit) -> None:
        """Give back a permit whose request was never sent."""
        with self._lock:
            if not permit.open:
                return
            permit.open = False
            self._log.unsent(permit)
            link = self._link
            write = None if link is None else link.settle(self._log, permit, self._clock(), None, sent=False)
        if link is not None:
            link.run([write])

    def block(self, seconds: float | None, reason: str) -> float:
        """A 418: send nothing in this pocket (every group, every key) for ``seconds`` (None:
        ``DEFAULT_BLOCK_SECONDS``; at most ``MAX_BLOCK_SECONDS``). Returns the end of the block (epoch seconds);
        a shorter block never shortens a longer one, and a longer one the store holds lengthens ours (at once;
        on an event loop, when the store answers)."""
        with self._lock:
            seconds = DEFAULT_BLOCK_SECONDS if seconds is None or math.isnan(seconds) else seconds
            seconds = min(max(seconds, 0.0), MAX_BLOCK_SECONDS)
            now = self._clock()
            until = now + seconds
            if until > self._block.until:
                self._block.until = until
                self._block.reason = reason
            link = self._link
            write = None if link is None else link.block(until, seconds, now, self._blocked_in_store)
        if link is not None:
            link.run([write])
        with self._lock:
            return self._block.until

    def _blocked_in_store(self, until: float) -> None:
        with self._lock:
            self._block.until = max(self._block.until, until)

    def __repr__(self) -> str:
        return f"RateLimiter(group={self.group!r}, per_second={self.per_second!r})"


def _blocking(steps: Generator[_StoreStep, object, T]) -> T:
    """Make the steps of ``RateLimiter._try`` with the store's blocking calls (without the limiter's lock)."""
    try:
        step = next(steps)
        from .store import StoreLink  # with a store only: a limiter without one does not load its modules

        while True:
            ask, call = step
            step = steps.send(StoreLink.load_phase(ask) if call == "read_phase" else StoreLink.ask(ask))
    except StopIteration as done:
        return cast("T", done.value)


async def _on_loop(steps: Generator[_StoreStep, object, T], store: LoopStore) -> T:
    """Make the steps of ``RateLimiter._try`` with ``store``'s calls awaited on the running asyncio loop
    (``redis_store.LoopBudget``), shielded: a caller cancelled meanwhile gets its permit, to give back."""
    import anyio  # the async paths' own: the sync batch's import path loads neither anyio nor asyncio

    from .store import caught

    with anyio.CancelScope(shield=True):
        try:
            step = next(steps)
            while True:
                ask, call = step
                step = steps.send(await caught(store.load_phase() if call == "read_phase" else store.take(ask.send)))
        except StopIteration as done:
            got = cast("T", done.value)
    return got


_registry: dict[tuple[str, str], RateLimiter] = {}
_blocks: dict[str, KeyBlock] = {}
_failed_stores: set[str] = set()
"""Stores that cannot be used at all in this process (redis-py missing)."""
_registry_lock = threading.Lock()


def limiter_for(
    access_key: str, rate_limit: RateLimit | None, store: str | None = None, *, pocket: str | None = None
) -> RateLimiter:
    """The process-wide limiter of ``access_key``'s pocket (``pocket``: its name, if the key was named into one;
    ``pocket_id``) for the group ``rate_limit`` names (from the spec), with the pocket's one 418 block.

    ``store`` (``redis://HOST:PORT/DB``) shares the budget with other processes and machines too; if the store
    cannot be set up the limiter paces in-process, after one warning (``docs/pacing.md``).
    """
    group = "" if rate_limit is None else rate_limit.group
    per_second = None if rate_limit is None else rate_limit.per_second
    window = 1 if rate_limit is None else rate_limit.window_seconds
    owner = pocket_id(access_key, pocket)
    with _registry_lock:
        limiter = _registry.get((owner, group))
        if limiter is None:
            key_block = _blocks.setdefault(owner, KeyBlock())
            limiter = RateLimiter(group, per_second, key_block=key_block, window_seconds=window)
            _registry[(owner, group)] = limiter
        if store and per_second is not None and limiter.store_link is None and store not in _failed_stores:
            from .store import StoreUnavailable, open_store  # the store's modules load with the first store

            try:
                limiter.use_store(open_store(store, owner, group, per_second, window_seconds=window))
            except StoreUnavailable as error:
                _failed_stores.add(store)
                log.warning("%s; pacing in this process only", error)
        return limiter


def reset_limiters() -> None:
    """Forget every shared limiter (for tests, or after the keys changed)."""
    with _registry_lock:
        _registry.clear()
        _blocks.clear()
        _failed_stores.clear()
        if f"{__package__}.store" in sys.modules:  # else no store was used: no warning to forget
            from .store import forget_warnings

            forget_warnings()

"""Client-side pacing for Upbit's rate-limit groups, by the exchange's own whole seconds.

Upbit counts requests per group and account in whole seconds of ITS clock, at the moment a request
arrives. ``RateLimiter`` keeps one budget per (access key, group) and paces by where the exchange's
windows start, as far as the answers tell (``phase.PhaseEstimate``):

- Every request is logged. A send at ``t`` is allowed while fewer than ``per_second`` logged requests
  could share an exchange window with it. A request counts while it is in flight (it may reach the
  exchange in any window: a new connection or a queue can hold it back), and once answered at ``r`` it
  counts until the window holding ``r`` surely ended (``PhaseEstimate.boundary_after(r)``): it arrived
  no later than ``r``. With the phase unknown that is ``r + 1`` (safe for every phase); with the phase
  known it is the end of that window, so a fresh window's budget can be spent the moment it surely
  opened. No latency is assumed anywhere in this rule.
- Until the phase is known, ``reserve`` of the budget is not spent at once but trickled out (one send
  per ``1/reserve`` s), so that some answer lands after the exchange's next boundary and shows it,
  without betting a whole second's budget on a guess.
- ``Remaining-Req`` lower than the logged sends explain (another process of the account spends the
  same budget) adds that many "foreign" sends to the log; a 429 fills the window of its send.
- A 418 blocks the key: ``try_acquire``/``acquire`` raise ``KeyBlocked`` until the block ends, so
  nothing is sent with it meanwhile.

One limiter is shared by every batch of the process through ``limiter_for``; it is thread-safe and
usable from threads and asyncio tasks at once (its lock is never held while waiting). The core takes
an injectable clock and sleeps, so tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from upbit_client.rules import RateLimit

from .phase import KNOWN_WIDTH, PhaseEstimate
from .remaining_req import RemainingReq
from .store import SharedBudget, StoreUnavailable, redacted_url

log = logging.getLogger("upbit_cancel.ratelimit")

__all__ = [
    "DEFAULT_BLOCK_SECONDS",
    "KeyBlock",
    "KeyBlocked",
    "Permit",
    "RateLimiter",
    "block_seconds",
    "limiter_for",
    "reset_limiters",
]

Clock = Callable[[], float]
Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]

DEFAULT_BLOCK_SECONDS = 600.0
"""How long a 418 is assumed to last when its message names no time. Upbit's blocks grow with repeat
offences and the exchange does not document them; sending into a block lengthens it, so the guess errs long."""

MAX_BLOCK_SECONDS = 3600.0
"""The longest block a 418 is taken to announce: one hour. Upbit names its blocks in seconds or minutes; a
message naming more (``Blocked for 99999999999999999 hours.``) is read as an hour. Should the exchange still
block after it, the next request meets a new 418 and the block starts again: one request an hour, not a
process that sends nothing for a day."""

# Base safety margin (seconds) around the estimated window boundaries, for clock and scheduling jitter.
_BASE_MARGIN = 0.005
# How often a caller waiting only on requests in flight looks again (their answers free the budget).
_IN_FLIGHT_POLL = 0.02
# A request in flight longer than this is taken as lost (no caller waits that long for an answer).
_STALE_IN_FLIGHT = 300.0
# Logged sends older than this can never count again (a send stops counting at most 1 s after it).
_LOG_HORIZON = 1.5
STORE_RETRY_SECONDS = 10.0
"""After the shared store failed, the limiter paces in-process this long, then tries the store again."""

_BLOCK_TIME = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?|초|분|시간)\b",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "초": 1.0, "분": 60.0, "시간": 3600.0}


def block_seconds(message: str | None) -> float | None:
    """The block time a 418 message names (``Blocked for 60 seconds.``, ``... 5 minutes``, ``10초``), or None."""
    if not message:
        return None
    match = _BLOCK_TIME.search(message)
    if match is None:
        return None
    unit = match["unit"].lower()
    key = unit if unit in _UNIT_SECONDS else ("ms" if unit.startswith("mil") else unit[0])
    return min(float(match["n"]) * _UNIT_SECONDS[key], MAX_BLOCK_SECONDS)


def _stamp(epoch: float) -> str:
    """``epoch`` as an ISO time, or as a number when no calendar can show it (a store written by a bad peer)."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return f"epoch {epoch:g}"


class KeyBlocked(Exception):
    """The exchange blocked this access key (HTTP 418) until ``until`` (wall-clock epoch seconds)."""

    def __init__(self, group: str, until: float, reason: str) -> None:
        super().__init__(f"access key blocked by the exchange until {_stamp(until)} ({reason}); nothing was sent")
        self.group = group
        self.until = until
        self.reason = reason


@dataclass(slots=True)
class KeyBlock:
    """A 418 block of one access key, shared by every limiter of that key (all groups): ``until`` epoch seconds."""

    until: float = -float("inf")
    reason: str = ""


@dataclass(slots=True, eq=False)
class Permit:
    """The right to send one request at local time ``sent_at``; hand it back through the limiter.

    ``answered_at``: when its answer (or failure) was recorded; until then it counts against every window.
    """

    sent_at: float
    open: bool = True
    answered_at: float | None = None
    counted_in: float | None = None
    """The exchange second its answer's ``Date`` named: the window it was counted in."""
    charged: tuple[bool, list[int]] | None = None
    """What the shared store charged for it: (exchange windows, else local seconds; their numbers)."""


class RateLimiter:
    """A per-second budget for one rate-limit ``group`` of one access key, paced by the exchange's second.

    ``per_second`` None means the spec names no budget: only the exchange's ``Remaining-Req`` and
    429s pace the requests. ``reserve`` (default a third of ``per_second``) is trickled out while the
    exchange's phase is unknown. ``clock`` must return wall-clock seconds; ``sleep``/``async_sleep``
    are injectable for tests.
    """

    def __init__(
        self,
        group: str,
        per_second: int | None,
        *,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        async_sleep: AsyncSleep = asyncio.sleep,
        reserve: int | None = None,
        key_block: KeyBlock | None = None,
    ) -> None:
        if per_second is not None and per_second < 1:
            raise ValueError(f"per_second must be at least 1 or None; given: {per_second!r}")
        self.group = group
        self.per_second = per_second
        self._learned_budget: int | None = None
        """With no spec budget: the most a window of the exchange was seen to hold (``sec`` + 1)."""
        self.reserve = max(0, min(per_second - 1, per_second // 3 if reserve is None else reserve)) if per_second else 0
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._lock = threading.Lock()
        self.phase = PhaseEstimate()
        """What the answers told about where the exchange's windows start (read it, do not change it)."""
        self._sends: deque[Permit] = deque()
        self._last_send = -float("inf")
        self._in_flight = 0
        self._rtts: deque[float] = deque(maxlen=32)
        # Round trips of requests sent after an answer had come back: no connection set-up in them.
        self._warm_rtts: deque[float] = deque(maxlen=32)
        self._first_answer = math.inf
        self._last_answer: tuple[float, float, int] | None = None
        self._block = KeyBlock() if key_block is None else key_block
        self._shared: SharedBudget | None = None
        self._paused: SharedBudget | None = None
        """The store while it is failing: tried again at ``_retry_at``."""
        self._retry_at = -math.inf
        self._saved_phase: tuple[float, float] | None = None
        self.last_remaining: RemainingReq | None = None
        """The ``Remaining-Req`` of the last response recorded, whatever its group."""

    # --- the pure rules (called with the lock held) --------------------------------------------------

    def _budget(self) -> int | None:
        return self.per_second if self.per_second is not None else self._learned_budget

    def _margin(self) -> float:
        # The log needs no latency bound (see ``_end``); this is for scheduling and clock reading.
        return _BASE_MARGIN

    def _latency(self) -> float:
        """A typical one-way latency bound for naming a send's windows in the store: the quickest warm round trip."""
        rtts = self._warm_rtts or self._rtts
        return min(rtts) if rtts else 0.0

    def _known(self) -> bool:
        return self.phase.known

    def _reserve_now(self) -> int:
        """The reserve to trickle while the phase is unknown; none when round trips are too slow to pin it."""
        # Judged on warm round trips only: the first answers of a batch carry connection set-up.
        if not self.reserve or (self._warm_rtts and min(self._warm_rtts) + 1.0 / self.reserve >= KNOWN_WIDTH):
            return 0
        return self.reserve

    def _end(self, entry: Permit) -> float:
        """When a logged request stops counting: never while in flight (it may yet arrive in any window);
        once answered at ``r`` it arrived no later than ``r``, so at the end of the window holding ``r``;
        and if its ``Date`` named its window (phase anchored), at the end of that window."""
        if entry.answered_at is None:
            return math.inf
        end = self.phase.boundary_after(entry.answered_at, self._margin())
        if entry.counted_in is not None and self.phase.anchored and self.phase.lo is not None:
            end = min(end, entry.counted_in + 1 - self.phase.lo + self._margin())
        return end

    def _live(self, now: float) -> list[float]:
        """When each logged request that may still share a window with a send at ``now`` stops counting, sorted."""
        self._sends = deque(
            entry
            for entry in self._sends
            if (entry.answered_at is None and entry.sent_at > now - _STALE_IN_FLIGHT)
            or (entry.answered_at is not None and entry.answered_at > now - _LOG_HORIZON)
        )
        ends = (self._end(entry) for entry in self._sends)
        return sorted(end for end in ends if end > now)

    def _wait(self, now: float) -> float:
        """0 if a send at ``now`` is allowed, else the seconds until one may be."""
        budget = self._budget()
        if budget is None:
            return 0.0
        live = self._live(now)
        if len(live) >= budget:
            end = live[len(live) - budget]
            # Requests still in flight stop counting only when answered: look again shortly.
            return _IN_FLIGHT_POLL if math.isinf(end) else end - now
        reserve = self._reserve_now() if self.per_second is not None else 0
        if self._known() or len(live) < budget - reserve:
            return 0.0
        # Phase unknown and only the reserve left: trickle it, so an answer shows the next boundary.
        return max(0.0, self._last_send + 1.0 / reserve - now)

    def _possibly_with(self, sent: float, before: float) -> int:
        """Logged requests sent no later than ``before`` that may share the exchange window of the send at ``sent``."""
        return sum(
            1 for entry in self._sends if entry.sent_at <= before and (entry.sent_at >= sent or self._end(entry) > sent)
        )

    def _learn(self, permit: Permit, now: float, remaining: RemainingReq | None, date: float | None) -> None:
        self._rtts.append(now - permit.sent_at)
        if permit.sent_at >= self._first_answer:
            self._warm_rtts.append(now - permit.sent_at)
        self._first_answer = min(self._first_answer, now)
        if date is not None:
            self.phase.observe_date(permit.sent_at, now, date)
        if remaining is None or remaining.group != self.group:
            return
        last = self._last_answer
        if last is not None and permit.sent_at >= last[1] and remaining.sec > last[2]:
            # Sent after the previous answer came back and more is left: a new window opened between the
            # previous send and this answer.
            self.phase.observe_tick(last[0], now)
        if last is None or permit.sent_at > last[0]:
            self._last_answer = (permit.sent_at, now, remaining.sec)

    def _account_foreign(self, permit: Permit, now: float, used: int) -> None:
        """``used`` requests were counted in the window of ``permit``'s send: log the ones not ours."""
        foreign = used - self._possibly_with(permit.sent_at, now)
        for _ in range(max(0, foreign)):
            # Counted by the time our answer left: they stop counting when our request's window surely ended.
            self._sends.append(Permit(permit.sent_at, open=False, answered_at=now, counted_in=permit.counted_in))

    # --- the shared store (Redis), called with the lock held ----------------------------------------

    def use_store(self, shared: SharedBudget) -> None:
        """Share this budget (and 418 blocks, and the learned phase) with every process using ``shared``."""
        with self._lock:
            self._shared = shared

    @property
    def store(self) -> SharedBudget | None:
        """The shared store in use now: None without one, or while it is failing (see ``STORE_RETRY_SECONDS``)."""
        return self._shared

    def _store_failed(self, error: StoreUnavailable) -> None:
        """Pace in-process for ``STORE_RETRY_SECONDS``, then try again; one warning per store and process."""
        assert self._shared is not None
        url = self._shared.url
        if url not in _warned_stores:
            _warned_stores.add(url)
            log.warning(
                "%s; pacing in this process only until it answers again (tried every %g s)", error, STORE_RETRY_SECONDS
            )
        else:
            log.debug("%s; still pacing in this process only", error)
        self._paused, self._shared = self._shared, None
        self._retry_at = self._clock() + STORE_RETRY_SECONDS

    def _retry_store(self, now: float) -> None:
        if self._paused is not None and now >= self._retry_at:
            self._shared, self._paused = self._paused, None

    def _windows(self, t: float, *, in_flight: bool = False) -> tuple[list[int] | None, list[int]]:
        """(exchange windows a send at ``t`` may land in, local seconds to count or check) for the store.

        Windows are None unless the phase is known and dated; then the local seconds are those whose
        counts hold every phase-unknown send (of another process) that may share those windows.
        ``in_flight``: one window (or local second) more, for a request held up on its way; its answer
        gives back what it did not use (``_settle_shared``).
        """
        second = math.floor(t)
        if not self._known() or not self.phase.anchored or self.phase.lo is None or self.phase.hi is None:
            return None, [second, second + 1, second + 2] if in_flight else [second, second + 1]
        margin = self._margin()
        lo, hi = self.phase.lo - margin, self.phase.hi + self._latency() + margin
        windows = sorted({math.floor(t + lo), math.floor(t + hi)})
        if in_flight:
            windows.append(windows[-1] + 1)
        # Window w spans local [w - hi, w + 1 - lo); a count of local second k holds sends of k - 1 and k.
        seconds = sorted({s for w in windows for s in (math.floor(w - hi) + 1, math.floor(w + 1 - lo))})
        return windows, seconds

    def _take_shared(self, now: float) -> tuple[float, tuple[bool, list[int]] | None]:
        """(0, what was charged) if the shared budget let the send at ``now`` through, else (seconds to wait, None)."""
        assert self._shared is not None
        try:
            for _ in range(2):
                windows, seconds = self._windows(now, in_flight=True)
                result = self._shared.take(windows, seconds)
                if not result.phase_in_store:
                    break
                self._adopt_shared_phase()
        except StoreUnavailable as error:
            self._store_failed(error)
            return 0.0, None
        if result.blocked_until is not None:
            self._block.until = max(self._block.until, result.blocked_until)
            self._block.reason = self._block.reason or "blocked (seen in the shared store)"
            raise KeyBlocked(self.group, self._block.until, self._block.reason)
        if result.taken:
            return 0.0, (windows is not None, windows if windows is not None else seconds)
        if self._known() and self.phase.lo is not None:
            # Ask again once the earliest window this send may reach has surely closed: within the
            # uncertain band around a boundary that is soon, not a second later.
            lo = self.phase.lo - self._margin()
            return max(_BASE_MARGIN, math.floor(now + lo) + 1 - lo - now), None
        return max(_BASE_MARGIN, math.floor(now) + 1 - now), None

    def _settle_shared(self, permit: Permit, now: float, date: float | None, *, sent: bool = True) -> None:
        """The answer to ``permit`` (at ``now``; ``date`` its exchange second, if any) settles its store charge.

        Never sent: every charge is given back. Dated, with windows charged: the window the ``Date``
        names keeps the charge (and is charged if it was not), the others give it back. Otherwise the
        request arrived no later than its answer: windows (local seconds) that opened after ``now``
        give it back.
        """
        charged, permit.charged = permit.charged, None
        if charged is None or self._shared is None:
            return
        exchange_windows, numbers = charged
        if not sent:
            give_back, take = numbers, []
        elif exchange_windows and date is not None:
            landed = math.floor(date)
            give_back = [n for n in numbers if n != landed]
            take = [] if landed in numbers else [landed]
        elif exchange_windows:
            hi = (self.phase.hi if self.phase.hi is not None else 1.0) + self._margin()
            give_back, take = [n for n in numbers if n > math.floor(now + hi)], []
        else:
            give_back, take = [n for n in numbers if n > math.floor(now) + 1], []
        try:
            self._shared.settle(exchange_windows, give_back, take)
        except StoreUnavailable as error:
            self._store_failed(error)

    def _adopt_shared_phase(self) -> None:
        assert self._shared is not None
        shared = self._shared.load_phase()
        if shared is not None and not self._known():
            self.phase.lo, self.phase.hi = shared
            self.phase.anchored = True
            self._saved_phase = shared

    def _share_phase(self) -> None:
        if self._shared is None or not self._known() or not self.phase.anchored:
            return
        assert self.phase.lo is not None and self.phase.hi is not None
        current = (self.phase.lo, self.phase.hi)
        saved = self._saved_phase
        if saved is not None and abs(saved[0] - current[0]) < 0.001 and abs(saved[1] - current[1]) < 0.001:
            return
        try:
            self._shared.save_phase(*current)
        except StoreUnavailable as error:
            self._store_failed(error)
            return
        self._saved_phase = current

    # --- taking and giving back permits --------------------------------------------------------------

    def _check_block(self, now: float) -> None:
        if now < self._block.until:
            raise KeyBlocked(self.group, self._block.until, self._block.reason)

    @property
    def remaining(self) -> int | None:
        """Requests this limiter would let out right now, one after another (None: unbounded)."""
        with self._lock:
            budget = self._budget()
            if budget is None:
                return None
            now = self._clock()
            return max(0, budget - len(self._live(now)))

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def blocked_until(self) -> float | None:
        """The end of a 418 block on this key (epoch seconds), or None if not blocked."""
        with self._lock:
            return self._block.until if self._clock() < self._block.until else None

    def try_acquire(self) -> Permit | float:
        """A permit if a send is allowed now, else the seconds to wait; ``KeyBlocked`` during a 418 block."""
        with self._lock:
            now = self._clock()
            self._check_block(now)
            wait = self._wait(now)
            if wait > 0:
                return wait
            charged = None
            self._retry_store(now)
            if self._shared is not None:
                back = self._shared.url in _warned_stores
                wait, charged = self._take_shared(now)
                if back and self._shared is not None:
                    _warned_stores.discard(self._shared.url)
                    log.info(
                        "rate-limit store %s answers again: the budget is shared again", redacted_url(self._shared.url)
                    )
                if wait > 0:
                    return wait
            permit = Permit(now, charged=charged)
            self._sends.append(permit)
            self._last_send = now
            self._in_flight += 1
            return permit

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
        with self._lock:
            if not permit.open:
                return
            permit.open = False
            self._in_flight -= 1
            now = self._clock()
            permit.answered_at = now
            permit.counted_in = date
            if not rate_limited:
                self._settle_shared(permit, now, date)
            if remaining is not None:
                self.last_remaining = remaining
            if remaining is None and date is None and not rate_limited:
                return
            self._learn(permit, now, remaining, date)
            self._share_phase()
            if self.per_second is None and remaining is not None and remaining.group == self.group:
                # No spec budget: the exchange's own count says how much a window holds.
                self._learned_budget = max(self._learned_budget or 0, remaining.sec + 1)
            budget = self._budget()
            if budget is None:
                return
            if rate_limited:
                self._account_foreign(permit, now, budget)
                if self._shared is not None:
                    try:
                        self._shared.fill(*self._windows(permit.sent_at))
                    except StoreUnavailable as error:
                        self._store_failed(error)
            elif remaining is not None and remaining.group == self.group:
                self._account_foreign(permit, now, budget - remaining.sec)

    def cancel(self, permit: Permit) -> None:
        """Give back a permit whose request was never sent."""
        with self._lock:
            if not permit.open:
                return
            permit.open = False
            self._in_flight -= 1
            with contextlib.suppress(ValueError):
                self._sends.remove(permit)
            self._settle_shared(permit, self._clock(), None, sent=False)

    def block(self, seconds: float | None, reason: str) -> float:
        """A 418: send nothing with this key (every group) for ``seconds`` (None: ``DEFAULT_BLOCK_SECONDS``; at most
        ``MAX_BLOCK_SECONDS``).

        Returns the end of the block (epoch seconds); a shorter block never shortens a longer one.
        """
        with self._lock:
            seconds = DEFAULT_BLOCK_SECONDS if seconds is None or math.isnan(seconds) else seconds
            seconds = min(max(seconds, 0.0), MAX_BLOCK_SECONDS)
            until = self._clock() + seconds
            if until > self._block.until:
                self._block.until = until
                self._block.reason = reason
            if self._shared is not None:
                try:
                    self._block.until = max(self._block.until, self._shared.block(until, seconds))
                except StoreUnavailable as error:
                    self._store_failed(error)
            return self._block.until

    def __repr__(self) -> str:
        return f"RateLimiter(group={self.group!r}, per_second={self.per_second!r})"


_registry: dict[tuple[str, str], RateLimiter] = {}
_blocks: dict[str, KeyBlock] = {}
_failed_stores: set[str] = set()
"""Stores that cannot be used at all in this process (redis-py missing)."""
_warned_stores: set[str] = set()
"""Stores failing right now, already warned about."""
_registry_lock = threading.Lock()


def limiter_for(access_key: str, rate_limit: RateLimit | None, store: str | None = None) -> RateLimiter:
    """The process-wide limiter of ``access_key`` for the group ``rate_limit`` names (from the spec).

    Every batch of the process sending with the same key in the same group shares it, so two
    concurrent batches together stay within the group's budget, and a 418 met by one stops all.
    ``store`` (``redis://HOST:PORT/DB``) shares the budget with other processes and machines too; if
    the store cannot be set up the limiter paces in-process, after one warning.
    """
    group = "" if rate_limit is None else rate_limit.group
    per_second = None if rate_limit is None else rate_limit.per_second
    with _registry_lock:
        limiter = _registry.get((access_key, group))
        if limiter is None:
            key_block = _blocks.setdefault(access_key, KeyBlock())
            limiter = _registry[(access_key, group)] = RateLimiter(group, per_second, key_block=key_block)
        if (
            store
            and per_second is not None
            and limiter.store is None
            and limiter._paused is None
            and store not in _failed_stores
        ):
            try:
                limiter.use_store(SharedBudget(store, access_key, group, per_second))
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
        _warned_stores.clear()

"""The link between one limiter and a shared budget store (Redis, or the in-memory one), in named states.

``StoreLink`` is ``ACTIVE`` (every send is charged in the store) or ``PAUSED`` (the store failed: the
limiter paces in-process until ``STORE_RETRY_SECONDS`` passed, then the link is active again). It names
a send's windows for the store from what the ``WindowLog`` knows, settles a charge when its answer
comes, shares the learned phase and the 418 blocks. It holds no lock: the limiter calls it under its own.

What a send is charged (see ``store``'s rules): with the phase known and dated, the exchange windows it
may land in; else the local windows ``floor(t / w)`` and the next. The charge also holds one window
more while the request is in flight (held up on its way, it may arrive later than it was sent) — but
only while it is in flight: its answer settles the charge (the window its ``Date`` names keeps it).
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass
from typing import Protocol

from .store import StoreUnavailable, TakeResult, redacted_url
from .window_log import BASE_MARGIN, IN_FLIGHT_POLL, Permit, WindowLog

__all__ = ["STORE_RETRY_SECONDS", "BudgetStore", "LinkState", "StoreLink", "Taken", "forget_warnings"]

log = logging.getLogger("upbit_cancel.ratelimit")

STORE_RETRY_SECONDS = 10.0
"""After the shared store failed, the limiter paces in-process this long, then tries the store again."""

_warned_stores: set[str] = set()
"""Stores failing right now, already warned about (one warning per store and process)."""


def forget_warnings() -> None:
    _warned_stores.clear()


class BudgetStore(Protocol):
    """What a limiter needs of a shared budget: ``store.SharedBudget`` (Redis) and ``memory_store.MemoryBudget``."""

    url: str

    def take(
        self,
        windows: list[int] | None,
        local_windows: list[int],
        *,
        ask_phase: bool = True,
        trickle: tuple[int, float, float] | None = None,
    ) -> TakeResult: ...
    def fill(self, windows: list[int] | None, local_windows: list[int]) -> None: ...
    def settle(
        self, exchange_windows: bool, give_back: list[int], take: list[int], settled: list[int] | tuple[()] = ()
    ) -> None: ...
    def block(self, until: float, seconds: float) -> float: ...
    def save_phase(self, lo: float, hi: float) -> None: ...
    def load_phase(self) -> tuple[float, float] | None: ...


class LinkState(enum.Enum):
    ACTIVE = "active"
    """Every send is charged in the store."""
    PAUSED = "paused"
    """The store failed: pacing in-process only until ``retry_at``."""


@dataclass(frozen=True, slots=True)
class Taken:
    """What the store said to a send: ``charge`` (taken), else ``wait`` seconds, else ``blocked_until``."""

    charge: tuple[bool, list[int]] | None = None
    wait: float = 0.0
    blocked_until: float | None = None


class StoreLink:
    def __init__(self, store: BudgetStore) -> None:
        self.store = store
        self.state = LinkState.ACTIVE
        self.retry_at = -math.inf
        self._saved_phase: tuple[float, float] | None = None
        self._quiet_until = -math.inf
        """The store said no until then: every send of the process waits without asking it again."""

    @property
    def url(self) -> str:
        return self.store.url

    def current(self, now: float) -> BudgetStore | None:
        """The store if the link is active at ``now`` (a paused link whose time came is active again)."""
        if self.state is LinkState.PAUSED and now >= self.retry_at:
            self.state = LinkState.ACTIVE
        return self.store if self.state is LinkState.ACTIVE else None

    def _failed(self, error: StoreUnavailable, now: float) -> None:
        if self.url not in _warned_stores:
            _warned_stores.add(self.url)
            log.warning(
                "%s; pacing in this process only until it answers again (tried every %g s)", error, STORE_RETRY_SECONDS
            )
        else:
            log.debug("%s; still pacing in this process only", error)
        self.state = LinkState.PAUSED
        self.retry_at = now + STORE_RETRY_SECONDS

    def _answered(self) -> None:
        if self.url in _warned_stores:
            _warned_stores.discard(self.url)
            log.info("rate-limit store %s answers again: the budget is shared again", redacted_url(self.url))

    # --- naming a send's windows -----------------------------------------------------------------------

    @staticmethod
    def windows(book: WindowLog, t: float, *, in_flight: bool = False) -> tuple[list[int] | None, list[int]]:
        """(exchange windows a send at ``t`` may land in, local windows to count or check) for the store.

        Windows are None unless the phase is known and dated; then the local windows are those whose
        counts hold every phase-unknown send (of another process) that may share those windows.
        ``in_flight``: one window more, for a request held up on its way (its answer gives it back).
        """
        w = book.window
        phase = book.phase
        local = math.floor(t / w)
        if not book.known or not phase.anchored or phase.lo is None or phase.hi is None:
            return None, [local, local + 1, local + 2] if in_flight else [local, local + 1]
        lo, hi = phase.lo - BASE_MARGIN, phase.hi + book.latency + BASE_MARGIN
        windows = sorted({math.floor((t + lo) / w), math.floor((t + hi) / w)})
        if in_flight:
            windows.append(windows[-1] + 1)
        # Window n spans local [n*w - hi, (n+1)*w - lo); a count of local window k holds sends of k - 1 and k.
        seconds = sorted(
            {s for n in windows for s in (math.floor((n * w - hi) / w) + 1, math.floor(((n + 1) * w - lo) / w))}
        )
        return windows, seconds

    # --- the store's side of a send ----------------------------------------------------------------------

    def take(self, book: WindowLog, now: float) -> Taken:
        """Charge a send at ``now`` in the store (active link only; a failure pauses it and lets the send go)."""
        store = self.current(now)
        if store is None:
            return Taken()
        if now < self._quiet_until:
            return Taken(wait=self._quiet_until - now)
        try:
            windows, seconds = self.windows(book, now, in_flight=True)
            result = store.take(windows, seconds, trickle=self._trickle(book, windows, now))
            if result.phase_in_store:
                self._adopt_phase(book, store)
                windows, seconds = self.windows(book, now, in_flight=True)
                # Asked once: a phase that cannot be read (or used) does not stop the send.
                result = store.take(windows, seconds, ask_phase=False, trickle=self._trickle(book, windows, now))
        except StoreUnavailable as error:
            self._failed(error, now)
            return Taken()
        self._answered()
        if result.blocked_until is not None:
            return Taken(blocked_until=result.blocked_until)
        if result.taken:
            return Taken(charge=(windows is not None, windows if windows is not None else seconds))
        w = book.window
        if book.known and book.phase.lo is not None:
            # Ask again once the earliest window this send may reach has surely closed: within the
            # uncertain band around a boundary that is soon, not a window later.
            lo = book.phase.lo - BASE_MARGIN
            wait = max(BASE_MARGIN, (math.floor((now + lo) / w) + 1) * w - lo - now)
        else:
            wait = max(BASE_MARGIN, (math.floor(now / w) + 1) * w - now)
        if result.trickling:
            wait = min(wait, book.window / max(1, book.reserve_now()))
        elif result.held:
            # Full only of charges of requests in flight: their answers give back what they did not use,
            # so the window may open any moment (waiting for the next one would lose a whole window).
            wait = min(wait, max(IN_FLIGHT_POLL, book.latency))
        self._quiet_until = now + wait
        return Taken(wait=wait)

    @staticmethod
    def _trickle(book: WindowLog, windows: list[int] | None, now: float) -> tuple[int, float, float] | None:
        """Phase unknown: the host's processes trickle the last ``reserve`` of each count together, so that
        their sends spread over the second and some answer shows where the exchange's boundary falls."""
        reserve = book.reserve_now() if windows is None and book.per_second is not None else 0
        return (reserve, book.window / reserve, now) if reserve else None

    def settle(self, book: WindowLog, permit: Permit, now: float, date: float | None, *, sent: bool = True) -> None:
        """The answer to ``permit`` (at ``now``; ``date`` its exchange second) settles its store charge.

        Never sent: every charge is given back. Dated, with windows charged: the window the ``Date``
        names keeps the charge (and is charged if it was not), the others give it back. Otherwise the
        request arrived no later than its answer: windows that opened after ``now`` give it back.
        """
        charged, permit.charged = permit.charged, None
        store = self.current(now)
        if charged is None or store is None:
            return
        exchange_windows, numbers = charged
        w = book.window
        if not sent:
            give_back, take = numbers, []
        elif exchange_windows and date is not None:
            landed = math.floor(date / w)
            give_back = [n for n in numbers if n != landed]
            take = [] if landed in numbers else [landed]
        elif exchange_windows:
            hi = (book.phase.hi if book.phase.hi is not None else 1.0) + BASE_MARGIN
            give_back, take = [n for n in numbers if n > math.floor((now + hi) / w)], []
        else:
            give_back, take = [n for n in numbers if n > math.floor(now / w) + 1], []
        settled = [] if not sent else [n for n in numbers if n not in give_back] + take
        try:
            store.settle(exchange_windows, give_back, take, settled)
            if give_back:
                self._quiet_until = -math.inf  # what this process gave back may be taken at once
        except StoreUnavailable as error:
            self._failed(error, now)

    def fill(self, book: WindowLog, permit: Permit, now: float) -> None:
        """A 429 answered ``permit``: the windows of its send are full, whoever filled them."""
        store = self.current(now)
        if store is None:
            return
        try:
            store.fill(*self.windows(book, permit.sent_at))
        except StoreUnavailable as error:
            self._failed(error, now)

    def block(self, until: float, seconds: float, now: float) -> float:
        """Block the pocket in the store; the end of the block the store holds (``until`` if it failed)."""
        store = self.current(now)
        if store is None:
            return until
        try:
            return store.block(until, seconds)
        except StoreUnavailable as error:
            self._failed(error, now)
            return until

    def _adopt_phase(self, book: WindowLog, store: BudgetStore) -> None:
        """Take the phase another process learned from the ``Date`` headers, unless ours is known and dated.

        Ours may be known from ``Remaining-Req`` alone (not dated: it cannot name the exchange's windows),
        or dated but too wide to pace by (slow answers bound it loosely): either way the stored one serves.
        """
        shared = store.load_phase()
        if shared is not None and not (book.phase.known and book.phase.anchored):
            book.phase.lo, book.phase.hi = shared
            book.phase.anchored = True
            self._saved_phase = shared

    def share_phase(self, book: WindowLog, now: float) -> None:
        store = self.current(now)
        phase = book.phase
        if store is None or not phase.known or not phase.anchored or phase.lo is None or phase.hi is None:
            return
        current = (phase.lo, phase.hi)
        saved = self._saved_phase
        if saved is not None and abs(saved[0] - current[0]) < 0.001 and abs(saved[1] - current[1]) < 0.001:
            return
        try:
            store.save_phase(*current)
        except StoreUnavailable as error:
            self._failed(error, now)
            return
        self._saved_phase = current

"""One budget's pacing as a pure strategy: no clock, no lock, no store (``ratelimit.RateLimiter`` holds a lock
around every call and passes the time in).

``PhaseEstimate``: where the exchange's whole seconds start. With ``psi`` the exchange's clock minus ours, a
request that reaches the exchange at local ``a`` counts in window ``floor(a + psi)``; sent at ``s`` and
answered at ``r``, it reached it at some ``a`` in ``[s, r]`` (all a client can know without assuming how
the round trip splits, and enough: these bounds hold whatever the latency). A ``Date`` ``D`` puts ``psi`` in
``[D - r, D + 1 - s)`` (absolute: it names the exchange's second); ``Remaining-Req sec`` jumping back up
between two answers, the second sent after the first came back, shows a window opened between the first
send and the second answer (a tick, modulo 1: shifted by whole seconds to overlap the estimate most; once
a ``Date`` anchored it, ``Date`` bounds intersect it as they are, since two near-1-wide intervals modulo 1
can meet in two pieces and only the absolute one is right). A new bound that does not meet the estimate
wins: an old belief is worth less than a fresh observation.

But a ``Date`` that contradicts the anchored estimate is not trusted, and makes every ``Date`` suspect: a
server whose machines' clocks disagree (a ``Date`` per connection) or whose ``Date`` jumps by hours would
otherwise move the estimate at every answer, and the first ``Date`` may have been the wrong one. The
estimate is forgotten; ``Date`` is trusted again once ``STEP_CONFIRMATIONS`` bounds in a row agree with each
other (a clock really stepped) and with the ticks learned meanwhile: one connection of such a server agrees
with itself (a trickle reuses one: 20 x 429 in a test before this rule), but the exchange's windows cannot
lie about where its seconds start. Without ticks a suspect ``Date`` stays untrusted (slower, never refused),
and names no window (``learn_date``).

``WindowLog``: may a send go out at ``now``, and if not, how long until one may? By ``docs/pacing.md``'s rules
("What the limiter does"), for ``budget`` requests per window of ``window_seconds`` whole exchange seconds. An
answered request stops counting at ``boundary_after`` its answer (the caller's latency bound added to the upper
end), or at the end of the window its trusted ``Date`` named; ``Remaining-Req`` lower than the logged sends
explain adds that many "foreign" sends (another process or key of the pocket).

Probes: once the phase is known but still wider than ``PROBE_WIDTH`` (plus the quickest round trip), the last
free send of a window may be held back to the middle of the next boundary's uncertainty, when the caller has more
to send (``backlog``) and holding it back cannot cost a window (``_probe_wait``). It is safe wherever it lands:
the old window kept its slot for it, and in the new one it counts like any send. Its answer halves the
uncertainty; while it is out, callers waiting for the next window look again every ``PROBE_POLL`` s, so when it
shows the new window has begun they go at once, not at the latest boundary the estimate allowed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from .remaining_req import RemainingReq

__all__ = [
    "BASE_MARGIN",
    "IN_FLIGHT_POLL",
    "KNOWN_WIDTH",
    "PROBE_POLL",
    "PROBE_WIDTH",
    "STEP_CONFIRMATIONS",
    "Permit",
    "PhaseEstimate",
    "WindowLog",
]

BASE_MARGIN = 0.005
"""Safety margin (seconds) around the estimated window boundaries, for clock and scheduling jitter."""
IN_FLIGHT_POLL = 0.02
"""How often a caller waiting only on requests in flight looks again (their answers free the budget)."""
STORE_RETRY_SECONDS = 10.0
"""After the shared store failed, the limiter paces in-process this long, then tries the store again
(``store.StoreLink``; here, not there, so that a limiter without a store need not load the store's modules)."""
PROBE_WIDTH = 0.02
"""A known phase wider than this (plus the quickest round trip) is narrowed by probes (see the module's rules)."""
PROBE_POLL = 0.005
"""How often a caller waiting for the next window looks again while a probe is out."""
# A request in flight longer than this is taken as lost (no caller waits that long for an answer).
_STALE_IN_FLIGHT = 300.0

KNOWN_WIDTH = 0.3
"""An estimate narrower than this (seconds) counts as knowing the phase: a window's budget may then be spent at once."""
STEP_CONFIRMATIONS = 6
"""``Date`` bounds that must agree in a row before a suspect ``Date`` is trusted again (see the module)."""


@dataclass(slots=True)
class PhaseEstimate:
    """``psi`` known to lie in ``[lo, hi)`` (modulo 1), or unknown (``lo``/``hi`` None).

    ``lo`` and ``hi`` are a representative of the interval: shifting both by a whole number means the
    same estimate. ``width`` is ``hi - lo`` (1 when unknown).
    """

    lo: float | None = None
    hi: float | None = None
    anchored: bool = False
    """True once a ``Date`` bound fixed which whole second ``lo``/``hi`` stand for."""
    _doubt: tuple[float, float] | None = field(default=None, init=False, repr=False)
    """While ``Date`` is suspect: the last bounds that agree in a row, intersected (None: ``Date`` is trusted)."""
    _doubts: int = field(default=0, init=False, repr=False)
    """How many ``Date`` bounds in a row ``_doubt`` holds."""

    @property
    def known(self) -> bool:
        """Narrow enough to pace by (``KNOWN_WIDTH``); a wider estimate still shortens waits (``boundary_after``)."""
        return self.known_within(0.0)

    def known_within(self, latency: float) -> bool:
        """``known`` once the one-way ``latency`` bound is added to the width."""
        return self.lo is not None and self.hi is not None and self.hi - self.lo + latency < KNOWN_WIDTH

    @property
    def width(self) -> float:
        if self.lo is None or self.hi is None:
            return 1.0
        return min(1.0, self.hi - self.lo)

    def observe_date(self, sent: float, received: float, date_second: float) -> None:
        """A request sent at local ``sent``, answered at ``received``, carried ``Date`` second ``date_second``."""
        self.learn_date(sent, received, date_second)

    def learn_date(self, sent: float, received: float, date_second: float) -> bool:
        """``observe_date``, saying whether the ``Date`` was trusted (False: see the module's rules)."""
        lo, hi = date_second - received, date_second + 1 - sent
        if self._doubt is not None:
            return self._doubted(lo, hi)
        if self.anchored and self.lo is not None and self.hi is not None and max(self.lo, lo) >= min(self.hi, hi):
            self.lo = self.hi = None
            self.anchored = False
            self._doubt, self._doubts = (lo, hi), 1
            return False
        self._narrow(lo, hi, absolute=self.anchored)
        self.anchored = True
        return True

    def _doubted(self, lo: float, hi: float) -> bool:
        """``Date`` is suspect: the bound ``[lo, hi)`` is trusted once ``STEP_CONFIRMATIONS`` in a row agree."""
        doubt = self._doubt
        if doubt is not None and max(doubt[0], lo) < min(doubt[1], hi):
            self._doubt, self._doubts = (max(doubt[0], lo), min(doubt[1], hi)), self._doubts + 1
        else:
            self._doubt, self._doubts = (lo, hi), 1
        if self._doubts < STEP_CONFIRMATIONS or self._doubt is None:
            return False
        if self.lo is None or self.hi is None or _overlap_modulo_1((self.lo, self.hi), self._doubt) is None:
            # No tick has shown where the exchange's windows start yet, or the streak names seconds the ticks
            # contradict: one connection of a server whose clocks disagree can answer six times in a row (a
            # trickle reuses one connection). Still suspect; the streak goes on and is judged at the next bound.
            return False
        ticks = (self.lo, self.hi)
        (self.lo, self.hi), self.anchored = self._doubt, True
        self._doubt, self._doubts = None, 0
        self._narrow(*ticks, absolute=False)
        return True

    def adopt_bounds(self, lo: float, hi: float) -> bool:
        """Intersect with ``[lo, hi)``, the bounds other processes of this host drew from their own ``Date``
        headers (absolute, so only into an anchored estimate); ignored while ``Date`` is suspect, or when they
        do not meet ours (one of us saw a clock step: the next ``Date`` tells). Whether the estimate narrowed."""
        if not self.anchored or self._doubt is not None or self.lo is None or self.hi is None:
            return False
        new_lo, new_hi = max(self.lo, lo), min(self.hi, hi)
        if new_lo >= new_hi or (new_lo, new_hi) == (self.lo, self.hi):
            return False
        self.lo, self.hi = new_lo, new_hi
        return True

    def observe_tick(self, before: float, after: float) -> None:
        """A new exchange window opened after local time ``before`` and no later than ``after``."""
        if after - before >= 1 or after <= before:
            return  # says nothing modulo 1 (or nonsense)
        # A boundary m - psi in (before, after]: psi in [m - after, m - before) for some whole m.
        self._narrow(-after, -before, absolute=False)

    def _narrow(self, lo: float, hi: float, *, absolute: bool) -> None:
        if self.lo is None or self.hi is None:
            self.lo, self.hi = lo, hi
            return
        if absolute:
            new_lo, new_hi = max(self.lo, lo), min(self.hi, hi)
            self.lo, self.hi = (new_lo, new_hi) if new_lo < new_hi else (lo, hi)
            return
        near = round(((self.lo + self.hi) - (lo + hi)) / 2)
        best = _overlap_modulo_1((self.lo, self.hi), (lo, hi))
        self.lo, self.hi = best if best is not None else (lo + near, hi + near)

    def boundary_after(self, t: float, margin: float, latency: float = 0.0, *, window: int = 1) -> float:
        """The latest local time the exchange's first window boundary after a send at ``t`` can fall on.

        The send reaches the exchange between ``t`` and ``t + latency``; ``margin`` widens the estimate on
        both sides (jitter, rounding). Windows last ``window`` whole exchange seconds (boundaries where the
        exchange's clock is a multiple of it, so a longer window needs a ``Date``-anchored estimate).
        Unknown phase: ``t + window``, which holds whatever the phase (two sends a window apart never
        share one).
        """
        if self.lo is None or self.hi is None or (window > 1 and not self.anchored):
            return t + window
        lo, hi = self.lo - margin, self.hi + latency + margin
        if hi - lo >= 1:
            return t + window
        # For every theta in [lo, hi), the boundary m * window - theta with m = ceil((t + hi) / window)
        # lies after t, and no later than m * window - lo.
        return min(t + window, math.ceil((t + hi) / window) * window - lo)


def _overlap_modulo_1(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float] | None:
    """The widest overlap of ``[a)`` with ``[b)`` moved by a whole number of seconds, or None if they never meet
    (both are at most 1 wide, so one of three neighbouring shifts is the best one)."""
    near = round(((a[0] + a[1]) - (b[0] + b[1])) / 2)
    best: tuple[float, float] | None = None
    for shift in (near - 1, near, near + 1):
        lo, hi = max(a[0], b[0] + shift), min(a[1], b[1] + shift)
        if lo < hi and (best is None or hi - lo > best[1] - best[0]):
            best = (lo, hi)
    return best


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
    """What the shared store charged for it: (exchange windows, else local windows; their numbers)."""
    end: float | None = None
    """When it stops counting, as last worked out (``WindowLog._end``; forgotten when the phase moves)."""


class WindowLog:
    """Sends logged against one budget of ``per_second`` requests per ``window_seconds`` exchange seconds.

    ``per_second`` None: the spec names no budget; the log learns one from ``Remaining-Req``.
    """

    def __init__(self, group: str, per_second: int | None, *, window_seconds: int = 1, reserve: int | None = None):
        if per_second is not None and per_second < 1:
            raise ValueError(f"per_second must be at least 1 or None; given: {per_second!r}")
        if window_seconds < 1:
            raise ValueError(f"window_seconds must be at least 1; given: {window_seconds!r}")
        self.group = group
        self.per_second = per_second
        self.window = window_seconds
        self.reserve: int = (
            max(0, min(per_second - 1, per_second // 3 if reserve is None else reserve)) if per_second else 0
        )
        self.learned_budget: int | None = None
        """With no spec budget: the most a window of the exchange was seen to hold (``sec`` + 1)."""
        self.phase: PhaseEstimate = PhaseEstimate()
        self.sends: deque[Permit] = deque()
        self.last_send: float = -math.inf
        self.in_flight: int = 0
        self._rtts: deque[float] = deque(maxlen=32)
        # Round trips of requests sent after an answer had come back: no connection set-up in them.
        self._warm_rtts: deque[float] = deque(maxlen=32)
        self._first_answer = math.inf
        self._last_answer: tuple[float, float, int] | None = None
        self._ends_for: tuple[float | None, float | None, bool] = (None, None, False)
        """The phase the ends cached on the logged entries were worked out with."""
        self._probing = False
        """The send ``wait`` just allowed is a probe."""
        self.probe: Permit | None = None
        """The probe in flight, if any."""
        self.share: int | None = None
        """This process's share of the budget while the shared store is lost (``store.StoreLink``), else None."""

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def budget(self) -> int | None:
        """The sends a window may hold: the spec's (else the learned) budget, or ``share`` of it if set."""
        budget = self.per_second if self.per_second is not None else self.learned_budget
        return budget if budget is None or self.share is None else max(1, min(budget, self.share))

    @property
    def known(self) -> bool:
        """The phase is narrow enough to pace by, and (for windows longer than a second) anchored by a ``Date``."""
        return self.phase.known and (self.window == 1 or self.phase.anchored)

    @property
    def latency(self) -> float:
        """A typical one-way latency bound for naming a send's windows: the quickest warm round trip."""
        rtts = self._warm_rtts or self._rtts
        return min(rtts) if rtts else 0.0

    def boundary_after(self, t: float, latency: float = 0.0) -> float:
        """The latest local time the first exchange window boundary after a send at ``t`` can fall on."""
        return self.phase.boundary_after(t, BASE_MARGIN, latency, window=self.window)

    def reserve_now(self) -> int:
        """The reserve to trickle while the phase is unknown; none when round trips are too slow to pin it."""
        if not self.reserve or (
            self._warm_rtts and min(self._warm_rtts) + self.window / self.reserve >= KNOWN_WIDTH * self.window
        ):
            return 0
        return self.reserve

    def _end(self, entry: Permit) -> float:
        """When a logged request stops counting (see the module's rules); cached on the entry per phase."""
        if entry.answered_at is None:
            return math.inf
        phase = (self.phase.lo, self.phase.hi, self.phase.anchored)
        if phase != self._ends_for:
            self._ends_for = phase
            for logged in self.sends:
                logged.end = None
        if entry.end is not None:
            return entry.end
        end = self.boundary_after(entry.answered_at)
        if entry.counted_in is not None and self.phase.anchored and self.phase.lo is not None:
            window_start = math.floor(entry.counted_in / self.window) * self.window
            named = window_start + self.window - self.phase.lo + BASE_MARGIN
            # The window it arrived in ended after it was sent: a ``Date`` naming an earlier end was read
            # with an estimate that has moved since (a stepped clock), and names nothing.
            if named > entry.sent_at:
                end = min(end, named)
        entry.end = end
        return end

    def live(self, now: float) -> list[float]:
        """When each logged request that may still share a window with a send at ``now`` stops counting, sorted."""
        horizon, stale = now - self.window - 0.5, now - _STALE_IN_FLIGHT
        kept: deque[Permit] = deque()
        ends: list[float] = []
        for entry in self.sends:
            answered = entry.answered_at
            if answered is None:
                if entry.sent_at > stale:
                    kept.append(entry)
                    ends.append(math.inf)
            elif answered > horizon:
                kept.append(entry)
                end = self._end(entry)
                if end > now:
                    ends.append(end)
        self.sends = kept
        ends.sort()
        return ends

    def wait(self, now: float, backlog: int = 1) -> float:
        """0 if a send at ``now`` is allowed, else the seconds until one may be (``backlog``: the caller's sends
        still to make, this one included; more than one may make this one a probe)."""
        self._probing = False
        budget = self.budget
        if budget is None:
            return 0.0
        live = self.live(now)
        if len(live) >= budget:
            end = live[len(live) - budget]
            # Requests still in flight stop counting only when answered: look again shortly.
            wait = IN_FLIGHT_POLL if math.isinf(end) else end - now
            if self.probe is not None and now - self.probe.sent_at < self.window:
                # Its answer may move the boundary earlier; one out longer than a window has nothing to tell.
                wait = min(wait, PROBE_POLL)
            return wait
        reserve = self.reserve_now() if self.per_second is not None else 0
        if self.known:
            if len(live) == budget - 1 and backlog > 1 and (backlog - 1) % budget:
                return self._probe_wait(now, live)
            return 0.0
        if len(live) < budget - reserve:
            return 0.0
        # Phase unknown and only the reserve left: trickle it, so an answer shows the next boundary.
        return max(0.0, self.last_send + self.window / reserve - now)

    def _probe_wait(self, now: float, live: list[float]) -> float:
        """How long the last free send of the window is held back to be a probe (0: it goes now). ``wait`` asks
        only when the caller's other sends (``backlog - 1``) do not exactly fill whole windows, so the next window
        keeps a slot for the probe if it lands there; held only when the window is really full but for this slot
        (every logged send still counts at the next boundary's earliest time)."""
        lo, hi = self.phase.lo, self.phase.hi
        if lo is None or hi is None or self.window != 1 or hi - lo <= PROBE_WIDTH + self.latency:
            return 0.0  # phase unknown or already narrow, or windows longer than a second
        # The next boundary that may still be ahead of ``now`` lies in (m - hi, m - lo] (local time of
        # arrival); ``now`` may already be inside that interval.
        m = math.floor(now + lo) + 1
        if live and live[0] < m - hi:
            return 0.0  # a send of the window before still counts for a moment: this is not the last slot
        at = m - (lo + hi) / 2 - self.latency / 2  # reaches the exchange mid-interval
        if now < at:
            return at - now
        self._probing = True
        return 0.0

    def remaining(self, now: float) -> int | None:
        budget = self.budget
        return None if budget is None else max(0, budget - len(self.live(now)))

    # --- writing ---------------------------------------------------------------------------------------

    def sent(self, permit: Permit) -> None:
        self.sends.append(permit)
        self.last_send = permit.sent_at
        self.in_flight += 1
        if self._probing:
            self.probe, self._probing = permit, False

    def unsent(self, permit: Permit) -> None:
        """``permit``'s request never went out: it never counted."""
        self.in_flight -= 1
        if permit in self.sends:
            self.sends.remove(permit)
        if permit is self.probe:
            self.probe = None

    def withdrawn(self, permit: Permit, last_send: float) -> None:
        """``permit`` was logged as sent, then the shared store refused it: as if it had never been asked for
        (``last_send`` as it was before, so the trickle of the reserve keeps its pace)."""
        self.unsent(permit)
        self.last_send = last_send

    def answered(
        self, permit: Permit, now: float, remaining: RemainingReq | None, date: float | None, *, rate_limited: bool
    ) -> None:
        """``permit``'s answer came at ``now``: learn from it, and log what others spent."""
        self.in_flight -= 1
        permit.answered_at = now
        if permit is self.probe:
            self.probe = None
        permit.counted_in = None
        if remaining is None and date is None and not rate_limited:
            return
        own = remaining if remaining is not None and remaining.group == self.group else None
        if self._learn(permit, now, own, date):
            permit.counted_in = date
        if self.per_second is None and own is not None:
            self.learned_budget = max(self.learned_budget or 0, own.sec + 1)
        budget = self.budget
        if budget is not None and (rate_limited or own is not None):
            self._account_foreign(permit, now, budget if rate_limited or own is None else budget - own.sec)

    def _learn(self, permit: Permit, now: float, remaining: RemainingReq | None, date: float | None) -> bool:
        """Learn from an answer (``remaining``: of this log's group, else None); whether its ``date`` was trusted
        (``PhaseEstimate.learn_date``)."""
        self._rtts.append(now - permit.sent_at)
        if permit.sent_at >= self._first_answer:
            self._warm_rtts.append(now - permit.sent_at)
        self._first_answer = min(self._first_answer, now)
        trusted = date is not None and self.phase.learn_date(permit.sent_at, now, date)
        if remaining is None:
            return trusted
        last = self._last_answer
        if self.window == 1 and last is not None and permit.sent_at >= last[1] and remaining.sec > last[2]:
            # Sent after the previous answer came back and more is left: a new window opened between the
            # previous send and this answer (for longer windows this says nothing about whole seconds).
            self.phase.observe_tick(last[0], now)
        if last is None or permit.sent_at > last[0]:
            self._last_answer = (permit.sent_at, now, remaining.sec)
        return trusted

    def _account_foreign(self, permit: Permit, now: float, used: int) -> None:
        """``used`` requests were counted in the window of ``permit``'s send: log the ones not ours (ours: those sent
        by ``now`` that may share that window). Counted by the time our answer left, they stop counting when our
        request's window surely ended."""
        sent = permit.sent_at
        ours = sum(
            1 for entry in self.sends if entry.sent_at <= now and (entry.sent_at >= sent or self._end(entry) > sent)
        )
        for _ in range(max(0, used - ours)):
            self.sends.append(Permit(sent, open=False, answered_at=now, counted_in=permit.counted_in))

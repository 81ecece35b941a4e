"""Where the exchange's whole seconds start, learned from the answers: a pure estimator, no clock of its own.

Upbit counts requests in whole seconds of ITS clock, at the moment a request reaches it. With ``psi``
the exchange's clock minus ours, a request that reaches the exchange at local time ``a`` is counted in
window ``floor(a + psi)``. A request sent at ``s`` and answered at ``r`` reached the exchange at some
``a`` in ``[s, r]``: that is all a client can know without assuming how the round trip splits, and it
is enough. The answers bound ``psi`` (only ``psi`` modulo 1 matters for pacing):

- ``Date`` (whole seconds of the exchange's clock when it handled the request): ``D <= a + psi < D + 1``,
  so ``psi`` is in ``[D - r, D + 1 - s)``. One answer says nothing modulo 1; two answers whose ``Date``
  differ pin the boundary between the first one's send and the second one's answer.
- ``Remaining-Req sec`` jumping back up between two answers, the second sent after the first came
  back: a new window opened between the first send and the second answer (``tick``).

These bounds hold whatever the latency, so a slow first answer (a new connection) widens nothing it
should not. A request sent at ``t`` arrives between ``t`` and ``t`` plus its one-way latency, so the
pacing (``boundary_after``) adds the latency bound the caller gives to the upper end.

A ``Date`` bound is absolute (it names the exchange's second), a tick only holds modulo 1; once a
``Date`` anchored the estimate, ``Date`` bounds intersect it as they are (two near-1-wide intervals
modulo 1 can meet in two pieces, and only the absolute one is right), ticks at the whole-second shift
that overlaps it most. When a new bound does not meet the estimate, the new bound wins: an old belief
is worth less than a fresh observation.

But a ``Date`` that contradicts the anchored estimate is not trusted, and makes every ``Date`` suspect:
a server whose machines' clocks disagree (a different ``Date`` per connection) or whose ``Date`` jumps by
hours would otherwise move the estimate at every answer (and every window named from it), and the first
``Date`` may have been the wrong one. So the estimate is forgotten (unknown, not anchored: the pacing
is the one that holds whatever the phase, and ``Remaining-Req`` ticks narrow it again), and ``Date`` is
trusted again only once ``STEP_CONFIRMATIONS`` bounds in a row agree with each other (a clock really
stepped) and the ``Remaining-Req`` ticks learned meanwhile agree with them: a run of answers from one
connection of a server whose clocks disagree agrees with itself (a trickle reuses one connection: 20 x 429
in a test before this rule), but the exchange's windows cannot lie about where its seconds start. Without
ticks (no ``Remaining-Req``), a suspect ``Date`` stays untrusted: the pacing that holds whatever the phase
is slower, never refused. ``learn_date`` says whether
the ``Date`` was trusted: an untrusted one names no window (``window_log``, ``store_link``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["KNOWN_WIDTH", "STEP_CONFIRMATIONS", "PhaseEstimate"]

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
        if self.lo is None or self.hi is None or not _meet_modulo_1((self.lo, self.hi), self._doubt):
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
        # Move the new bound by whole seconds to where it overlaps the current estimate most (both are
        # at most 1 wide, so one of three neighbouring shifts is the best one).
        near = round(((self.lo + self.hi) - (lo + hi)) / 2)
        best: tuple[float, float] | None = None
        for shift in (near - 1, near, near + 1):
            new_lo, new_hi = max(self.lo, lo + shift), min(self.hi, hi + shift)
            if new_lo < new_hi and (best is None or new_hi - new_lo > best[1] - best[0]):
                best = (new_lo, new_hi)
        if best is not None:
            self.lo, self.hi = best
        else:
            self.lo, self.hi = lo + near, hi + near

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


def _meet_modulo_1(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether ``[a)`` and ``[b)`` overlap once ``b`` is moved by some whole number of seconds."""
    near = round(((a[0] + a[1]) - (b[0] + b[1])) / 2)
    return any(max(a[0], b[0] + shift) < min(a[1], b[1] + shift) for shift in (near - 1, near, near + 1))

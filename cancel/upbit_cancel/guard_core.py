"""The guard's rules without I/O: what it makes of what a store says, and when a fire is over.

``Watch`` is one heartbeat as the guard sees it, a machine with named states (``WatchState``). It is
fed what the store said (``observe``: a ``Beat``, or None when the store could not be used) at the
guard's own ``time.monotonic()``, and answers what to do (``FIRE`` or nothing) and when to look again
(``next_look``). ``Firing`` is one fire: fed each attempt's outcome, it answers when to try again or that
the fire is over. The driver (``guard.Guard``) only reads the store, sleeps, claims and sweeps.

The rules, and why:

- **Deadlines are the store's.** A beat says how long is left (a TTL on the store's clock); the guard
  adds that to its own clock when it reads it, so the bot's and the guard's clocks never meet. It looks
  again at the deadline (plus ``SETTLE``), or after ``POLL`` seconds at most, whichever is first: a
  beat that pushed the deadline on is seen then, and an expiry within ``SETTLE`` plus one round trip.
- **Fire on expiry only**: armed and no longer alive. The claim (``heartbeat_store``) then disarms it
  atomically, so a bot beating at that moment is not fired on.
- **Expiries that coincide fire together** (``gathering``). Heartbeats beaten together expire a few ms
  apart; a look finds the first expired and the others still alive. The fires it found do not start
  sweeping while another heartbeat is armed to expire within ``TOGETHER`` of that look: the guard
  looks again at that deadline (plus ``SETTLE``) and claims it if the store then says it expired (never
  earlier), then starts every sweep at once. Without this, the first sweep, on the same event loop,
  delayed the look that finds the next. The cost: a fire waits ``TOGETHER`` at most (plus a read).
- **Ready before the deadline**: within ``PREPARE`` seconds of an armed heartbeat's deadline the guard
  makes its pocket's client (``Watch.near``; nothing is sent), not after it expired.
- **Store lost: wait and warn, never fire.** While the store cannot be read, the guard cannot tell a dead
  bot from a dead store; firing would cancel every healthy bot's orders at each Redis restart or network
  blip. It logs one warning per heartbeat (``STORE_LOST``) and looks again every ``POLL``; when the store
  answers again the heartbeat is judged afresh (expired meanwhile: it fires then). The cost: a bot that
  dies while the store is down is only cleaned up once the store is back (``docs/guard.md``).
- **A grace of one timeout after the store changes master.** Replication is asynchronous: a failover
  may lose the last beat the old master acknowledged, and while the store has no master the bot cannot
  beat at all; the new master then says "expired" of a bot that kept beating. Each read names the master
  that answered (``Beat.master``, its run id); when it differs from the one this watch saw before, no fire
  until one full timeout (the one stored with the beat, ``Beat.timeout``; for a beat of an earlier release,
  the longest time left seen) has passed since the change was seen (``GRACE``): a bot that is alive beats
  again within it. The first master seen is no change (a guard that starts after a failover cannot know
  of it). The cost: a bot that really died around a failover is fired on one timeout later.
- **A fire ends** when an attempt's sweep left nothing unconfirmed or unsent and no block: its last
  listing found the scope empty. Otherwise it is tried again (a failed listing, a 418 block, an
  unreachable exchange), after ``RETRY_MIN`` doubling to ``RETRY_MAX`` seconds or when the block ends, until
  ``give_up`` seconds after the fire began; then it gives up and reports what is left.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .heartbeat_store import Beat
from .results import BatchResult, NotSentOrder, OrderRef, ReportOrder, UnconfirmedOrder, add_counts, groups

__all__ = ["POLL", "PREPARE", "SETTLE", "TOGETHER", "Firing", "Watch", "WatchState", "gathering"]

POLL = 0.5
"""The longest the guard goes without reading a heartbeat (a beat that came, a store that came back)."""
SETTLE = 0.005
"""How long after a deadline the guard reads again: the store's expiry is exact to the millisecond."""
PREPARE = 2.0
"""Seconds before an armed heartbeat's deadline from which the guard makes its pocket's client (``Watch.near``)."""
TOGETHER = 0.03
"""Seconds after a look found a fire within which another heartbeat's deadline makes it fire with it (``gathering``)."""
RETRY_MIN = 0.5
RETRY_MAX = 30.0


class WatchState(enum.Enum):
    UNKNOWN = "unknown"  # not read yet
    DISARMED = "disarmed"  # not armed: never beaten, disarmed by the bot, or fired already
    ARMED = "armed"  # alive: its deadline lies ahead
    FIRING = "firing"  # expired, claimed, its scope being swept
    STORE_LOST = "store_lost"  # the store could not be read: waiting, not firing
    GRACE = "grace"  # expired, but the store changed master less than one timeout ago: waiting, not firing


FIRE = "fire"


@dataclass(slots=True)
class Watch:
    """One heartbeat as the guard sees it. ``deadline``: the guard's monotonic time of the expiry (armed);
    ``master``: the run id of the store's master last seen; ``timeout``: the heartbeat's, as last known;
    ``grace_until``: no fire before this monotonic time (the master changed)."""

    name: str
    state: WatchState = WatchState.UNKNOWN
    deadline: float | None = None
    before_loss: WatchState | None = None
    master: str | None = None
    timeout: float | None = None
    grace_until: float | None = None

    def observe(self, beat: Beat | None, now: float) -> tuple[str | None, str | None]:
        """(``FIRE`` or None, a line to log on a change of state or None) for what the store said at ``now``."""
        if self.state is WatchState.FIRING:
            return None, None
        if beat is None:
            if self.state is WatchState.STORE_LOST:
                return None, None
            self.before_loss, self.state = self.state, WatchState.STORE_LOST
            return (
                None,
                f"heartbeat {self.name}: the store cannot be read; waiting, not firing (was {self.before_loss.value})",
            )
        was, changed = self.state, self._learn(beat, now)
        if beat.left is not None:
            self.state, self.deadline = WatchState.ARMED, now + beat.left
            armed = f"heartbeat {self.name}: armed, {beat.left:.3f} s left"
            return None, changed or (None if was is WatchState.ARMED else armed)
        self.deadline = None
        if beat.expired:
            return self._expired(now, was, changed)
        self.state = WatchState.DISARMED
        line = f"heartbeat {self.name}: disarmed" if was not in (WatchState.DISARMED, WatchState.UNKNOWN) else None
        return None, changed or line

    def _learn(self, beat: Beat, now: float) -> str | None:
        """Keep the heartbeat's timeout and the store's master; a line if the master changed (the grace begins)."""
        if beat.timeout is not None:
            self.timeout = beat.timeout
        elif beat.left is not None:  # beaten by an earlier release: its timeout is at least the time left
            self.timeout = max(self.timeout or 0.0, beat.left)
        if beat.master is None:
            return None
        seen, self.master = self.master, beat.master
        if seen is None or seen == beat.master:
            return None
        grace = self.timeout or 0.0
        self.grace_until = now + grace
        return (
            f"heartbeat {self.name}: the store's master changed (a failover or a restart; its last beat may be "
            f"lost): no fire for {grace:.3f} s, one timeout"
        )

    def _expired(self, now: float, was: WatchState, changed: str | None) -> tuple[str | None, str | None]:
        """Expired in the store: ``FIRE``, unless within the grace after a change of master."""
        if self.grace_until is None or now >= self.grace_until:
            return FIRE, changed
        self.state = WatchState.GRACE
        line = f"heartbeat {self.name}: expired just after the store changed master; waiting out the grace"
        return None, changed or (None if was is WatchState.GRACE else line)

    def trigger_at(self) -> float | None:
        """The earliest monotonic time this heartbeat may fire: its deadline (armed), or the grace's end."""
        if self.state is WatchState.ARMED:
            return self.deadline
        return self.grace_until if self.state is WatchState.GRACE else None

    def near(self, now: float) -> bool:
        """Armed, its deadline within ``PREPARE`` seconds: the guard makes its pocket's client now (no request
        sent), so the fire does not pay for it after the deadline; an idle guard, its bots beating well
        before their deadlines, never loads the sweep at all (``make bench`` section 17: idle memory)."""
        return self.state is WatchState.ARMED and self.deadline is not None and self.deadline - now <= PREPARE

    def next_look(self, now: float) -> float:
        """When to read this heartbeat again (guard's monotonic time)."""
        at = self.trigger_at()
        return min(at + SETTLE, now + POLL) if at is not None else now + POLL


def gathering(watches: Iterable[Watch], found_at: float) -> float | None:
    """While fires wait to sweep (the first found expired at ``found_at``, guard's monotonic time): the
    earliest deadline of a heartbeat still armed that falls within ``TOGETHER`` of it (look again
    then: it may fire with them), or None: start their sweeps now. Bounded: a deadline later than
    ``found_at + TOGETHER`` never holds them, however many heartbeats follow one another."""
    soon = [
        watch.deadline
        for watch in watches
        if watch.state is WatchState.ARMED and watch.deadline is not None and watch.deadline <= found_at + TOGETHER
    ]
    return min(soon, default=None)


def _key(order: ReportOrder) -> str:
    return (order.uuid if isinstance(order, OrderRef) else order.id) or repr(order)


@dataclass(slots=True)
class Firing:
    """One fire of one heartbeat: attempts until the scope is empty or ``give_up`` seconds have passed."""

    name: str
    started: float
    give_up: float
    attempts: int = 0
    retry_in: float = RETRY_MIN
    fates: dict[str, tuple[str, ReportOrder]] = field(default_factory=dict)
    cost: BatchResult = field(default_factory=lambda: BatchResult(id_kind="uuids"))
    """What the attempts cost (``add_counts``): ``report`` adds the orders."""
    last_error: str | None = None

    def time_left(self, now: float) -> float:
        return self.started + self.give_up - now

    def attempted(
        self, outcome: BatchResult | Exception, now: float, blocked_until: float | None = None
    ) -> float | None:
        """Take an attempt's outcome; the monotonic time of the next attempt, or None when the fire is over
        (``complete`` says whether the scope was found empty)."""
        self.attempts += 1
        if isinstance(outcome, BatchResult):
            self._merge(outcome)
            if not outcome.unconfirmed and not outcome.not_sent and outcome.blocked is None:
                self.last_error = None
                return None
            self.last_error = f"{len(outcome.unconfirmed)} unconfirmed, {len(outcome.not_sent)} not sent"
        else:
            self.last_error = f"{type(outcome).__name__}: {outcome}"
        at = max(now + self.retry_in, blocked_until or 0.0)
        self.retry_in = min(self.retry_in * 2, RETRY_MAX)
        return at if at < self.started + self.give_up else None

    @property
    def complete(self) -> bool:
        return self.attempts > 0 and self.last_error is None

    def _merge(self, result: BatchResult) -> None:
        """Each order's best-known fate: cancelled or failed is final, a later attempt's word beats an
        earlier unconfirmed or not-sent one."""
        for group, orders in groups(result):
            for order in orders:
                key = _key(order)
                if self.fates.get(key, ("",))[0] not in ("success", "failed"):
                    self.fates[key] = (group, order)
        add_counts(self.cost, result)

    def report(self, elapsed: float) -> BatchResult:
        """The whole report of the fire: every order once, with its best-known fate."""
        fates = list(self.fates.values())
        refs = [(group, order) for group, order in fates if isinstance(order, OrderRef)]
        return replace(
            self.cost,
            success=[order for group, order in refs if group == "success"],
            failed=[order for group, order in refs if group == "failed"],
            unconfirmed=[order for _, order in fates if isinstance(order, UnconfirmedOrder)],
            not_sent=[order for _, order in fates if isinstance(order, NotSentOrder)],
            elapsed=elapsed,
        )

"""The in-memory ``store.BudgetStore``: the rules of ``store``, in Python, for one process and for tests.

``MemoryStore`` stands in for a redis-server (values that expire, on an injectable clock);
``MemoryBudget`` is one (pocket, group) budget in it, charging, checking, settling, filling and
blocking by the same rules as the Redis store's Lua scripts (``lua/*.lua``); one test table
(``tests/test_store_rules.py``) holds both to them. Its calls touch memory only (``blocking`` False).
Limiters of one process (or of simulated processes on a fake clock) given budgets of one ``MemoryStore``
share one budget, one phase and one block per pocket, so tests of pacing logic need no redis-server.
``available = False`` makes every call fail with ``StoreUnavailable``, as a Redis that stopped answering does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from .store import BOUNDS_TTL, PEERS_SECONDS, PHASE_TTL, WINDOW_TTL, BudgetKeys, Send, StoreUnavailable, TakeResult

__all__ = ["MemoryBudget", "MemoryStore"]

_TRICKLE_SLACK = 0.001
"""A caller asking again the trickle's interval later is not refused by a rounding error (``lua/take.lua``)."""


class MemoryStore:
    """Values with an expiry, on ``clock`` (wall-clock seconds). Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time, url: str = "memory://") -> None:
        self.url = url
        self.available = True
        self._clock = clock
        self._values: dict[str, tuple[str, float]] = {}
        self._present: dict[str, dict[int, float]] = {}
        self.pending: dict[str, dict[str, int]] = {}
        """Dated charges waiting for a phase, per key (``MemoryBudget.date``)."""
        self.lock: threading.Lock = threading.Lock()

    def present(self, key: str, member: int) -> int:
        """``member`` is here now: how many members of ``key`` were in the last ``PEERS_SECONDS``."""
        now = self._clock()
        members = self._present.setdefault(key, {})
        members[member] = now
        for other, seen in list(members.items()):
            if seen < now - PEERS_SECONDS:
                del members[other]
        return len(members)

    @contextlib.contextmanager
    def checked(self) -> Iterator[MemoryStore]:
        """This store, its lock held; ``StoreUnavailable`` if it is not ``available``."""
        with self.lock:
            if not self.available:
                raise StoreUnavailable(f"rate-limit store {self.url}: not available")
            yield self

    def get(self, key: str) -> str | None:
        found = self._values.get(key)
        if found is None:
            return None
        if found[1] <= self._clock():
            del self._values[key]
            return None
        return found[0]

    def set(self, key: str, value: str, ttl: float) -> None:
        self._values[key] = (value, self._clock() + ttl)

    def keys(self) -> list[str]:
        """The keys that have not expired."""
        return [key for key in list(self._values) if self.get(key) is not None]

    def count(self, key: str) -> int:
        return int(self.get(key) or 0)

    def incr(self, key: str, by: int, ttl: float) -> None:
        self.set(key, str(self.count(key) + by), ttl)


class MemoryBudget:
    """One (pocket, group) budget in ``server``: a ``store.BudgetStore`` (see the rules in ``store``)."""

    blocking = False

    def __init__(
        self, server: MemoryStore, pocket: str, group: str, per_second: int, *, window_seconds: int = 1
    ) -> None:
        self.url: str = server.url
        self.per_second = per_second
        self._server = server
        self._ttl = WINDOW_TTL * window_seconds
        self.keys: BudgetKeys = BudgetKeys.of(pocket, group)
        self._peers = 1

    def peers(self) -> int:
        return self._peers

    def take(self, send: Send) -> TakeResult:
        with self._server.checked() as server:
            self._peers = server.present(self.keys.peers, id(self))
            block = server.get(self.keys.block)
            if block is not None:
                return TakeResult(False, blocked_until=float(block))
            if send.windows is None and send.ask_phase and server.get(self.keys.phase) is not None:
                return TakeResult(False, phase_in_store=True)
            charge, check = self.keys.for_send(send.windows, send.local_seconds)
            extra = sum(server.count(key) for key in check)
            full = [key for key in charge if server.count(key) + extra >= self.per_second]
            if full:
                held = all(server.count(f"{key}:s") + extra < self.per_second for key in full)
                return TakeResult(False, held=held)
            reserve, interval, now = send.trickle or (0, 0.0, 0.0)
            top = max((server.count(key) for key in charge), default=0)
            if reserve and top + extra >= self.per_second - reserve:
                last = server.get(self.keys.trickle)
                if last is not None and 0 <= now - float(last) < interval - _TRICKLE_SLACK:
                    return TakeResult(False, trickling=True)
                server.set(self.keys.trickle, repr(now), self._ttl)
            for key in charge:
                server.incr(key, 1, self._ttl)
            return TakeResult(True)

    def fill(self, windows: list[int] | None, local_seconds: list[int]) -> None:
        with self._server.checked() as server:
            keys, _ = self.keys.for_send(windows, local_seconds)
            for key in keys + [f"{key}:s" for key in keys]:
                if server.count(key) < 2 * self.per_second:
                    server.set(key, str(2 * self.per_second), self._ttl)

    def settle(
        self, exchange_windows: bool, give_back: list[int], take: list[int], settled: list[int] | tuple[()] = ()
    ) -> None:
        with self._server.checked() as server:
            for key in self.keys.counts(exchange_windows, give_back):
                if server.count(key) > 0:
                    server.incr(key, -1, self._ttl)
            for key in self.keys.counts(exchange_windows, take):
                server.incr(key, 1, self._ttl)
            for key in self.keys.counts(exchange_windows, settled):
                server.incr(f"{key}:s", 1, self._ttl)

    def block(self, until: float, seconds: float) -> float:
        with self._server.checked() as server:
            current = server.get(self.keys.block)
            if current is not None and float(current) >= until:
                return float(current)
            server.set(self.keys.block, repr(until), max(0.001, seconds))
            return until

    def date(self, window: int, local_seconds: list[int]) -> None:
        with self._server.checked() as server:
            field = self.keys.dated_field(window, local_seconds)
            if server.get(self.keys.phase) is None:
                pending = server.pending.setdefault(self.keys.dated, {})
                pending[field] = pending.get(field, 0) + 1
                return
            self._move(field, 1)

    def _move(self, field: str, count: int) -> None:
        """Move ``count`` charges of the local seconds ``field`` names into its exchange window (lock held)."""
        server = self._server
        window, *seconds = (int(part) for part in field.split())
        for key in self.keys.counts(False, seconds):
            for counted in (key, f"{key}:s"):
                server.incr(counted, -min(count, server.count(counted)), self._ttl)
        for key in self.keys.counts(True, [window]):
            server.incr(key, count, self._ttl)
            server.incr(f"{key}:s", count, self._ttl)

    def save_phase(self, lo: float, hi: float) -> None:
        with self._server.checked() as server:
            server.set(self.keys.phase, self.keys.pair_text(lo, hi), PHASE_TTL)
            for field, count in server.pending.pop(self.keys.dated, {}).items():
                self._move(field, count)

    def pool_bounds(self, lo: float, hi: float) -> tuple[float, float] | None:
        with self._server.checked() as server:
            current = self.keys.read_pair(server.get(self.keys.bounds))
            if current is not None and max(current[0], lo) < min(current[1], hi):
                lo, hi = max(current[0], lo), min(current[1], hi)
            server.set(self.keys.bounds, self.keys.pair_text(lo, hi), BOUNDS_TTL)
            return lo, hi

    def load_phase(self) -> tuple[float, float] | None:
        with self._server.checked() as server:
            return self.keys.read_pair(server.get(self.keys.phase))

    def close(self) -> None:
        pass

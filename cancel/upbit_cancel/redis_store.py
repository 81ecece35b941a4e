"""One rate-limit budget for every process and machine of a pocket, kept on Redis (the ``[redis]`` extra).

``SharedBudget`` is the Redis ``store.BudgetStore``: the rules are ``store``'s; each step that counts is one
Lua script (``lua/*.lua``, shipped in the package), so checking and charging a window are atomic and take
one round trip. Window keys live a few windows (long enough for every send that may share one); Redis's
own clock expires them and the blocks. The phase and the trickle are kept per host (the phase includes
the host's clock error and latency). Every call may wait on the network: ``blocking`` is True.

Every call to Redis goes through one wrapper (``redis_connect.RedisClient.call``, and ``LoopBudget.call`` on
a loop), which turns whatever a broken store does into ``StoreUnavailable`` (the cases: ``RedisClient``); an
answer that took longer than ``_CALL_DEADLINE`` counts too (a server trickling its answer a byte at a time
meets no socket timeout). A limiter that gets ``StoreUnavailable`` paces in-process after one warning
(``store.StoreLink``).

Round trips: a take and the upkeep before it (format 1's fence, the peers, the master) are one call of
``lua/many.lua`` (``bundled``; on a Cluster the fence, in a slot of its own, goes apart), and a script's
first call on a client sends its source (``redis_connect.Scripts``): a cold process's first permit waits
for one round trip, not four to twelve (issue 26, item 4).

On an asyncio loop an async caller's calls are awaited on the loop itself (``LoopBudget``), so that no
thread running redis-py beside it takes the GIL from it; under trio and for a Cluster a worker thread
makes them (why: ``docs/pacing.md``, "What the limiter does"; ``docs/benchmarks.md``, section 13).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .redis_connect import BUNDLED, TIMEOUT, Call, MasterWatch, RedisClient, Scripts, open_redis
from .store import (
    BOUNDS_TTL,
    PEERS_SECONDS,
    PHASE_TTL,
    WINDOW_TTL,
    BudgetKeys,
    Send,
    StoreUnavailable,
    TakeResult,
    redacted_url,
)

if TYPE_CHECKING:
    from .store import StoreWrite

__all__ = ["ASKS_AT_ONCE", "LoopBudget", "SharedBudget", "bundled"]

log: logging.Logger = logging.getLogger("upbit_cancel.ratelimit")

_FENCE_S = 3600.0
"""How long format 1's fence holds after the last take (``BudgetKeys.fence``); renewed every ``_FENCE_RENEW_S``."""
_FENCE_RENEW_S = 3000.0
_CALL_DEADLINE = 4 * TIMEOUT
"""A call answered later than this (each read within ``TIMEOUT``, the whole not) counts as a failure."""
_TAKE_CODES = {-2: 2, -1: 1, 0: 2, 1: 1}
"""``lua/take.lua``'s answers: code -> length (``{-2, until_ms}``, ``{-1}``, ``{0, held}``, ``{1}``)."""


def _integer(value: object) -> int:
    """A Lua number or a stored count (an integer reply, or digits in a bulk string) as an int."""
    if isinstance(value, bool) or not isinstance(value, int | bytes):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


def _take_result(reply: object) -> TakeResult:
    if not isinstance(reply, list) or not reply:
        raise TypeError(f"expected a non-empty array, got {type(reply).__name__}")
    code = _integer(reply[0])
    if _TAKE_CODES.get(code) != len(reply):
        raise ValueError(f"unknown answer {reply!r:.80}")
    if code == -2:
        return TakeResult(False, blocked_until=_integer(reply[1]) / 1000)
    held = _integer(reply[1]) if code == 0 else 0
    if held not in (0, 1, 2):
        raise ValueError(f"unknown answer {reply!r:.80}")
    return TakeResult(code == 1, phase_in_store=code == -1, held=held == 1, trickling=held == 2)


def _one(reply: object) -> None:
    """The answer of ``fill`` and ``settle`` (``return 1``)."""
    if reply != 1 or isinstance(reply, bool):
        raise ValueError(f"expected 1, got {reply!r:.80}")


def _hashed(key: str) -> str:
    """What a Cluster hashes of ``key`` to place it in a slot: its hash tag (``{...}``), else the whole key."""
    start = key.find("{")
    end = key.find("}", start + 1)
    return key[start + 1 : end] if start >= 0 and end > start + 1 else key


def bundled(calls: list[Call], *, cluster: bool) -> list[Call]:
    """``calls`` in as few round trips as the store allows, in order: consecutive calls of ``BUNDLED`` become one
    call of ``lua/many.lua`` (every call on one server; on a Cluster, only calls whose keys hash alike, so that
    they share a slot: not format 1's fence), read by each call's reader in turn and answered by the last's."""
    groups: list[tuple[set[str], list[Call]]] = []
    for call in calls:
        slots = {_hashed(key) for key in call.keys} if cluster else {""}
        if call.name in BUNDLED and groups and groups[-1][1][-1].name in BUNDLED and slots == groups[-1][0]:
            groups[-1][1].append(call)
        else:
            groups.append((slots, [call]))
    return [group[0] if len(group) == 1 else _many(group) for _, group in groups]


def _many(calls: list[Call]) -> Call:
    keys = [key for call in calls for key in call.keys]
    counts = [part for call in calls for part in (call.name, len(call.keys), len(call.args))]
    args = [len(calls), *counts, *(arg for call in calls for arg in call.args)]
    return Call("many", keys, args, functools.partial(_read_many, [call.read for call in calls]))


def _read_many(reads: list[Callable[[Any], Any]], reply: object) -> Any:
    """Each call's answer in ``reply`` (``lua/many.lua``'s) read by its own reader; the last one's reading."""
    if not isinstance(reply, list) or len(reply) != len(reads):
        raise ValueError(f"expected {len(reads)} answers, got {reply!r:.80}")
    return [read(answer) for read, answer in zip(reads, reply, strict=True)][-1]


class SharedBudget(RedisClient):
    """The Redis side of one (pocket, group) budget. Every method raises ``StoreUnavailable`` on failure.

    ``pocket``: who shares the budget (``ratelimit.pocket_id``), hashed into the keys.
    """

    deadline = _CALL_DEADLINE

    def __init__(
        self, url: str, pocket: str, group: str, per_second: int, *, window_seconds: int = 1, client: Any = None
    ) -> None:
        self.per_second = per_second
        self._ttl_ms = int(WINDOW_TTL * 1000) * window_seconds
        self.keys: BudgetKeys = BudgetKeys.of(pocket, group)
        self.master: MasterWatch = MasterWatch()
        self._peers = 1
        self._me = uuid.uuid4().hex
        self._fenced_until = -float("inf")
        self._loops: dict[asyncio.AbstractEventLoop, LoopBudget | None] = {}
        self._loops_lock = threading.Lock()
        super().__init__(url, "rate-limit store", client)

    def on_loop(self) -> LoopBudget | None:
        """This budget's calls on the running asyncio loop, awaited there (``LoopBudget``); None off asyncio
        (trio, a thread), for a Cluster, and while the loop shuts down: the caller then uses these blocking
        calls from a worker thread."""
        if self._cluster:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        gone = []
        with self._loops_lock:
            for other in [other for other in self._loops if other.is_closed()]:
                gone.append(self._loops.pop(other))  # a loop closed without shutting its tasks down
            budget = self._loops.get(loop)
            if budget is None:
                budget = self._loops[loop] = self._loop_budget(loop)
        gone.clear()  # dropped without the lock held
        return None if budget is None or budget.closing else budget

    def _loop_budget(self, loop: asyncio.AbstractEventLoop) -> LoopBudget | None:
        """A ``LoopBudget`` for ``loop``; None (for good: the blocking calls serve it) if no client can be made."""
        try:
            return LoopBudget(self, loop)
        except Exception as error:  # redis.asyncio refused what redis-py took: the worker thread serves
            log.debug("rate-limit store %s: no asyncio client (%s)", redacted_url(self.url), type(error).__name__)
            return None

    def __repr__(self) -> str:
        return f"SharedBudget({redacted_url(self.url)!r}, group={self.keys.prefix.rsplit(':', 1)[-1]!r})"

    def failure(self, error: Exception) -> StoreUnavailable:
        """``RedisClient.failure``; the master is asked again soon."""
        self.master.recheck()
        return super().failure(error)

    def take(self, send: Send) -> TakeResult:
        answers = [self._run(call) for call in self.take_calls(send)]
        result: TakeResult = answers[-1]
        return result

    def take_calls(self, send: Send) -> list[Call]:
        """The calls of ``take``: the upkeep, then ``lua/take.lua``, in one round trip (``bundled``; on a Cluster,
        two while format 1's fence is due: it lives in a slot of its own). The last call's answer is the take's."""
        charge, check = self.keys.for_send(send.windows, send.local_seconds)
        keys = [self.keys.block, self.keys.phase, *charge, *check, *(f"{key}:s" for key in charge), self.keys.trickle]
        reserve, interval, now = send.trickle or (0, 0.0, 0.0)
        ask_phase = "1" if send.windows is None and send.ask_phase else "0"
        args: list[str | int] = [self.per_second, len(charge), ask_phase, self._ttl_ms, len(check)]
        args += [reserve, repr(interval), repr(now)]
        return bundled([*self.upkeep(), Call("take", keys, args, _take_result)], cluster=self._cluster)

    def upkeep(self) -> list[Call]:
        """What to call before a take: keep format 1's fence up (``BudgetKeys.fence``); say this process is here
        and count its peers (``lua/peers.lua``); once a second, see whether the master changed. Each call's
        reader keeps what it learned. The peers are counted at every take, not once a second (why:
        ``docs/pacing.md``, "A failover may lose the last writes"): no round trip more, a few Redis commands."""
        now, calls = time.time(), []
        if now >= self._fenced_until - _FENCE_RENEW_S:
            until = now + _FENCE_S
            fence = [int(until * 1000), int(_FENCE_S * 1000)]
            calls.append(Call("block", [self.keys.fence], fence, functools.partial(self._fenced, until)))
        calls.append(Call("peers", [self.keys.peers], [self._me, int(PEERS_SECONDS * 1000)], self._counted))
        if self.master.due():
            calls.append(Call("master", [self.keys.block], [], self._master_seen))
        return calls

    def _fenced(self, until: float, reply: object) -> None:
        _integer(reply)
        self._fenced_until = until

    def _counted(self, reply: object) -> None:
        self._peers = max(1, _integer(reply))

    def _master_seen(self, reply: object) -> None:
        if self.master.seen(reply):
            log.warning(
                "rate-limit store %s: its master changed (a failover or a restart); the last writes may be lost",
                redacted_url(self.url),
            )

    def peers(self) -> int:
        """The processes of this budget seen in the store lately, this one included (asked with the master)."""
        return self._peers

    def master_changed_at(self) -> float | None:
        """When this process first saw the master holding this pocket's keys change (epoch seconds), or None:
        checked before a take, at most once a second, and at once after the store failed (what a failover may
        lose: ``docs/pacing.md``, "A failover may lose the last writes")."""
        return self.master.changed_at

    def fill_call(self, windows: list[int] | None, local_seconds: list[int]) -> Call:
        charge, _ = self.keys.for_send(windows, local_seconds)
        return Call("fill", [*charge, *(f"{key}:s" for key in charge)], [self.per_second, self._ttl_ms], _one)

    def fill(self, windows: list[int] | None, local_seconds: list[int]) -> None:
        self._run(self.fill_call(windows, local_seconds))

    def settle_call(
        self, exchange_windows: bool, give_back: list[int], take: list[int], settled: list[int] | tuple[()] = ()
    ) -> Call | None:
        """The call of ``settle`` (None: nothing to settle): ``lua/settle.lua``."""
        if not give_back and not take and not settled:
            return None
        counts = self.keys.counts
        keys = [*counts(exchange_windows, give_back + take), *(f"{key}:s" for key in counts(exchange_windows, settled))]
        return Call("settle", keys, [len(give_back), self._ttl_ms, len(take)], _one)

    def settle(
        self, exchange_windows: bool, give_back: list[int], take: list[int], settled: list[int] | tuple[()] = ()
    ) -> None:
        call = self.settle_call(exchange_windows, give_back, take, settled)
        if call is not None:
            self._run(call)

    def block_call(self, until: float, seconds: float) -> Call:
        """Block the pocket (every group and process) until ``until`` (epoch s, ``seconds`` away); read: the end."""
        args = [int(until * 1000), max(1, int(seconds * 1000))]
        return Call("block", [self.keys.block], args, _block_end)

    def block(self, until: float, seconds: float) -> float:
        end: float = self._run(self.block_call(until, seconds))
        return end

    def date_call(self, window: int, local_seconds: list[int]) -> Call:
        """The call of ``date``: ``lua/date.lua``."""
        local = self.keys.counts(False, local_seconds)
        landed = self.keys.counts(True, [window])[0]
        keys = [self.keys.phase, self.keys.dated, landed, f"{landed}:s", *local, *(f"{key}:s" for key in local)]
        return Call("date", keys, [self.keys.dated_field(window, local_seconds), self._ttl_ms], _one)

    def date(self, window: int, local_seconds: list[int]) -> None:
        self._run(self.date_call(window, local_seconds))

    def save_phase_call(self, lo: float, hi: float) -> Call:
        """The call of ``save_phase``: ``lua/phase.lua`` (the phase, and the dated charges it moves)."""
        keys = [self.keys.phase, self.keys.dated]
        window_prefix = self.keys.counts(True, [0])[0][:-1]
        local_prefix = self.keys.counts(False, [0])[0][:-1]
        args = [self.keys.pair_text(lo, hi), int(PHASE_TTL * 1000), self._ttl_ms, window_prefix, local_prefix]
        return Call("phase", keys, args, _one)

    def save_phase(self, lo: float, hi: float) -> None:
        self._run(self.save_phase_call(lo, hi))

    def pool_bounds_call(self, lo: float, hi: float) -> Call:
        """The call of ``pool_bounds``: ``lua/bounds.lua``, the pooled bounds read back."""
        return Call("bounds", [self.keys.bounds], [repr(lo), repr(hi), int(BOUNDS_TTL * 1000)], BudgetKeys.read_pair)

    def pool_bounds(self, lo: float, hi: float) -> tuple[float, float] | None:
        bounds: tuple[float, float] | None = self._run(self.pool_bounds_call(lo, hi))
        return bounds

    def load_phase_call(self) -> Call:
        return Call("get", [self.keys.phase], [], BudgetKeys.read_pair)

    def load_phase(self) -> tuple[float, float] | None:
        phase: tuple[float, float] | None = self._run(self.load_phase_call())
        return phase


def _block_end(reply: object) -> float:
    return _integer(reply) / 1000


ASKS_AT_ONCE = 4
"""Takes of one budget on one loop that may be on their way at once, each on a connection of its own (the
others wait their turn): unbounded, twenty tasks asking at a window boundary opened twenty connections, each
one's set-up work done on the loop (``docs/benchmarks.md``, section 13)."""


class LoopBudget:
    """The calls of ``budget`` on ``loop`` (the running one when made: no I/O yet), through a ``redis.asyncio``
    client made for it: the same ``Call`` s, readers and failures as ``SharedBudget``'s (``StoreUnavailable``).

    Asks (``take``, ``load_phase``) are awaited by the caller; writes (``write``: ``settle``, ``date``,
    ``fill``, ``block``, ``save_phase``, ``pool_bounds``) are made in order by one task of the loop
    (``submit``), which, when the loop shuts down (``asyncio.run`` cancels the tasks left), makes the writes
    still queued and closes the client; from then on (a task cancelled during the shutdown still gives its
    permit back) the budget's blocking calls serve that loop, from threads, as they do on trio."""

    def __init__(self, budget: SharedBudget, loop: asyncio.AbstractEventLoop) -> None:
        self.budget = budget
        self.loop = loop
        self.client: Any = open_redis(budget.url, timeout=TIMEOUT, on_loop=True)
        self.scripts: Scripts = Scripts(self.client)
        self.queue: deque[StoreWrite] = deque()
        self.wake: asyncio.Event = asyncio.Event()
        self.asking: asyncio.Semaphore = asyncio.Semaphore(ASKS_AT_ONCE)
        self.closing: bool = False
        """The loop shuts down: the writer makes the writes left and closes the client; nothing new comes here."""
        self.writer: asyncio.Task[None] = loop.create_task(self.write_in_order(), name="upbit-store-writer")

    async def call(self, call: Call) -> Any:
        """``call`` on this loop's client, read by ``call.read``: ``RedisClient.call``'s rules."""
        started = time.monotonic()
        try:
            reply = await self.scripts.run(call)
            return call.read(self.budget.in_time(reply, started))
        except Exception as error:  # every failure of the store is one failure (see the module)
            raise self.budget.failure(error) from error

    async def take(self, send: Send) -> TakeResult:
        async with self.asking:
            answers = [await self.call(call) for call in self.budget.take_calls(send)]
        result: TakeResult = answers[-1]
        return result

    async def load_phase(self) -> tuple[float, float] | None:
        async with self.asking:
            phase: tuple[float, float] | None = await self.write("load_phase", ())
        return phase

    async def write(self, method: str, args: tuple[Any, ...]) -> Any:
        """``SharedBudget``'s ``method`` (``settle``, ``date``, ``fill``, ...) with ``args``, awaited on this loop:
        the same ``Call`` (``<method>_call``; None: nothing to write)."""
        call: Call | None = getattr(self.budget, f"{method}_call")(*args)
        return None if call is None else await self.call(call)

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

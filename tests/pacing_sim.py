"""A simulated exchange and network on a fake clock, for the limiter's pacing rules (no real time passes).

The exchange counts requests per whole second of ITS clock (ours + ``offset``) at the moment they
arrive (``latency`` after they were sent), answers ``latency`` later with ``Remaining-Req`` and a
``Date`` of its own clock, and 429 beyond the budget: the model of ``../shared`` facts the sandbox
implements too, without sockets or threads, so hundreds of offset/latency cases run in milliseconds.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from upbit_cancel.ratelimit import Permit, RateLimiter
from upbit_cancel.remaining_req import RemainingReq

GROUP = "default"


class SimClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class SimExchange:
    """Whole-second windows of the exchange clock; ``per_second`` requests per window across all clients."""

    offset: float
    per_second: int = 30
    used: Counter[int] = field(default_factory=Counter)
    date_skew: Callable[[int], float] | None = None
    """A lying ``Date``: the n-th answer's ``Date`` is read from a clock this many seconds off the one that
    counts (a server whose machines disagree, or whose ``Date`` jumps)."""
    answers: int = 0

    def arrive(self, local_time: float) -> tuple[int, RemainingReq, float]:
        """(status, Remaining-Req, Date second) for a request arriving at ``local_time`` (our clock)."""
        exchange_now = local_time + self.offset
        window = math.floor(exchange_now)
        skew, self.answers = (0.0 if self.date_skew is None else self.date_skew(self.answers)), self.answers + 1
        date = float(math.floor(exchange_now + skew))
        if self.used[window] >= self.per_second:
            return 429, RemainingReq(GROUP, 0), date
        self.used[window] += 1
        return 200, RemainingReq(GROUP, self.per_second - self.used[window]), date


@dataclass
class SimRun:
    requests: int = 0
    rate_limited: int = 0
    finished: float = 0.0


def run_batch(
    limiter: RateLimiter,
    clock: SimClock,
    exchange: SimExchange,
    *,
    chunks: int,
    latency: float,
    max_in_flight: int,
    with_date: bool = True,
    backlog: bool = False,
) -> SimRun:
    """Send ``chunks`` requests through ``limiter`` (retrying 429s) with up to ``max_in_flight`` at once.

    Each request arrives ``latency`` after it is sent and is answered ``latency`` later (one-way both
    ways). ``backlog``: tell the limiter how many requests are still to send, as the batch does (probes).
    Returns the counts and the simulated time the last answer came back.
    """
    return run_processes(
        [limiter],
        clock,
        exchange,
        chunks=chunks,
        latency=latency,
        max_in_flight=max_in_flight,
        with_date=with_date,
        backlog=backlog,
    )


def run_processes(
    limiters: list[RateLimiter],
    clock: SimClock,
    exchange: SimExchange,
    *,
    chunks: int,
    latency: float,
    max_in_flight: int,
    with_date: bool = True,
    backlog: bool = False,
) -> SimRun:
    """``run_batch`` for several processes of one account at once: ``chunks`` requests each, one exchange."""
    run = SimRun()
    pending = [chunks] * len(limiters)
    in_flight: list[tuple[float, int, int, Permit, int, RemainingReq, float]] = []  # (answer at, seq, process, ...)
    sending = [0] * len(limiters)
    seq = 0
    while any(pending) or in_flight:
        # Send what each process's limiter allows now.
        wait = math.inf
        for index, limiter in enumerate(limiters):
            while pending[index] and sending[index] < max_in_flight:
                got = limiter.try_acquire(pending[index] if backlog else 1)
                if not isinstance(got, Permit):
                    wait = min(wait, got)
                    break
                status, remaining, date = exchange.arrive(clock.now + latency)
                seq += 1
                heapq.heappush(in_flight, (clock.now + 2 * latency, seq, index, got, status, remaining, date))
                pending[index] -= 1
                sending[index] += 1
                run.requests += 1
        next_answer = in_flight[0][0] if in_flight else math.inf
        clock.now = max(clock.now, min(clock.now + wait, next_answer))
        while in_flight and in_flight[0][0] <= clock.now:
            _, _, index, permit, status, remaining, date = heapq.heappop(in_flight)
            sending[index] -= 1
            limiters[index].record(permit, remaining, rate_limited=status == 429, date=date if with_date else None)
            if status == 429:
                run.rate_limited += 1
                pending[index] += 1
            run.finished = clock.now
    return run


def floor_time(start: float, exchange: SimExchange, chunks: int, latency: float) -> float:
    """The least time ``chunks`` requests can take from ``start``: whole windows of the exchange, plus a round trip."""
    arrive = start + latency + exchange.offset
    windows_needed = math.ceil(chunks / exchange.per_second) - 1
    if windows_needed <= 0:
        return 2 * latency
    last_window_opens = math.floor(arrive) + windows_needed
    return last_window_opens - exchange.offset - latency - start + 2 * latency

"""A server whose ``Date`` headers lie (jump by hours between answers, or differ per connection) costs no 429.

The sandbox counts requests by its own clock; a transport in front of it rewrites every answer's ``Date``
from a clock 2-3 h off (any fraction of a second), for some answers or for every answer of one worker
thread (each worker keeps its own connection). 1,000 orders (50 chunks), sync, real time: the limiter
must not trust a ``Date`` that contradicts what it learned (``window_log.PhaseEstimate.learn_date``).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from email.utils import formatdate

import httpx
import pytest

from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders
from upbit_cancel.window_log import STEP_CONFIRMATIONS, PhaseEstimate
from upbit_client import Client
from upbit_sandbox import SandboxExchange

ORDERS = 1000


class LyingDates(httpx.BaseTransport):
    """The sandbox's answers with ``Date`` read from the true clock plus ``skew()`` seconds."""

    def __init__(self, inner: httpx.BaseTransport, skew: Callable[[], float]) -> None:
        self.inner, self.skew = inner, skew

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.headers["Date"] = formatdate(time.time() + self.skew(), usegmt=True)
        return response


def jumping() -> Callable[[], float]:
    pick = random.Random(7)
    return lambda: pick.choice([0.0, 1.0]) * pick.choice([-1.0, 1.0]) * pick.uniform(7200, 10800)


def per_connection() -> Callable[[], float]:
    clocks: dict[str, float] = {}
    offsets = (0.0, 7200.4, -10800.7)
    return lambda: clocks.setdefault(threading.current_thread().name, offsets[len(clocks) % 3])


@pytest.mark.parametrize("skew", [jumping, per_connection], ids=["jumping", "per-connection"])
def test_a_thousand_orders_answered_with_lying_dates_meet_no_429(skew: Callable[[], Callable[[], float]]) -> None:
    """End to end through the batch (the pacing rule itself is tested on the simulated exchange, where
    today's main drew 2-9 x 429: ``test_a_date_that_contradicts_what_the_limiter_learned_is_not_trusted``)."""
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, latency=0.02)
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    transport = LyingDates(exchange.transport(), skew())
    with Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": transport}) as client:
        orders = [exchange.add_order().uuid for _ in range(ORDERS)]
        result = cancel_orders(client, uuids=orders)
    assert len(result.success) == ORDERS
    assert (result.rate_limited, result.requests_sent) == (0, ORDERS // 20)


def test_a_date_that_contradicts_the_anchored_phase_is_not_trusted_and_the_phase_is_forgotten() -> None:
    phase = PhaseEstimate()
    assert phase.learn_date(100.4, 100.45, 100.0)
    assert phase.learn_date(100.5, 100.55, 101.0)  # two answers pin the boundary: known
    assert phase.known and phase.anchored
    assert not phase.learn_date(101.0, 101.05, 7301.0)  # the same moment, dated two hours later
    assert (phase.lo, phase.hi, phase.anchored) == (None, None, False)
    # A clock that really stepped: its Dates agree with each other (and with the one that contradicted), and
    # with where the exchange's windows start (a Remaining-Req tick: a window opened within 101.65-101.75);
    # they are trusted once STEP_CONFIRMATIONS in a row do.
    phase.observe_tick(101.65, 101.75)
    answers = [phase.learn_date(101.1 + 0.1 * n, 101.15 + 0.1 * n, 7301.0) for n in range(STEP_CONFIRMATIONS)]
    assert answers == [False] * (STEP_CONFIRMATIONS - 2) + [True, True]
    assert phase.anchored and phase.lo is not None and 7199 < phase.lo < 7201
    assert phase.hi is not None and 0.25 <= phase.lo % 1 < phase.hi % 1 <= 0.35 + 1e-9  # where the tick put it


def test_a_suspect_date_is_not_trusted_again_before_a_tick_agrees_with_it() -> None:
    # After a contradiction, six Dates in a row from one clock agree with each other (a trickle reusing one
    # connection of a server whose clocks disagree): without a tick nothing says where the windows start.
    phase = PhaseEstimate()
    phase.learn_date(100.4, 100.45, 100.0)
    phase.learn_date(100.5, 100.55, 101.0)
    assert not phase.learn_date(101.0, 101.05, 7301.0)
    streak = [phase.learn_date(101.1 + 0.1 * n, 101.15 + 0.1 * n, 7301.0) for n in range(2 * STEP_CONFIRMATIONS)]
    assert not any(streak) and not phase.anchored


def test_a_streak_of_dates_trusted_again_places_the_windows_where_the_ticks_show_them() -> None:
    # The real windows open at local .4-.5 (psi .5-.6 modulo 1); one connection's clock is 7200.96 s ahead. A
    # streak of its Dates agrees with itself; whenever it is trusted, the windows stay where the ticks put them.
    phase = PhaseEstimate()
    phase.learn_date(100.4, 100.45, 100.0)
    phase.learn_date(100.5, 100.55, 101.0)
    assert not phase.learn_date(101.0, 101.05, float(math.floor(101.025 + 7200.96)))
    phase.observe_tick(101.4, 101.5)  # the exchange's window opened in between: psi in [.5, .6) modulo 1
    for n in range(4 * STEP_CONFIRMATIONS):
        t = 101.6 + 0.1 * n
        phase.learn_date(t, t + 0.02, float(math.floor(t + 0.01 + 7200.96)))
        if phase.anchored:
            assert phase.lo is not None and phase.hi is not None
            assert 0.5 <= phase.lo % 1 < phase.hi % 1 <= 0.6 + 1e-9, (phase.lo, phase.hi)

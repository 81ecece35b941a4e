"""The pure rule of pooled phase bounds (issue 26, item 4): ``PhaseEstimate.adopt_bounds``.

Processes of one host draw bounds of the exchange's phase from their own ``Date`` headers; the store pools
them (``BudgetStore.pool_bounds``, its rows in ``tests/test_store_rules.py``) and each process narrows its
estimate with the pool. The bounds are absolute, so only an anchored estimate takes them, and never while
``Date`` is suspect.
"""

from __future__ import annotations

from upbit_cancel.window_log import PhaseEstimate


def dated(sent: float, received: float, date: float) -> PhaseEstimate:
    estimate = PhaseEstimate()
    estimate.observe_date(sent, received, date)
    return estimate


def test_an_anchored_estimate_narrows_to_the_pooled_bounds() -> None:
    estimate = dated(100.5, 100.52, 999.0)  # [898.48, 899.5): one Date says nothing modulo 1
    assert not estimate.known
    assert estimate.adopt_bounds(899.38, 900.4)  # another process's Date of the next second
    assert (estimate.lo, estimate.hi) == (899.38, 899.5) and estimate.known and estimate.anchored


def test_bounds_that_do_not_meet_the_estimate_or_add_nothing_change_nothing() -> None:
    estimate = dated(100.5, 100.52, 999.0)
    assert not estimate.adopt_bounds(901.0, 901.5)
    assert not estimate.adopt_bounds(898.0, 900.0)
    assert (estimate.lo, estimate.hi) == (999.0 - 100.52, 1000.0 - 100.5)


def test_an_estimate_without_a_date_or_with_a_suspect_one_takes_no_pooled_bounds() -> None:
    unanchored = PhaseEstimate()
    unanchored.observe_tick(100.3, 100.4)  # Remaining-Req ticks: modulo 1 only
    assert not unanchored.adopt_bounds(899.35, 899.4)
    assert PhaseEstimate().adopt_bounds(899.35, 899.4) is False
    doubted = dated(100.5, 100.52, 999.0)
    doubted.observe_date(100.6, 100.62, 5000.0)  # contradicts it: Date is suspect, the estimate forgotten
    assert not doubted.adopt_bounds(899.38, 899.5) and doubted.lo is None

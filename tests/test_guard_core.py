"""The guard's rules without I/O (``guard_core``): what a beat, an expiry or a lost store lead to, when a
fire ends."""

from __future__ import annotations

from upbit_cancel.guard_core import (
    FIRE,
    POLL,
    PREPARE,
    RETRY_MIN,
    SETTLE,
    TOGETHER,
    Firing,
    Watch,
    WatchState,
    gathering,
)
from upbit_cancel.heartbeat_store import Beat
from upbit_cancel.results import BatchResult, ErrorInfo, NotSentOrder, OrderRef, UnconfirmedOrder


def test_an_alive_heartbeat_is_armed_with_its_deadline_on_the_guards_clock_from_the_time_left() -> None:
    watch = Watch("bot-a")
    action, line = watch.observe(Beat(True, 2.5, "{}"), now=100.0)
    assert action is None and watch.state is WatchState.ARMED and watch.deadline == 102.5
    assert line is not None and "armed" in line
    assert watch.observe(Beat(True, 2.0, "{}"), now=101.0) == (None, None)  # extended: no new line
    assert watch.deadline == 103.0


def test_the_guard_looks_again_at_the_deadline_when_it_comes_before_the_next_poll() -> None:
    watch = Watch("bot-a")
    watch.observe(Beat(True, 0.1, "{}"), now=10.0)
    assert watch.next_look(10.0) == 10.1 + SETTLE
    watch.observe(Beat(True, 30.0, "{}"), now=10.0)
    assert watch.next_look(10.0) == 10.0 + POLL


def test_two_heartbeats_expiring_5_ms_apart_are_both_fired_before_either_sweeps_and_neither_early() -> None:
    first, second = Watch("bot-a"), Watch("bot-b")
    first.observe(Beat(True, 1.000, "{}"), now=0.0)
    second.observe(Beat(True, 1.005, "{}"), now=0.0)
    found = 1.0 + SETTLE  # the look at the first deadline: the first expired, the second 1 ms from it
    assert first.observe(Beat(True, None, "{}"), now=found) == (FIRE, None)
    assert second.observe(Beat(True, 0.001, "{}"), now=found)[0] is None  # alive on the store's clock: not yet
    first.state = WatchState.FIRING
    held = gathering([first, second], found)
    assert held is not None and abs(held - (found + 0.001)) < 1e-9  # the first fire waits for the second's deadline
    again = second.next_look(found)
    assert abs(again - (found + 0.001 + SETTLE)) < 1e-9  # looked at again at that deadline, not claimed before
    assert second.observe(Beat(True, None, "{}"), now=again) == (FIRE, None)
    second.state = WatchState.FIRING
    assert gathering([first, second], found) is None  # both found: the two sweeps start together


def test_a_fire_waits_for_no_heartbeat_expiring_later_than_together_and_never_longer_than_together() -> None:
    fired, later = Watch("bot-a"), Watch("bot-b")
    fired.state = WatchState.FIRING
    later.observe(Beat(True, TOGETHER + 0.01, "{}"), now=5.0)
    assert gathering([fired, later], 5.0) is None  # 40 ms away: the fire sweeps now
    chain = [Watch(f"bot-{n}") for n in range(10)]
    for number, watch in enumerate(chain):  # each 20 ms after the one before: a chain longer than TOGETHER
        watch.observe(Beat(True, 0.02 * (number + 1), "{}"), now=7.0)
    assert gathering(chain, 7.0) == 7.0 + 0.02  # the first of the chain, within TOGETHER
    assert gathering(chain[2:], 7.0) is None  # the rest lie beyond the first look + TOGETHER: not waited for
    disarmed, lost = Watch("bot-x"), Watch("bot-y")
    disarmed.observe(Beat(False, None), now=7.0)
    lost.observe(Beat(True, 0.01, "{}"), now=7.0)
    lost.observe(None, now=7.0)  # store lost: never waited for
    assert gathering([disarmed, lost], 7.0) is None


def test_the_guard_gets_a_heartbeats_pocket_ready_only_as_its_deadline_nears() -> None:
    watch = Watch("bot-a")
    watch.observe(Beat(True, 60.0, "{}"), now=0.0)
    assert not watch.near(0.0) and not watch.near(60.0 - PREPARE - 0.1)  # an idle guard loads no sweep
    assert watch.near(60.0 - PREPARE) and watch.near(59.9)
    watch.observe(Beat(True, 60.0, "{}"), now=59.9)  # beaten again: far off once more
    assert not watch.near(59.9)
    watch.observe(Beat(False, None), now=60.0)
    assert not watch.near(60.0)  # disarmed: nothing to get ready


def test_an_armed_heartbeat_that_is_no_longer_alive_fires_and_a_disarmed_one_does_not() -> None:
    watch = Watch("bot-a")
    watch.observe(Beat(True, 1.0, "{}"), now=0.0)
    assert watch.observe(Beat(True, None, "{}"), now=1.01)[0] == FIRE
    quiet = Watch("bot-b")
    quiet.observe(Beat(True, 1.0, "{}"), now=0.0)
    action, line = quiet.observe(Beat(False, None), now=0.5)
    assert action is None and quiet.state is WatchState.DISARMED and line is not None and "disarmed" in line


def test_a_lost_store_never_fires_warns_once_and_an_expiry_seen_when_it_is_back_fires() -> None:
    watch = Watch("bot-a")
    watch.observe(Beat(True, 1.0, "{}"), now=0.0)
    action, line = watch.observe(None, now=0.5)
    assert action is None and watch.state is WatchState.STORE_LOST and line is not None and "not firing" in line
    assert watch.observe(None, now=5.0) == (None, None)  # long past the deadline: still no fire, no new line
    assert watch.next_look(5.0) == 5.0 + POLL
    assert watch.observe(Beat(True, None, "{}"), now=6.0)[0] == FIRE


def test_a_heartbeat_being_fired_on_is_not_judged_again() -> None:
    watch = Watch("bot-a", state=WatchState.FIRING)
    assert watch.observe(Beat(True, None, "{}"), now=1.0) == (None, None)


def _ref(uuid: str) -> OrderRef:
    return OrderRef(uuid, "KRW-BTC")


def test_a_fire_ends_complete_when_an_attempt_leaves_nothing_unconfirmed_unsent_or_blocked() -> None:
    firing = Firing("bot-a", started=0.0, give_up=10.0)
    assert firing.attempted(BatchResult("uuids", success=[_ref("a"), _ref("b")]), now=1.0) is None
    assert firing.complete and [order.uuid for order in firing.report(1.0).success] == ["a", "b"]


def test_a_fire_that_left_work_tries_again_later_and_each_order_keeps_its_best_known_fate_once() -> None:
    firing = Firing("bot-a", started=0.0, give_up=10.0)
    error = ErrorInfo("transport", "unreachable")
    first = BatchResult("uuids", success=[_ref("a")], unconfirmed=[UnconfirmedOrder("b", "uuids", error)],
                        not_sent=[NotSentOrder("c", "uuids", "timeout")])  # fmt: skip
    again = firing.attempted(first, now=1.0)
    assert again == 1.0 + RETRY_MIN and not firing.complete
    assert firing.attempted(BatchResult("uuids", success=[_ref("b"), _ref("c")]), now=again) is None
    report = firing.report(2.0)
    assert sorted(order.uuid or "" for order in report.success) == ["a", "b", "c"]
    assert not report.unconfirmed and not report.not_sent and firing.complete


def test_a_failing_exchange_is_tried_again_with_growing_waits_until_the_give_up_time_then_given_up() -> None:
    firing = Firing("bot-a", started=0.0, give_up=3.0)
    now, waits = 0.0, []
    while (at := firing.attempted(ConnectionError("unreachable"), now)) is not None:
        waits.append(at - now)
        now = at
    assert waits == sorted(waits) and len(waits) >= 2 and now < 3.0
    assert not firing.complete and firing.last_error is not None and "unreachable" in firing.last_error


def test_a_block_delays_the_next_attempt_until_it_ends() -> None:
    firing = Firing("bot-a", started=0.0, give_up=100.0)
    assert firing.attempted(ConnectionError("418"), now=1.0, blocked_until=40.0) == 40.0
    assert firing.attempted(ConnectionError("418"), now=1.0, blocked_until=200.0) is None  # past the give-up time


def test_after_the_store_changes_master_an_expired_heartbeat_waits_one_full_timeout_before_it_fires() -> None:
    watch = Watch("bot-a")
    watch.observe(Beat(True, 2.0, "{}", timeout=2.0, master="old"), now=0.0)
    watch.observe(None, now=1.0)  # the master is killed: the store cannot be read
    action, line = watch.observe(Beat(True, None, "{}", master="new"), now=3.0)  # the new master lost the beats
    assert action is None and watch.state is WatchState.GRACE and watch.grace_until == 5.0
    assert line is not None and "master changed" in line
    assert watch.next_look(3.0) == 3.0 + POLL and watch.next_look(4.9) == 5.0 + SETTLE
    assert watch.observe(Beat(True, None, "{}", master="new"), now=4.99) == (None, None)  # still within it
    assert watch.observe(Beat(True, None, "{}", master="new"), now=5.0)[0] == FIRE  # the bot really died


def test_a_bot_that_beats_again_within_the_grace_is_never_fired_on() -> None:
    watch = Watch("bot-a")
    watch.observe(Beat(True, 1.0, "{}", timeout=1.0, master="old"), now=0.0)
    assert watch.observe(Beat(True, None, "{}", master="new"), now=1.5)[0] is None
    assert watch.observe(Beat(True, 1.0, "{}", timeout=1.0, master="new"), now=1.8)[0] is None  # it beat again
    assert watch.state is WatchState.ARMED and watch.deadline == 2.8
    assert watch.observe(Beat(True, None, "{}", master="new"), now=2.81)[0] == FIRE  # after the grace: as ever


def test_the_first_master_seen_is_no_change_and_the_same_master_gives_no_grace() -> None:
    watch = Watch("bot-a")
    assert watch.observe(Beat(True, None, "{}", master="first"), now=0.0)[0] == FIRE  # a guard started late
    other = Watch("bot-b")
    other.observe(Beat(True, 1.0, "{}", timeout=1.0, master="same"), now=0.0)
    assert other.observe(Beat(True, None, "{}", master="same"), now=1.01)[0] == FIRE
    assert other.grace_until is None


def test_a_heartbeat_of_an_earlier_release_gets_the_longest_time_left_seen_as_its_grace() -> None:
    watch = Watch("bot-a")
    watch.observe(Beat(True, 0.8, "{}", master="old"), now=0.0)  # no timeout stored with it
    watch.observe(Beat(True, 1.5, "{}", master="old"), now=0.5)
    watch.observe(Beat(True, None, "{}", master="new"), now=3.0)
    assert watch.state is WatchState.GRACE and watch.grace_until == 4.5
    assert watch.trigger_at() == 4.5

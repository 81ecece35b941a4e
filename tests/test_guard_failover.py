"""The guard through a Sentinel failover, with real processes (``tests/redis_topologies.py``): a bot
heartbeating through ``redis+sentinel://`` keeps its orders while the master is killed and the replica
promoted (the guard's grace of one timeout after a change of master, ``guard_core.Watch``), and is fired
on once it is killed with ``kill -9``.

While the store has no master no bot can beat, so the new master says "expired" of a bot that kept
beating. The bot is paused (``SIGSTOP``) from the master's death until the guard has read the new master:
its next beat lands after the guard's first read, as it does in production, where a bot beats every
15-30 s and the guard reads at least every ``guard_core.POLL`` (0.5 s). Without the grace the guard fires
then; with it, the bot's next beat (at once when it is let go) re-arms it within the grace.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.redis_topologies import SentinelSet, sentinel_for_failover
from tests.test_guard_processes import _env, _Guard, _open, _reported, _seed, exchange
from upbit_sandbox import SandboxExchange

__all__ = ["exchange", "sentinel_for_failover"]

TIMEOUT = 2.0
BOT = textwrap.dedent(
    f"""
    import sys, time
    from upbit_cancel.heartbeat import Heartbeat, GuardScope
    name, store, prefix = sys.argv[1:]
    with Heartbeat(name, {TIMEOUT}, store=store, interval=0.2, scope=GuardScope(identifier_prefix=prefix)):
        print("beating", flush=True)
        time.sleep(600)
    """
)


def _wait_for_line(guard: _Guard, text: str, seconds: float, count: int = 1) -> None:
    deadline = time.monotonic() + seconds
    while sum(text in line for line in guard.err) < count:
        if time.monotonic() > deadline or guard.process.poll() is not None:
            pytest.fail(f"the guard did not log {text!r} within {seconds:g} s: {''.join(guard.err)[-2000:]}")
        time.sleep(0.01)


def _beaten_again_in_time(guard: _Guard) -> None:
    """The bot's next beat reached the guard within the grace: it logs "armed" again, or, where the new master
    had kept the last beat (the failover took less than the beat's time left), it never left "armed" at all."""
    deadline = time.monotonic() + TIMEOUT
    while sum("heartbeat bot-a: armed" in line for line in guard.err) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    if sum("heartbeat bot-a: armed" in line for line in guard.err) < 2:
        assert not any("waiting out the grace" in line for line in guard.err), "".join(guard.err)[-2000:]


def test_a_bot_that_keeps_heartbeating_through_a_sentinel_failover_is_never_fired_on_and_is_once_killed(
    exchange: tuple[SandboxExchange, str], tmp_path: Path, sentinel_for_failover: SentinelSet
) -> None:
    book, url = exchange
    sentinels, env = sentinel_for_failover, _env(tmp_path)
    mine, others = _seed(book, "bot-a-", 9), _seed(book, "manual-", 3)
    bot = subprocess.Popen([sys.executable, "-c", BOT, "bot-a", sentinels.url, "bot-a-"], env=env,
                           stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert bot.stdout is not None and bot.stdout.readline() == "beating\n"
    guard = _Guard(env, sentinels.url, url, "bot-a")
    try:
        _wait_for_line(guard, "heartbeat bot-a: armed", seconds=20)  # the guard has seen the first master
        bot.send_signal(signal.SIGSTOP)
        sentinels.kill_master()  # kill -9; returns once the replica is promoted and takes writes
        _wait_for_line(guard, "master changed", seconds=15)  # the guard read the new master: its grace began
        bot.send_signal(signal.SIGCONT)
        _beaten_again_in_time(guard)
        time.sleep(TIMEOUT + 0.5)  # beyond one more timeout: a bot that beats is never fired on
        assert guard.lines.empty(), "".join(guard.err)
        assert _open(book) == set(mine) | set(others)
        bot.send_signal(signal.SIGKILL)
        bot.wait()
        fire = guard.fire(seconds=20)
    finally:
        bot.kill()
        _, err = guard.stop()
    waiting = {uuid for uuid, state in mine.items() if state == "wait"}
    assert fire["heartbeat"] == "bot-a" and fire["complete"] and fire["cancelled"] == len(waiting)
    assert sorted(_reported(fire)) == sorted(waiting)  # each once; stops kept (the default states)
    assert _open(book) == (set(mine) - waiting) | set(others)
    assert "master changed" in err and err.count("expired, firing") == 1 and "Traceback" not in err

"""The dead-man's switch with real processes: a bot heartbeating in its own process is killed with
``kill -9``, and ``upbit-cancel guard``, in another, cancels its scope over HTTP against the sandbox."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.redis_support import redis_server
from upbit_cancel.guard_cli import EXIT_GAVE_UP
from upbit_cancel.interrupts import interrupted_status
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, start_server

__all__ = ["redis_server"]

UPBIT_CANCEL = Path(sys.executable).parent / "upbit-cancel"
BOT = textwrap.dedent(
    """
    import sys, time
    from upbit_cancel.heartbeat import Heartbeat, GuardScope
    name, store, prefix, *states = sys.argv[1:]
    scope = GuardScope(identifier_prefix=prefix, **({"states": states} if states else {}))
    with Heartbeat(name, 1.0, store=store, interval=0.2, scope=scope):
        print("beating", flush=True)
        time.sleep(600)
    """
)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}
    return env | {"UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY, "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY,
                  "XDG_STATE_HOME": str(tmp_path)}  # fmt: skip


def _bot(env: dict[str, str], name: str, store: str, prefix: str, *states: str) -> subprocess.Popen[str]:
    bot = subprocess.Popen([sys.executable, "-c", BOT, name, store, prefix, *states], env=env,
                           stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert bot.stdout is not None and bot.stdout.readline() == "beating\n"
    return bot


class _Guard:
    """``upbit-cancel guard`` in its own process; its stdout lines (one per fire) in a queue, its stderr kept.

    Each pipe has a reader thread of its own, and ``stop`` only waits for the process: ``communicate``
    would read stdout too, and a fire's line could go to it instead of the queue.
    """

    def __init__(self, env: dict[str, str], store: str, url: str, *names: str) -> None:
        argv = [str(UPBIT_CANCEL), "guard", *names, "--store", store, "--server-url", url]
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def _read_err(self) -> None:
        assert self.process.stderr is not None
        self.err.extend(self.process.stderr)

    def fire(self, seconds: float) -> dict[str, Any]:
        return dict(json.loads(self.lines.get(timeout=seconds)))

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)
        for reader in self.readers:
            reader.join(timeout=20)
        return self.process.returncode, "".join(self.err)


@pytest.fixture
def exchange() -> Iterator[tuple[SandboxExchange, str]]:
    book = SandboxExchange()
    server, url = start_server(book)
    try:
        yield book, url
    finally:
        server.stop()


def _seed(book: SandboxExchange, prefix: str, count: int) -> dict[str, str]:
    """``count`` orders with identifiers ``prefix0``...; every third a ``watch`` (stop) order. uuid -> state."""
    orders = [book.add_order(identifier=f"{prefix}{n}", state="watch" if n % 3 == 0 else "wait") for n in range(count)]
    return {order.uuid: order.state for order in orders}


def _open(book: SandboxExchange) -> set[str]:
    return {order.uuid for order in (*book.orders("wait"), *book.orders("watch"))}


def _reported(fire: dict[str, Any]) -> list[str]:
    report = fire["report"]
    return [order.get("uuid") or order.get("id") for group in report.values() for order in group["orders"]]


def test_a_bot_killed_with_sigkill_has_every_order_of_its_scope_cancelled_by_the_guard_through_redis(
    exchange: tuple[SandboxExchange, str], tmp_path: Path, redis_server: str
) -> None:
    book, url = exchange
    env = _env(tmp_path)
    mine, others = _seed(book, "bot-a-", 12), _seed(book, "manual-", 3)
    bot = _bot(env, "bot-a", redis_server, "bot-a-", "wait", "watch")
    guard = _Guard(env, redis_server, url, "bot-a")
    try:
        time.sleep(2.0)  # two timeouts: a beating bot is not fired on
        assert guard.lines.empty() and _open(book) == set(mine) | set(others)
        bot.send_signal(signal.SIGKILL)
        bot.wait()
        fire = guard.fire(seconds=20)
    finally:
        bot.kill()
        status, err = guard.stop()
    assert fire["heartbeat"] == "bot-a" and fire["complete"] and fire["cancelled"] == 12
    assert sorted(_reported(fire)) == sorted(mine)  # each once, wait and watch both
    assert {"wait", "watch"} == set(mine.values())
    assert _open(book) == set(others)
    assert status == interrupted_status(signal.SIGTERM), err
    assert "expired, firing" in err and "Traceback" not in err


def test_two_bots_in_one_pocket_one_killed_only_its_wait_orders_are_cancelled(
    exchange: tuple[SandboxExchange, str], tmp_path: Path
) -> None:
    book, url = exchange
    env, store = _env(tmp_path), str(tmp_path / "heartbeats")
    orders_a, orders_b = _seed(book, "bot-a-", 9), _seed(book, "bot-b-", 9)
    bot_a, bot_b = _bot(env, "bot-a", store, "bot-a-"), _bot(env, "bot-b", store, "bot-b-")
    guard = _Guard(env, store, url, "bot-a", "bot-b")
    try:
        bot_a.send_signal(signal.SIGKILL)
        fire = guard.fire(seconds=20)
        time.sleep(2.0)  # bot-b keeps beating through two of its timeouts
        assert guard.lines.empty()
    finally:
        bot_a.kill()
        bot_b.kill()
        guard.stop()
    assert fire["heartbeat"] == "bot-a" and fire["complete"]
    stops_a = {uuid for uuid, state in orders_a.items() if state == "watch"}
    assert sorted(_reported(fire)) == sorted(set(orders_a) - stops_a)  # the default: wait orders only
    assert _open(book) == set(orders_b) | stops_a


def test_sigterm_during_a_fire_writes_its_report_so_far_marked_interrupted_and_exits_143(tmp_path: Path) -> None:
    book = SandboxExchange(latency=0.1)
    orders = _seed(book, "bot-a-", 300)
    server, url = start_server(book)
    env, store = _env(tmp_path), str(tmp_path / "heartbeats")
    try:
        beat = [str(UPBIT_CANCEL), "heartbeat", "bot-a", "--timeout", "0.1", "--store", store]
        assert subprocess.run(beat, env=env, capture_output=True, timeout=60).returncode == 0
        guard = _Guard(env, store, url, "bot-a")
        deadline = time.monotonic() + 30
        while len(book.requests) < 5 and time.monotonic() < deadline:  # listed, cancelling
            time.sleep(0.01)
        status, err = guard.stop()
        fire = guard.fire(seconds=5)
    finally:
        server.stop()
    assert status == interrupted_status(signal.SIGTERM), err
    assert fire["interrupted"] and not fire["complete"]
    reported = _reported(fire)
    assert len(reported) == len(set(reported)) and set(reported) <= set(orders)  # each once
    cancelled = {order["uuid"] for order in fire["report"]["success"]["orders"]}
    assert cancelled and cancelled.isdisjoint(_open(book))


def test_the_guard_command_gives_up_on_an_unreachable_exchange_with_its_own_status(tmp_path: Path) -> None:
    env, store = _env(tmp_path), str(tmp_path / "heartbeats")
    beat = [str(UPBIT_CANCEL), "heartbeat", "bot-a", "--timeout", "0.1", "--store", store]
    assert subprocess.run(beat, env=env, capture_output=True, timeout=60).returncode == 0
    argv = [str(UPBIT_CANCEL), "guard", "bot-a", "--store", store, "--server-url", "http://127.0.0.1:9",
            "--give-up", "1.5"]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_GAVE_UP, done.stderr
    fire = json.loads(done.stdout)
    assert not fire["complete"] and fire["attempts"] >= 2 and "gave up" in done.stderr
    status = subprocess.run([str(UPBIT_CANCEL), "guard", "--status"], env=env, capture_output=True, text=True)
    assert status.returncode == 0
    shown = json.loads(status.stdout)
    assert shown["running"] is False  # the guard exited: the file says so
    assert shown["heartbeats"]["bot-a"]["last_fire"]["complete"] is False
    assert shown["heartbeats"]["bot-a"]["last_fire"]["report"] == fire["report"]


def test_the_commands_refuse_bad_usage_and_a_guard_without_keys_before_watching(tmp_path: Path) -> None:
    env = _env(tmp_path)
    bad = subprocess.run([str(UPBIT_CANCEL), "heartbeat", "bot a"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "heartbeat name" in bad.stderr and "given: 'bot a'" in bad.stderr
    no_keys = {name: value for name, value in env.items() if not name.startswith("UPBIT_")}
    guard = subprocess.run([str(UPBIT_CANCEL), "guard", "bot-a"], env=no_keys, capture_output=True, text=True)
    assert guard.returncode == 3 and "Traceback" not in guard.stderr


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:9", "http://[::1", "http://user:pw@127.0.0.1:9", "127.0.0.1:9"])
def test_a_guard_given_a_server_url_that_cannot_work_exits_2_at_start_not_when_it_fires(
    tmp_path: Path, url: str
) -> None:
    env, store = _env(tmp_path), str(tmp_path / "heartbeats")
    argv = [str(UPBIT_CANCEL), "guard", "bot-a", "--store", store, "--server-url", url]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "base URL" in done.stderr and "Traceback" not in done.stderr and done.stdout == ""
    assert "pw@" not in done.stderr  # a password in the URL is not echoed
    assert not (tmp_path / "heartbeats").exists() or not any((tmp_path / "heartbeats").iterdir())

"""The library's ``Guard`` against the sandbox over HTTP: it fires on silence, sweeps exactly the scope,
never fires on a bot that beats or on a lost store, keeps trying an unreachable exchange, and says its state."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from upbit_cancel.guard import FireRecord, Guard
from upbit_cancel.guard_core import WatchState
from upbit_cancel.heartbeat import GuardScope, Heartbeat
from upbit_cancel.heartbeat_store import Beat, FolderHeartbeats
from upbit_cancel.store import StoreUnavailable
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, start_server

KEYS = {"UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY, "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY}


@pytest.fixture
def exchange() -> Iterator[tuple[SandboxExchange, str]]:
    book = SandboxExchange()
    server, url = start_server(book)
    try:
        yield book, url
    finally:
        server.stop()


def _open(book: SandboxExchange) -> set[str]:
    return {order.identifier or order.uuid for order in (*book.orders("wait"), *book.orders("watch"))}


def _seed(book: SandboxExchange, prefix: str, count: int) -> None:
    for number in range(count):
        book.add_order(identifier=f"{prefix}{number}", state="watch" if number % 3 == 0 else "wait")


def _guard_until_fired(guard: Guard, fires: list[FireRecord], seconds: float) -> None:
    async def watch() -> None:
        with anyio.move_on_after(seconds):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(guard.run)
                while not fires:
                    await anyio.sleep(0.02)
                tasks.cancel_scope.cancel()

    anyio.run(watch)


def test_a_silent_heartbeat_fires_once_on_its_scope_wait_orders_only_by_default(
    exchange: tuple[SandboxExchange, str], tmp_path: Path
) -> None:
    book, url = exchange
    _seed(book, "bot-a-", 9)
    _seed(book, "bot-b-", 4)
    store = FolderHeartbeats(tmp_path)
    Heartbeat("bot-a", 0.3, store=store, scope=GuardScope(identifier_prefix="bot-a-")).beat()
    fires: list[FireRecord] = []
    guard = Guard(["bot-a"], store=store, base_url=url, environ=KEYS, on_fire=fires.append,
                  status_file=tmp_path / "status.json")  # fmt: skip
    _guard_until_fired(guard, fires, 10)
    assert len(fires) == 1 and fires[0].complete
    assert _open(book) == {f"bot-a-{n}" for n in (0, 3, 6)} | {f"bot-b-{n}" for n in range(4)}  # watch kept
    assert sorted(order.identifier or "" for order in fires[0].report.success) == [
        f"bot-a-{n}" for n in (1, 2, 4, 5, 7, 8)
    ]
    assert fires[0].detected_after is not None and 0 <= fires[0].detected_after < 1.0  # generous: a loaded machine
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["heartbeats"]["bot-a"]["state"] == "disarmed"
    assert status["heartbeats"]["bot-a"]["last_fire"]["cancelled"] == 6
    assert not store.read("bot-a").armed  # disarmed after firing, until the next beat


def test_the_status_file_says_what_status_says_with_every_last_fire_whole_after_several_fires(
    exchange: tuple[SandboxExchange, str], tmp_path: Path
) -> None:
    book, url = exchange
    _seed(book, "bot-a-", 5)
    _seed(book, "bot-b-", 4)
    store = FolderHeartbeats(tmp_path)
    for name in ("bot-a", "bot-b"):
        Heartbeat(name, 0.1, store=store, scope=GuardScope(identifier_prefix=f"{name}-")).beat()
    Heartbeat("bot-c", 60, store=store).beat()
    fires: list[FireRecord] = []
    path = tmp_path / "status.json"
    guard = Guard(["bot-a", "bot-b", "bot-c"], store=store, base_url=url, environ=KEYS, on_fire=fires.append,
                  status_file=path)  # fmt: skip

    async def watch() -> None:
        with anyio.move_on_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(guard.run)
                while len(fires) < 2:
                    await anyio.sleep(0.02)
                tasks.cancel_scope.cancel()

    anyio.run(watch)
    written, status = json.loads(path.read_text()), guard.status()
    assert written.pop("written_at") and status.pop("written_at")
    for shown in (written, status):
        shown["heartbeats"]["bot-c"].pop("trigger_at")
    assert written == status
    assert written["heartbeats"]["bot-a"]["last_fire"]["report"]["success"]["count"] == 3
    assert written["heartbeats"]["bot-c"] == {"state": "armed", "last_fire": None}


def test_a_bot_that_keeps_beating_is_never_fired_on_and_its_guard_says_it_is_armed(
    exchange: tuple[SandboxExchange, str], tmp_path: Path
) -> None:
    book, url = exchange
    _seed(book, "bot-a-", 5)
    store = FolderHeartbeats(tmp_path)
    fires: list[FireRecord] = []
    guard = Guard(["bot-a"], store=store, base_url=url, environ=KEYS, on_fire=fires.append)
    with Heartbeat("bot-a", 0.3, store=store, interval=0.05, scope=GuardScope(states=("wait", "watch"))):
        _guard_until_fired(guard, fires, 1.5)
        assert guard.watches["bot-a"].state is WatchState.ARMED
        assert guard.status()["heartbeats"]["bot-a"]["trigger_at"] is not None
    assert fires == [] and len(_open(book)) == 5


class _Flaky(FolderHeartbeats):
    """A folder store that cannot be read while ``down`` is set."""

    down = threading.Event()

    def read(self, name: str) -> Beat:
        if self.down.is_set():
            raise StoreUnavailable("heartbeat store: down")
        return super().read(name)


def test_a_lost_store_does_not_fire_and_an_expiry_found_when_it_is_back_does(
    exchange: tuple[SandboxExchange, str], tmp_path: Path
) -> None:
    book, url = exchange
    _seed(book, "bot-a-", 3)
    store = _Flaky(tmp_path)
    fires: list[FireRecord] = []
    guard = Guard(["bot-a"], store=store, base_url=url, environ=KEYS, on_fire=fires.append)
    Heartbeat("bot-a", 0.2, store=store).beat()
    store.down.set()
    threading.Timer(1.2, store.down.clear).start()
    started = time.monotonic()
    _guard_until_fired(guard, fires, 10)
    assert fires and time.monotonic() - started >= 1.2  # not before the store was back
    assert fires[0].complete and len(fires[0].report.success) == 2


def test_an_unreachable_exchange_is_tried_again_until_the_give_up_time_and_the_guard_stops_with_what_is_left(
    tmp_path: Path,
) -> None:
    store = FolderHeartbeats(tmp_path)
    Heartbeat("bot-a", 0.1, store=store).beat()
    time.sleep(0.15)
    guard = Guard(["bot-a"], store=store, base_url="http://127.0.0.1:9", environ=KEYS, give_up=2.0,
                  attempt_timeout=0.5)  # fmt: skip
    started = time.monotonic()
    gave_up = guard.run_sync()
    assert gave_up is not None and not gave_up.complete and gave_up.attempts >= 2
    assert gave_up.error is not None and 1.5 < time.monotonic() - started < 10


def test_the_guard_runs_under_trio_and_stop_from_on_fire_ends_its_run(
    exchange: tuple[SandboxExchange, str], tmp_path: Path
) -> None:
    book, url = exchange
    _seed(book, "bot-a-", 4)
    store = FolderHeartbeats(tmp_path)
    Heartbeat("bot-a", 0.1, store=store, scope=GuardScope(states=("wait", "watch"))).beat()
    fires: list[FireRecord] = []

    def fired(record: FireRecord) -> None:
        fires.append(record)
        guard.stop()

    guard = Guard(["bot-a"], store=store, base_url=url, environ=KEYS, on_fire=fired)
    assert guard.run_sync(backend="trio") is None  # stopped, not given up
    assert len(fires) == 1 and fires[0].complete and len(fires[0].report.success) == 4 and not _open(book)


def test_a_418_during_a_fire_is_waited_out_then_the_fire_completes_sending_nothing_while_blocked(
    exchange: tuple[SandboxExchange, str], tmp_path: Path
) -> None:
    book, url = exchange
    _seed(book, "bot-a-", 6)
    book.faults.blocked(seconds=1.0)  # the fire's first request: 418, blocked for 1 s
    store = FolderHeartbeats(tmp_path)
    Heartbeat("bot-a", 0.1, store=store, scope=GuardScope(states=("wait", "watch"))).beat()
    fires: list[FireRecord] = []
    guard = Guard(["bot-a"], store=store, base_url=url, environ=KEYS, on_fire=fires.append)
    _guard_until_fired(guard, fires, 20)
    assert fires and fires[0].complete and fires[0].attempts >= 2 and not _open(book)
    assert fires[0].report.elapsed >= 0.9  # the block was waited out
    assert [request.status for request in book.requests].count(418) == 1  # nothing more hit the block

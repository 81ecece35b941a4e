"""Every heartbeat rule over both stores: a folder (one host) and a real redis-server (any hosts).

A heartbeat is alive (a deadline on the store's clock) and armed (its scope); armed and not alive is
expired; ``claim`` turns an expired heartbeat into a fire once, disarming it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_support import redis_server
from upbit_cancel.errors import ConfigurationError
from upbit_cancel.heartbeat import GuardScope, Heartbeat
from upbit_cancel.heartbeat_store import (
    FolderHeartbeats,
    HeartbeatStore,
    RedisHeartbeats,
    check_name,
    open_heartbeat_store,
)
from upbit_cancel.store import StoreUnavailable

__all__ = ["redis_server"]


@pytest.fixture(params=["folder", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HeartbeatStore]:
    if request.param == "folder":
        made: HeartbeatStore = FolderHeartbeats(tmp_path / "heartbeats")
    else:
        url = request.getfixturevalue("redis_server")
        made = RedisHeartbeats(url)
    yield made
    made.close()


def test_a_beat_arms_with_its_scope_and_the_time_left_is_the_timeout(store: HeartbeatStore) -> None:
    store.beat("bot-a", 5.0, '{"pocket": "p"}')
    beat = store.read("bot-a")
    assert beat.armed and beat.scope == '{"pocket": "p"}'
    assert beat.left is not None and 4.0 < beat.left <= 5.0
    assert not beat.expired


def test_a_heartbeat_never_beaten_is_neither_armed_nor_alive(store: HeartbeatStore) -> None:
    beat = store.read("nobody")
    assert not beat.armed and beat.left is None and not beat.expired
    assert store.claim("nobody") is None


def test_an_alive_heartbeat_cannot_be_claimed(store: HeartbeatStore) -> None:
    store.beat("bot-a", 5.0, "{}")
    assert store.claim("bot-a") is None
    assert store.read("bot-a").armed


def test_an_expired_heartbeat_is_claimed_once_and_stays_disarmed_until_the_next_beat(store: HeartbeatStore) -> None:
    store.beat("bot-a", 0.05, "scope-a")
    time.sleep(0.12)
    assert store.read("bot-a").expired
    assert store.claim("bot-a") == "scope-a"
    assert store.claim("bot-a") is None  # a second guard, or the same one again: nothing to fire
    assert not store.read("bot-a").armed
    store.beat("bot-a", 5.0, "scope-a")
    assert store.read("bot-a").armed


def test_a_beat_pushes_the_deadline_on(store: HeartbeatStore) -> None:
    store.beat("bot-a", 0.3, "{}")
    for _ in range(4):
        time.sleep(0.15)
        store.beat("bot-a", 0.3, "{}")
    assert not store.read("bot-a").expired  # 0.6 s after the first beat, 0.3 s timeouts


def test_a_disarmed_heartbeat_never_expires(store: HeartbeatStore) -> None:
    store.beat("bot-a", 0.05, "{}")
    store.disarm("bot-a")
    time.sleep(0.1)
    assert not store.read("bot-a").expired and store.claim("bot-a") is None


def test_a_beat_with_timeout_zero_disarms_as_krakens_does(store: HeartbeatStore) -> None:
    Heartbeat("bot-a", 5.0, store=store).beat()
    assert store.read("bot-a").armed
    Heartbeat("bot-a", 0, store=store).beat()
    assert not store.read("bot-a").armed


def test_claims_racing_with_beats_never_fire_on_a_heartbeat_beaten_in_time(store: HeartbeatStore) -> None:
    stop = threading.Event()

    def beating() -> None:
        while not stop.is_set():
            store.beat("bot-a", 0.5, "{}")
            time.sleep(0.01)

    thread = threading.Thread(target=beating)
    thread.start()
    try:
        claimed = [store.claim("bot-a") for _ in range(200)]
    finally:
        stop.set()
        thread.join()
    assert claimed == [None] * 200


def test_the_context_manager_beats_in_the_background_and_disarms_on_a_clean_exit(store: HeartbeatStore) -> None:
    with Heartbeat("bot-a", 0.4, store=store, interval=0.05) as beating:
        time.sleep(0.6)
        assert not store.read("bot-a").expired and beating.healthy
    assert not store.read("bot-a").armed


def test_the_context_manager_leaves_the_guard_armed_when_the_bot_fails(store: HeartbeatStore) -> None:
    with pytest.raises(RuntimeError), Heartbeat("bot-a", 0.05, store=store, interval=0.01):
        raise RuntimeError("the bot crashed")
    time.sleep(0.1)
    assert store.read("bot-a").expired


@pytest.mark.anyio
async def test_the_async_context_manager_beats_and_disarms_too(tmp_path: Path) -> None:
    store = FolderHeartbeats(tmp_path)
    async with Heartbeat("bot-a", 0.4, store=store, interval=0.05):
        assert store.read("bot-a").armed
    assert not store.read("bot-a").armed


def test_a_redis_store_that_cannot_be_reached_raises_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="heartbeat store"):
        RedisHeartbeats(f"unix://{tmp_path}/no-such.sock").read("bot-a")


def test_a_bad_name_timeout_or_store_setting_is_refused_saying_what_was_given(tmp_path: Path) -> None:
    for name in ("", "a b", "../x", "x" * 65, "-x"):
        with pytest.raises(ConfigurationError, match="heartbeat name"):
            check_name(name)
    with pytest.raises(ConfigurationError, match="timeout must be"):
        Heartbeat("bot-a", -1, store=FolderHeartbeats(tmp_path))
    with pytest.raises(ConfigurationError, match="shorter than timeout"):
        Heartbeat("bot-a", 1, store=FolderHeartbeats(tmp_path), interval=2)
    with pytest.raises(ConfigurationError, match="given: 'relative/folder'"):
        open_heartbeat_store("relative/folder", {})


def test_the_store_setting_falls_back_to_the_rate_limit_store_then_a_folder_in_the_state_home(tmp_path: Path) -> None:
    assert isinstance(open_heartbeat_store(None, {"XDG_STATE_HOME": str(tmp_path)}), FolderHeartbeats)
    assert (tmp_path / "upbit-cancel" / "heartbeats").is_dir()
    chosen = open_heartbeat_store(None, {"UPBIT_RATE_LIMIT_STORE": f"unix://{tmp_path}/r.sock"})
    assert isinstance(chosen, RedisHeartbeats)
    assert isinstance(open_heartbeat_store(None, {"UPBIT_HEARTBEAT_STORE": f"file://{tmp_path}/hb"}), FolderHeartbeats)


def test_a_scope_is_checked_when_made_and_reads_back_as_it_was_written() -> None:
    scope = GuardScope("pocket-1", ["KRW-BTC"], "bid", ("wait", "watch"), "bot-a-")
    assert GuardScope.from_text(scope.to_text()) == scope
    assert GuardScope().states == ("wait",)  # stop orders are only cancelled when asked
    with pytest.raises(Exception, match="identifier_prefix"):
        GuardScope(identifier_prefix="bad\x00prefix")
    with pytest.raises(Exception, match="states"):
        GuardScope(states=("done",))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="does not read as a scope"):
        GuardScope.from_text('{"colour": 1}')


def test_a_bot_whose_clocks_are_an_hour_off_is_read_by_the_time_left_on_the_stores_clock(
    redis_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisHeartbeats(redis_server)
    real_time, real_monotonic = time.time, time.monotonic
    with monkeypatch.context() as shifted:  # the bot's host: both its clocks an hour ahead
        shifted.setattr(time, "time", lambda: real_time() + 3600)
        shifted.setattr(time, "monotonic", lambda: real_monotonic() + 3600)
        Heartbeat("bot-a", 2.0, store=store).beat()
    beat = store.read("bot-a")  # the guard's host, its own clocks
    assert beat.left is not None and 1.5 < beat.left <= 2.0
    store.close()


def test_a_beat_stores_its_timeout_with_its_deadline(store: HeartbeatStore) -> None:
    store.beat("bot-a", 5.0, "{}")
    assert store.read("bot-a").timeout == 5.0


def test_a_beat_of_an_earlier_release_reads_with_an_unknown_timeout_and_the_master_that_answered(
    redis_server: str,
) -> None:
    import redis

    store = RedisHeartbeats(redis_server)
    alive, armed = store.keys("bot-a")
    client = redis.Redis.from_url(redis_server)  # an earlier release wrote "1" as the alive key's value
    client.set(alive, "1", px=5000)
    client.set(armed, "{}")
    run_id = client.info("server")["run_id"]
    client.close()
    beat = store.read("bot-a")
    store.close()
    assert beat.armed and beat.left is not None and beat.timeout is None and beat.master == run_id

"""The heartbeat store on every store URL the budget store takes beyond one server: a Sentinel-watched
master and a Cluster (real ``redis-server`` processes, ``tests/redis_topologies.py``).

The rules themselves run over a folder and one server in ``tests/test_heartbeat_store.py``; here, that the
same calls work through ``redis+sentinel://`` and ``redis+cluster://`` (the Lua of ``claim`` and ``read``
on a Cluster needs both keys of a heartbeat in one slot), and that each read names the master that answered.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from redis.cluster import key_slot

from tests.redis_topologies import redis_cluster, redis_sentinel
from upbit_cancel.heartbeat import Heartbeat
from upbit_cancel.heartbeat_store import RedisHeartbeats, open_heartbeat_store

__all__ = ["redis_cluster", "redis_sentinel"]


@pytest.fixture(params=["sentinel", "cluster"])
def store(request: pytest.FixtureRequest) -> Iterator[RedisHeartbeats]:
    topology = request.getfixturevalue(f"redis_{request.param}")
    made = open_heartbeat_store(topology.url, {})
    assert isinstance(made, RedisHeartbeats)
    yield made
    made.close()


def _name() -> str:
    return f"bot-{uuid.uuid4().hex[:8]}"


def test_a_beat_arms_reads_back_its_time_left_timeout_and_master_and_is_claimed_once_when_expired(
    store: RedisHeartbeats,
) -> None:
    name = _name()
    store.beat(name, 5.0, '{"pocket": "p"}')
    beat = store.read(name)
    assert beat.armed and beat.scope == '{"pocket": "p"}' and beat.timeout == 5.0
    assert beat.left is not None and 4.0 < beat.left <= 5.0
    assert beat.master is not None and len(beat.master) == 40  # the run id of the node that holds it
    assert store.claim(name) is None  # alive
    store.beat(name, 0.05, "scope")
    time.sleep(0.12)
    expired = store.read(name)
    assert expired.expired and expired.timeout is None  # not alive: its timeout is gone with it
    assert store.claim(name) == "scope"
    assert store.claim(name) is None and not store.read(name).armed


def test_a_disarm_and_a_beat_with_timeout_zero_disarm_through_sentinel_and_cluster(store: RedisHeartbeats) -> None:
    name = _name()
    Heartbeat(name, 5.0, store=store).beat()
    store.disarm(name)
    assert not store.read(name).armed
    Heartbeat(name, 5.0, store=store).beat()
    Heartbeat(name, 0, store=store).beat()
    assert not store.read(name).armed and store.claim(name) is None


def test_both_keys_of_a_heartbeat_share_one_cluster_slot_whatever_its_name() -> None:
    for name in ("bot-a", "bot-b", "x", "a.b_c-9"):
        alive, armed = RedisHeartbeats.keys(name)
        assert key_slot(alive.encode()) == key_slot(armed.encode())
    assert len({key_slot(RedisHeartbeats.keys(name)[0].encode()) for name in ("bot-a", "bot-b", "bot-c")}) > 1

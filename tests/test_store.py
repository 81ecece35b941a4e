"""The shared rate-limit store on a real redis-server: one budget, one phase, one block for every process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.clocks import FakeClock
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.redis_support import redis_server, redis_url, start_redis
from tests.test_store_rules import take_all
from upbit_auth import UpbitAuth
from upbit_cancel import cli
from upbit_cancel.batch import cancel_orders_async
from upbit_cancel.errors import ConfigurationError
from upbit_cancel.ratelimit import STORE_RETRY_SECONDS, Permit, RateLimiter, limiter_for
from upbit_cancel.redis_connect import lua_script
from upbit_cancel.redis_store import SharedBudget
from upbit_cancel.remaining_req import RemainingReq
from upbit_cancel.store import STORE_ENV, redacted_url, resolve_store_url
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import SandboxExchange

__all__ = ["redis_server", "redis_url"]

GROUP = "default"
PER_SECOND = 30
KEY = "access-key-of-the-account"


def process(url: str, clock: FakeClock, key: str = KEY) -> RateLimiter:
    """A limiter as one process of the account would have it: its own log, the store in common."""
    limiter = RateLimiter(GROUP, PER_SECOND, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, reserve=0)
    limiter.use_store(SharedBudget(url, key, GROUP, PER_SECOND))
    return limiter


def answer(limiter: RateLimiter, permits: list[Permit], date: float | None) -> None:
    """The exchange answers every one of ``permits`` now; ``date``: the exchange second its ``Date`` names."""
    for left, permit in enumerate(reversed(permits)):
        limiter.record(permit, RemainingReq(GROUP, left), date=date)


def test_the_password_of_a_store_url_is_never_shown() -> None:
    assert redacted_url("redis://:hunter2@cache:6379/0") == "redis://***@cache:6379/0"
    assert redacted_url("redis://user:hunter2@cache/1") == "redis://***@cache/1"
    assert redacted_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_an_unreachable_store_falls_back_to_in_process_pacing_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "redis://:hunter2@127.0.0.1:1/0"  # nothing listens on port 1
    rate_limit = cancel_orders_by_ids.RATE_LIMIT
    with caplog.at_level(logging.WARNING, logger="upbit_cancel.ratelimit"):
        limiter = limiter_for(KEY, rate_limit, store=url)
        for _ in range(3):
            assert isinstance(limiter.try_acquire(), Permit)
        assert limiter_for(KEY, rate_limit, store=url) is limiter
        assert isinstance(limiter.try_acquire(), Permit)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "in this process only" in warnings[0] and "hunter2" not in warnings[0]
    assert limiter.store is None


def test_a_store_that_goes_away_mid_batch_does_not_stop_cancelling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, url = start_redis(tmp_path)
    try:
        clock = FakeClock(start=100.5)
        limiter = process(url, clock)
        assert isinstance(limiter.try_acquire(), Permit)
        assert limiter.store is not None
    finally:
        server.terminate()
        server.wait(timeout=10)
    with caplog.at_level(logging.WARNING, logger="upbit_cancel.ratelimit"):
        assert isinstance(limiter.try_acquire(), Permit)
        assert isinstance(limiter.try_acquire(), Permit)
    assert limiter.store is None
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_two_batches_with_separate_limiters_and_one_store_cancel_everything_together(redis_url: str) -> None:
    """Two "processes" (separate limiters, separate clients) on one key and one exchange, real time."""
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, latency=0.005)
    orders = [exchange.add_order().uuid for _ in range(2 * 200)]

    async def one(ids: list[str]) -> tuple[int, int, int]:
        limiter = RateLimiter(GROUP, PER_SECOND)
        limiter.use_store(SharedBudget(redis_url, TEST_ACCESS_KEY, GROUP, PER_SECOND))
        auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
        async with Client(
            base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": exchange.transport()}
        ) as client:
            result = await cancel_orders_async(client, uuids=ids, limiter=limiter)
        return len(result.success), result.rate_limited, result.requests_sent

    async def both() -> list[tuple[int, int, int]]:
        return await asyncio.gather(one(orders[:200]), one(orders[200:]))

    results = asyncio.run(both())
    assert sum(success for success, _, _ in results) == 400
    assert sum(limited for _, limited, _ in results) <= 1
    assert len(exchange.orders("wait")) == 0


def test_upbit_cancel_with_an_unreachable_store_warns_once_and_cancels_everything(
    cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    orders = [exchange.add_order().uuid for _ in range(45)]
    store = "redis://:store-password@127.0.0.1:1/0"
    status = cli.main(["--rate-limit-store", store, "--uuid", *orders], transport=exchange.transport())
    out, err = capsys.readouterr()
    assert status == 0, err
    assert len(exchange.orders("wait")) == 0
    warnings = [line for line in err.splitlines() if line.startswith("upbit-cancel: warning:")]
    assert len(warnings) == 1 and "in this process only" in warnings[0]
    assert "store-password" not in out + err and TEST_SECRET_KEY not in out + err


def test_upbit_cancel_takes_the_store_from_the_environment(
    cli_env: pytest.MonkeyPatch, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    orders = [exchange.add_order().uuid for _ in range(3)]
    cli_env.setenv(STORE_ENV, redis_url)
    assert cli.main(["--uuid", *orders], transport=exchange.transport()) == 0
    _, err = capsys.readouterr()
    assert "warning" not in err
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("upbit-rl:*")]
    assert keys and all(TEST_ACCESS_KEY not in key for key in keys)


class SwitchableRedis:
    """A real Redis client that can be made to fail like an unreachable server (``down = True``)."""

    def __init__(self, url: str) -> None:
        self.real = redis.Redis.from_url(url)
        self.down = False

    def _guard(self) -> None:
        if self.down:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1. Connection refused.")

    def register_script(self, source: str) -> Callable[..., object]:
        script = self.real.register_script(source)

        def call(**kwargs: object) -> object:
            self._guard()
            return script(**kwargs)

        return call

    def eval(self, source: str, numkeys: int, *keys_and_args: str | int) -> object:
        self._guard()
        return self.real.eval(source, numkeys, *keys_and_args)

    def get(self, key: str) -> object:
        self._guard()
        return self.real.get(key)

    def set(self, key: str, value: str, px: int) -> object:
        self._guard()
        return self.real.set(key, value, px=px)


def test_a_store_that_comes_back_is_shared_again_after_the_pause_with_one_warning(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(start=100.5)
    switch = SwitchableRedis(redis_url)
    limiter = RateLimiter(GROUP, PER_SECOND, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, reserve=0)
    limiter.use_store(SharedBudget(redis_url, KEY, GROUP, PER_SECOND, client=switch))
    other = process(redis_url, clock)
    switch.down = True
    with caplog.at_level(logging.WARNING, logger="upbit_cancel.ratelimit"):
        during = [limiter.try_acquire()]  # cancelling goes on, paced in-process
        assert limiter.store is None
        clock.now += STORE_RETRY_SECONDS + 1  # still down at the next try: no second warning
        during.append(limiter.try_acquire())
        assert limiter.store is None
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert all(isinstance(permit, Permit) for permit in during)
    answer(limiter, [permit for permit in during if isinstance(permit, Permit)], None)
    switch.down = False
    clock.now += STORE_RETRY_SECONDS + 1
    shared = take_all(limiter)
    assert limiter.store is not None
    assert len(shared) == PER_SECOND
    assert take_all(other) == []  # the budget is one again: what this process took counts for the other


def test_the_store_setting_is_the_argument_else_the_environment_checked_in_one_place() -> None:
    environ = {STORE_ENV: "redis://cache:6379/1"}
    assert resolve_store_url("redis://other:6379/0", environ=environ) == "redis://other:6379/0"
    assert resolve_store_url(None, environ=environ) == "redis://cache:6379/1"
    assert resolve_store_url("", environ=environ) is None  # said explicitly: no store, whatever the environment
    assert resolve_store_url(None, environ={}) is None
    with pytest.raises(ConfigurationError, match=r"--rate-limit-store must use the redis.*'http://cache'"):
        resolve_store_url("http://cache", source="--rate-limit-store", environ=environ)
    with pytest.raises(ConfigurationError, match=rf"{STORE_ENV} has no host.*\*\*\*@"):
        resolve_store_url(None, environ={STORE_ENV: "redis://:hunter2@/0"})


def test_the_lua_scripts_are_read_beside_the_module_else_through_the_package_resources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Read as files where the package is a folder (no ``importlib.resources`` readers to import before a cold
    process's first take); where it is not (a zip), through the package's resources: the same source."""
    with monkeypatch.context() as patched:
        patched.setattr("importlib.resources.files", lambda _: pytest.fail("read through the resources"))
        lua_script.cache_clear()
        beside = lua_script("take")
    assert "redis.call('GET', KEYS[1])" in beside
    monkeypatch.setattr("upbit_cancel.redis_connect.Path", lambda _: Path("/not/a/folder/redis_connect.py"))
    lua_script.cache_clear()
    try:
        assert lua_script("take") == beside
        assert "SCRIPTS['take'] = function(KEYS, ARGV)" in lua_script("many")
    finally:
        lua_script.cache_clear()

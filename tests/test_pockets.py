"""The pocket is the budget: keys named into one pocket share one rate budget and one 418 block.

Without a redis-server: the in-memory store (``memory_store``) stands in for Redis, on a fake clock.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.clocks import FakeClock
from tests.conftest import set_upbit_env
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import chunks
from upbit_auth import UpbitAuth
from upbit_cancel import KeyBlocked as ExportedKeyBlocked
from upbit_cancel import UpbitClientError, cli, connect
from upbit_cancel.batch import cancel_orders_async
from upbit_cancel.errors import ConfigurationError
from upbit_cancel.pacing import PacedTransport
from upbit_cancel.ratelimit import KeyBlocked, Permit, RateLimiter, limiter_for
from upbit_cancel.remaining_req import RemainingReq
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.rules import RateLimit
from upbit_sandbox import SandboxExchange

BASE_URL = "https://api.upbit.com"
OTHER_KEY = "second-access-key-of-the-pocket"
OTHER_SECRET = "second-secret-of-the-pocket-0123456789abcdef0123456789abcdef"
RATE = cancel_orders_by_ids.RATE_LIMIT
assert RATE is not None


def test_keys_named_into_one_pocket_share_one_limiter_and_unnamed_keys_do_not() -> None:
    first = limiter_for(TEST_ACCESS_KEY, RATE, pocket="main")
    assert limiter_for(OTHER_KEY, RATE, pocket="main") is first
    assert limiter_for(OTHER_KEY, RATE, pocket="sub-1") is not first
    assert limiter_for(TEST_ACCESS_KEY, RATE) is not limiter_for(OTHER_KEY, RATE)


def test_a_418_met_with_one_key_blocks_every_key_of_the_pocket_in_every_group() -> None:
    limiter_for(TEST_ACCESS_KEY, RATE, pocket="main").block(60, "HTTP 418")
    other_group = RateLimit(group="order", per_second=12)
    with pytest.raises(KeyBlocked):
        limiter_for(OTHER_KEY, other_group, pocket="main").try_acquire()
    assert isinstance(limiter_for(OTHER_KEY, RATE, pocket="other").try_acquire(), Permit)


def test_the_pocket_comes_from_the_auth_the_environment_or_connect() -> None:
    env = {"UPBIT_ACCESS_KEY": TEST_ACCESS_KEY, "UPBIT_SECRET_KEY": TEST_SECRET_KEY, "UPBIT_POCKET": "bots"}
    assert UpbitAuth.from_env(env).pocket == "bots"
    assert UpbitAuth.from_env(env, pocket="main").pocket == "main"
    assert UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY).pocket is None
    client = connect(access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, pocket="sub-2", environ={})
    auth = client.get_httpx_client().auth
    assert isinstance(auth, UpbitAuth) and auth.pocket == "sub-2"
    with pytest.raises(ConfigurationError, match="pocket"):
        connect(access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, pocket="  ", environ={})


def test_key_blocked_is_an_sdk_error_importable_where_it_was() -> None:
    assert issubclass(KeyBlocked, UpbitClientError)
    assert ExportedKeyBlocked is KeyBlocked


def test_the_sandbox_counts_one_window_for_every_key_of_a_pocket() -> None:
    exchange = SandboxExchange(credentials={}, rate_limit_per_second=2, clock=lambda: 100.5)
    exchange.add_credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY, pocket="main")
    exchange.add_credentials(OTHER_KEY, OTHER_SECRET, pocket="main")
    exchange.add_credentials("lone-key", "lone-secret-0123456789abcdef0123456789abcdef0123456789")
    orders = [exchange.add_order().uuid for _ in range(4)]
    statuses = []
    for access, secret, order in (
        (TEST_ACCESS_KEY, TEST_SECRET_KEY, orders[0]),
        (OTHER_KEY, OTHER_SECRET, orders[1]),
        (OTHER_KEY, OTHER_SECRET, orders[2]),
        ("lone-key", "lone-secret-0123456789abcdef0123456789abcdef0123456789", orders[3]),
    ):
        auth = UpbitAuth(access, secret)
        with Client(base_url=BASE_URL, httpx_args={"auth": auth, "transport": exchange.transport()}) as client:
            statuses.append(cancel_orders_by_ids.sync_detailed(client=client, uuids=[order]).status_code)
    assert statuses == [200, 200, 429, 200]


def test_two_keys_of_one_pocket_cancelling_at_once_meet_no_429() -> None:
    exchange = SandboxExchange(credentials={}, latency=0.002)
    exchange.add_credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY, pocket="main")
    exchange.add_credentials(OTHER_KEY, OTHER_SECRET, pocket="main")
    orders = [exchange.add_order().uuid for _ in range(1200)]

    async def bot(access: str, secret: str, uuids: list[str]) -> tuple[int, int, int]:
        client = connect(BASE_URL, access_key=access, secret_key=secret, pocket="main", environ={},
                         httpx_args={"transport": exchange.transport()})  # fmt: skip
        async with client:
            result = await cancel_orders_async(client, uuids=uuids, timeout_total=60)
        return result.rate_limited, result.requests_sent, len(result.success)

    async def both() -> list[tuple[int, int, int]]:
        return list(
            await asyncio.gather(
                bot(TEST_ACCESS_KEY, TEST_SECRET_KEY, orders[:600]), bot(OTHER_KEY, OTHER_SECRET, orders[600:])
            )
        )

    assert asyncio.run(both()) == [(0, chunks(600), 600), (0, chunks(600), 600)]


def test_a_window_of_two_seconds_lets_one_request_per_two_exchange_seconds() -> None:
    clock = FakeClock(start=1000.0)
    limiter = RateLimiter("order-cancel-all", 1, clock=clock, sleep=clock.sleep, window_seconds=2)
    first = limiter.try_acquire()
    assert isinstance(first, Permit)
    clock.now = 1000.01
    limiter.record(first, RemainingReq("order-cancel-all", 0))
    # Phase unknown: the next window surely opened two seconds after the answer at the latest.
    second = limiter.acquire()
    assert isinstance(second, Permit) and second.sent_at >= 1002.01 - 1e-6


def test_a_window_of_two_seconds_is_paced_by_the_exchange_clock_once_dated() -> None:
    clock = FakeClock(start=1000.0)
    limiter = RateLimiter("order-cancel-all", 1, clock=clock, sleep=clock.sleep, window_seconds=2)
    # The exchange's clock is 0.40-0.45 s ahead: its even seconds start at local x.55-x.6 of odd ones.
    limiter.phase.observe_date(999.55, 999.55, 999.0)
    limiter.phase.observe_date(999.6, 999.6, 1000.0)
    first = limiter.try_acquire()  # exchange window [1000, 1002) ends at local 1001.55-1001.6
    assert isinstance(first, Permit)
    clock.now = 1000.05
    limiter.record(first, RemainingReq("order-cancel-all", 0), date=1000.0)
    second = limiter.acquire()
    assert isinstance(second, Permit) and 1001.55 <= second.sent_at <= 1001.61


def test_a_batch_on_a_paced_transport_is_paced_once() -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, latency=0.001)
    orders = [exchange.add_order().uuid for _ in range(200)] + [exchange.add_order(state="done").uuid]
    granted: list[Permit] = []
    shared = limiter_for(TEST_ACCESS_KEY, RATE)
    original = shared.try_acquire

    def counting(backlog: int = 1) -> Permit | float:
        got = original(backlog)
        if isinstance(got, Permit):
            granted.append(got)
        return got

    shared.try_acquire = counting  # type: ignore[method-assign]
    paced = PacedTransport(exchange.transport())
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)

    async def run() -> int:
        async with Client(base_url=BASE_URL, httpx_args={"auth": auth, "transport": paced}) as client:
            result = await cancel_orders_async(client, uuids=orders, timeout_total=30)
        assert len(result.success) == 200 and result.lookups_sent == 1  # the filled one is looked up
        return result.requests_sent + result.lookups_sent

    sent = asyncio.run(run())
    assert len(granted) == sent == chunks(len(orders)) + 1  # one permit per cancel and per lookup


def test_a_418_on_a_paced_single_call_blocks_the_batches_of_the_pocket() -> None:
    blocked = httpx.MockTransport(
        lambda request: httpx.Response(418, json={"error": {"name": "blocked", "message": "Blocked for 60 seconds."}})
    )
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY, pocket="main")
    with Client(base_url=BASE_URL, httpx_args={"auth": auth, "transport": PacedTransport(blocked)}) as client:
        assert cancel_orders_by_ids.sync_detailed(client=client, uuids=["a" * 36]).status_code == 418
    assert limiter_for(OTHER_KEY, RATE, pocket="main").blocked_until() is not None
    assert limiter_for(OTHER_KEY, RATE).blocked_until() is None


@pytest.mark.parametrize("named_by", ["--pocket", "UPBIT_POCKET"])
def test_the_command_paces_by_the_pocket_it_is_given(
    named_by: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, TEST_SECRET_KEY)
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    order = exchange.add_order().uuid
    argv = ["--uuid", order, "--no-confirm"]
    if named_by == "--pocket":
        argv += ["--pocket", "bots"]
    else:
        monkeypatch.setenv("UPBIT_POCKET", "bots")
    assert cli.main(argv, transport=exchange.transport()) == 0
    capsys.readouterr()
    assert limiter_for(TEST_ACCESS_KEY, RATE, pocket="bots").last_remaining is not None
    assert limiter_for(TEST_ACCESS_KEY, RATE).last_remaining is None

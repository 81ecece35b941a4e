"""A trading team's tests of their bot, as they write them: the sandbox's fixtures, nothing imported from the plugin.

Run by ``tools/consumer_drill.sh`` in a project of its own, installed offline from the wheelhouse, under
xdist (-n 4), pytest-randomly and -W error, with async tests on asyncio (pytest-asyncio) and on trio
(anyio's plugin).
"""

from __future__ import annotations

import pytest

from upbit_cancel import cancel_open_orders, cancel_orders, cancel_orders_async
from upbit_client import Client
from upbit_sandbox import SandboxExchange


def test_a_418_blocks_this_test(upbit_exchange: SandboxExchange, upbit_client: Client) -> None:
    upbit_exchange.faults.blocked(seconds=600)
    assert cancel_orders(upbit_client, identifiers=["demo-0001"]).blocked is not None


def test_the_next_test_is_not_blocked(upbit_client: Client) -> None:
    assert cancel_orders(upbit_client, identifiers=["demo-0001", "demo-0002"]).all_cancelled


def test_a_lost_answer_is_confirmed_by_lookup(upbit_exchange: SandboxExchange, upbit_client: Client) -> None:
    upbit_exchange.faults.lose_answer()
    report = cancel_orders(upbit_client, identifiers=["demo-0003", "demo-0004"])
    assert [order.confirmed_by for order in report.success] == ["lookup", "lookup"]


def test_cancel_all_my_open_bids_on_krw_btc(upbit_client: Client) -> None:
    report = cancel_open_orders(upbit_client, markets=["KRW-BTC"], side="bid")
    assert report.success and {(order.market, order.side) for order in report.success} == {("KRW-BTC", "bid")}


@pytest.mark.asyncio
async def test_async_code_cancels_on_asyncio(upbit_exchange: SandboxExchange, upbit_async_client: Client) -> None:
    upbit_exchange.faults.latency(0.05)
    report = await cancel_orders_async(upbit_async_client, identifiers=["demo-0005", "demo-0006"])
    assert report.all_cancelled


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


@pytest.mark.anyio
async def test_async_code_cancels_on_trio(upbit_exchange: SandboxExchange, upbit_async_client: Client) -> None:
    upbit_exchange.faults.latency(0.05)
    report = await cancel_orders_async(upbit_async_client, identifiers=["demo-0007", "demo-0008"])
    assert report.all_cancelled

"""``cancel_open_orders``: list the open orders that match, cancel them by uuid, every fate known.

Guarantee under test (docs/guarantees.md, "Cancelling open orders by filter"): against the sandbox's
order book, sync and async, the sweep cancels exactly the orders that match (``wait`` and ``watch``),
leaves the others, names each once with its market and side, without a 429; ``dry_run`` sends no
cancel; an order created after the listing is left alone unless ``until_empty``; an interrupted sweep
reports what was cancelled and what was not sent; bad filters are refused before anything is sent.
"""

from __future__ import annotations

import asyncio
import datetime
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from tests.backends import backend, limiter_waits
from tests.faults import assert_every_id_once
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import chunks, pages
from upbit_auth import UpbitAuth
from upbit_cancel import (
    AuthenticationError,
    BatchCancelled,
    BatchInterrupted,
    BatchResult,
    InvalidRequest,
    cancel_open_orders,
    cancel_open_orders_async,
)
from upbit_cancel.batch import DEFAULT_MAX_TRIES
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids, list_open_orders
from upbit_sandbox import Order, SandboxExchange, SandboxTransport
from upbit_sandbox.book import seed_open_orders

MARKETS = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "BTC-ETH")


class HookedTransport(SandboxTransport):
    """The sandbox, calling ``before(request)`` ahead of each request it answers."""

    def __init__(self, exchange: SandboxExchange, before: Callable[[httpx.Request], None]) -> None:
        super().__init__(exchange)
        self.before = before

    def sync_handler(self, request: httpx.Request) -> httpx.Response:
        self.before(request)
        return super().sync_handler(request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        self.before(request)
        return await super().async_handler(request)


def book(count: int = 1000, **options: Any) -> tuple[SandboxExchange, list[Order]]:
    """The sandbox with its real rate limits (30/s), holding ``count`` open orders on 4 markets, 10 % ``watch``."""
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, **options)
    return exchange, seed_open_orders(exchange, count, markets=MARKETS)


def client_for(transport: httpx.BaseTransport | httpx.AsyncBaseTransport) -> Client:
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    return Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": transport})


def sweep(mode: str, exchange: SandboxExchange, transport: Any = None, **options: Any) -> BatchResult:
    client = client_for(transport or exchange.transport())
    if mode == "sync":
        with client:
            return cancel_open_orders(client, **options)

    async def run() -> BatchResult:
        async with client:
            return await cancel_open_orders_async(client, **options)

    return anyio.run(run, backend=backend(mode))


def cancels(exchange: SandboxExchange) -> list[str]:
    """The targets of every cancel request the exchange answered (by uuids or Upbit's own filter cancel)."""
    return [record.target for record in exchange.requests if record.method == "DELETE"]


def still_open(exchange: SandboxExchange) -> set[str]:
    return {order.uuid for order in exchange.orders() if order.state in ("wait", "watch")}


@pytest.fixture(params=["sync", "async", "trio"])
def mode(request: pytest.FixtureRequest) -> str:
    """sync; async on asyncio; async on trio (the one async code runs on both through anyio)."""
    return str(request.param)


def test_one_market_is_emptied_wait_and_watch_and_every_other_order_is_left_open(mode: str) -> None:
    exchange, orders = book()
    btc = [order for order in orders if order.market == "KRW-BTC"]
    others = {order.uuid for order in orders if order.market != "KRW-BTC"}
    result = sweep(mode, exchange, markets=["KRW-BTC"])
    assert_every_id_once(result, [order.uuid for order in btc])
    assert len(result.success) == 250 and result.all_cancelled
    assert Counter(order.state for order in btc) == {"wait": 225, "watch": 25}
    assert still_open(exchange) == others
    assert result.rate_limited == 0 and all(record.status != 429 for record in exchange.requests)
    assert {(order.uuid, order.market, order.side) for order in result.success} == {
        (order.uuid, order.market, order.side) for order in btc
    }
    # Listed market by market, a full page at a time until a short one, then chunks of the spec's size.
    assert (result.listings_sent, result.requests_sent) == (pages(len(btc)), chunks(len(btc)))


def test_no_filter_cancels_every_open_order_watch_included_without_a_429(
    mode: str, request: pytest.FixtureRequest
) -> None:
    limiter_waits(request, mode)
    exchange, orders = book()
    result = sweep(mode, exchange)
    assert_every_id_once(result, [order.uuid for order in orders])
    assert result.all_cancelled and still_open(exchange) == set()
    # Full pages and a short (or empty) last one that shows the end, then chunks of the spec's size.
    assert result.rate_limited == 0
    assert (result.listings_sent, result.requests_sent) == (pages(len(orders)), chunks(len(orders)))
    assert not any("/v1/orders/open" in target for target in cancels(exchange))  # never Upbit's filter cancel


def test_dry_run_lists_the_matches_and_sends_no_cancel(mode: str) -> None:
    exchange, orders = book(200)
    result = sweep(mode, exchange, markets=["KRW-ETH", "KRW-XRP"], dry_run=True)
    matching = [order for order in orders if order.market in ("KRW-ETH", "KRW-XRP")]
    assert cancels(exchange) == []
    assert still_open(exchange) == {order.uuid for order in orders}
    assert Counter((order.id, order.market, order.side) for order in result.not_sent) == Counter(
        (order.uuid, order.market, order.side) for order in matching
    )
    assert {order.why for order in result.not_sent} == {"dry run: listed, not cancelled"}
    assert result.success == [] and result.requests_sent == 0


def test_side_bid_touches_no_ask(mode: str) -> None:
    exchange, orders = book(400)
    asks = {order.uuid for order in orders if order.side == "ask"}
    result = sweep(mode, exchange, side="bid")
    assert {order.side for order in result.success} == {"bid"}
    assert len(result.success) == 200 and still_open(exchange) == asks
    assert not any(uuid in target for target in cancels(exchange) for uuid in asks)


def test_states_quote_currencies_exclusions_and_age_narrow_the_orders(mode: str) -> None:
    exchange, orders = book(400)
    cutoff = datetime.datetime.fromtimestamp(orders[200].created_at, datetime.UTC)
    result = sweep(
        mode,
        exchange,
        quote_currencies=["KRW"],
        excluded_markets=["KRW-XRP"],
        states=["watch"],
        created_before=cutoff,
    )
    expected = [
        order.uuid for order in orders[:200] if order.market in ("KRW-BTC", "KRW-ETH") and order.state == "watch"
    ]
    assert expected and [order.uuid for order in result.success] == expected
    assert still_open(exchange) == {order.uuid for order in orders} - set(expected)


def test_an_order_created_after_the_listing_is_left_alone(mode: str) -> None:
    exchange, _ = book(100)
    late: list[str] = []

    def place_an_order_at_the_first_cancel(request: httpx.Request) -> None:
        if request.method == "DELETE" and not late:
            late.append(exchange.add_order(market="KRW-BTC").uuid)

    result = sweep(mode, exchange, HookedTransport(exchange, place_an_order_at_the_first_cancel))
    assert len(result.success) == 100
    assert still_open(exchange) == set(late) and late[0] not in {order.uuid for order in result.success}


def test_until_empty_cancels_an_order_created_after_the_listing(mode: str) -> None:
    exchange, orders = book(100)
    late: list[str] = []

    def place_an_order_at_the_first_cancel(request: httpx.Request) -> None:
        if request.method == "DELETE" and not late:
            late.append(exchange.add_order(market="KRW-BTC").uuid)

    transport = HookedTransport(exchange, place_an_order_at_the_first_cancel)
    result = sweep(mode, exchange, transport, until_empty=True)
    assert_every_id_once(result, [order.uuid for order in orders] + late)
    assert result.all_cancelled and still_open(exchange) == set()


def test_until_empty_sends_again_an_unconfirmed_cancel_the_next_listing_still_shows_open(
    mode: str, request: pytest.FixtureRequest
) -> None:
    limiter_waits(request, mode)
    exchange, orders = book(10)
    # The first pass's cancel never arrives (every try), nor do its lookups: all 10 end unconfirmed.
    exchange.faults.reset(DEFAULT_MAX_TRIES, only="cancel_orders_by_ids")
    exchange.faults.reset(DEFAULT_MAX_TRIES * 5, only="list_orders_by_ids")
    first = sweep(mode, exchange, until_empty=False, timeout_total=10)
    assert len(first.unconfirmed) == 10 and len(still_open(exchange)) == 10
    exchange.faults.clear()

    exchange, orders = book(10)
    exchange.faults.reset(DEFAULT_MAX_TRIES, only="cancel_orders_by_ids")
    exchange.faults.reset(DEFAULT_MAX_TRIES * 5, only="list_orders_by_ids")
    result = sweep(mode, exchange, until_empty=True, timeout_total=10)
    assert_every_id_once(result, [order.uuid for order in orders])
    assert result.all_cancelled and still_open(exchange) == set()


def test_until_empty_stops_after_max_passes_and_reports_what_is_still_open(mode: str) -> None:
    exchange, _ = book(10)
    late: list[str] = []

    def place_an_order_at_every_cancel(request: httpx.Request) -> None:
        if request.method == "DELETE":
            late.append(exchange.add_order(market="KRW-ETH").uuid)

    transport = HookedTransport(exchange, place_an_order_at_every_cancel)
    result = sweep(mode, exchange, transport, until_empty=True, max_passes=3)
    assert len(result.success) == 12  # the 10, then one new order in each of two more passes
    assert [order.why for order in result.not_sent] == ["still open after 3 passes"]
    assert [order.id for order in result.not_sent] == [late[2]]


def test_ctrl_c_during_the_cancels_reports_what_was_cancelled_and_what_was_not_sent() -> None:
    exchange, orders = book(100)

    def stop_after_two_chunks(done: int, total: int) -> None:
        if done == 40:
            raise KeyboardInterrupt

    with client_for(exchange.transport()) as client, pytest.raises(BatchInterrupted) as caught:
        # One chunk at a time: which orders were sent is exact.
        cancel_open_orders(client, on_progress=stop_after_two_chunks, max_in_flight=1)
    report = caught.value.report
    assert report.interrupted
    assert_every_id_once(report, [order.uuid for order in orders])
    assert len(report.success) == 40 and len(report.not_sent) == 60 and not report.unconfirmed
    assert all(order.market and order.side for order in report.not_sent)
    assert len(still_open(exchange)) == 60


def test_ctrl_c_during_the_listing_reports_the_listed_orders_as_not_sent() -> None:
    exchange, orders = book(300)

    def stop_after_the_second_page(done: int, total: int) -> None:
        if total == 200:
            raise KeyboardInterrupt

    with client_for(exchange.transport()) as client, pytest.raises(BatchInterrupted) as caught:
        cancel_open_orders(client, on_progress=stop_after_the_second_page)
    report = caught.value.report
    assert report.interrupted and cancels(exchange) == []
    assert_every_id_once(report, [order.uuid for order in orders[:200]])
    assert {order.why for order in report.not_sent} == {"interrupted before it was sent"}


def test_cancelling_the_async_sweep_raises_batch_cancelled_with_every_listed_order_once() -> None:
    exchange, orders = book(300, latency=0.02)
    caught: list[BatchResult] = []

    async def run() -> None:
        async with client_for(exchange.transport()) as client:

            async def sweep_and_keep() -> None:
                try:
                    await cancel_open_orders_async(client, max_in_flight=2)
                except BatchCancelled as cancelled:
                    caught.append(cancelled.report)
                    raise

            task = asyncio.ensure_future(sweep_and_keep())
            while not any(record.method == "DELETE" for record in exchange.requests):
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(run())
    [report] = caught
    assert report.interrupted and report.not_sent
    assert_every_id_once(report, [order.uuid for order in orders])
    assert {order.uuid for order in report.success} | still_open(exchange) == {order.uuid for order in orders}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"markets": ["krw-btc"]}, r"markets: every item must be a market pair such as KRW-BTC"),
        ({"markets": "KRW-BTC"}, r"markets: must be a list of market pairs, not one string"),
        ({"markets": ["KRW-BTC"], "excluded_markets": ["KRW-BTC"]}, r"markets: every market is filtered out"),
        ({"markets": ["KRW-BTC"], "quote_currencies": ["BTC"]}, r"markets: every market is filtered out"),
        ({"side": "sell"}, r"side: must be one of \['ask', 'bid'\]"),
        ({"states": []}, r"states\[\]: needs at least 1 item"),
        ({"states": ["done"]}, r"states\[\]: every item must be one of \['wait', 'watch'\]"),
        ({"quote_currencies": ["KRW,BTC"]}, r"quote_currencies: must be one code"),
        ({"created_before": datetime.datetime(2026, 1, 1)}, r"created_before: must be a datetime with a time zone"),
    ],
)
def test_a_filter_the_spec_forbids_or_nothing_can_match_is_refused_before_sending(
    options: dict[str, Any], message: str
) -> None:
    exchange, _ = book(10)
    with client_for(exchange.transport()) as client, pytest.raises(InvalidRequest, match=message):
        cancel_open_orders(client, **options)
    assert exchange.requests == []


def test_a_first_listing_the_exchange_refuses_raises_its_error_and_cancels_nothing() -> None:
    exchange, _ = book(10)
    auth = UpbitAuth(TEST_ACCESS_KEY, "not-the-secret-" * 5)
    client = Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": exchange.transport()})
    with client, pytest.raises(AuthenticationError, match="jwt_verification"):
        cancel_open_orders(client)
    assert cancels(exchange) == [] and len(still_open(exchange)) == 10


def test_the_listing_and_the_cancels_share_one_limiter_of_the_default_group() -> None:
    assert list_open_orders.RATE_LIMIT == cancel_orders_by_ids.RATE_LIMIT
    assert list_open_orders.RATE_LIMIT is not None and list_open_orders.RATE_LIMIT.group == "default"


def test_two_sweeps_with_two_keys_of_one_named_pocket_share_its_budget_without_a_429() -> None:
    exchange = SandboxExchange(credentials={})
    exchange.add_credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY, pocket="main")
    exchange.add_credentials("second-key", TEST_SECRET_KEY, pocket="main")
    orders = seed_open_orders(exchange, 2000, markets=MARKETS)
    results: dict[str, BatchResult] = {}

    def sweep_market(access_key: str, market: str) -> None:
        auth = UpbitAuth(access_key, TEST_SECRET_KEY, pocket="main")
        httpx_args = {"auth": auth, "transport": exchange.transport()}
        with Client(base_url="https://api.upbit.com", httpx_args=httpx_args) as client:
            results[market] = cancel_open_orders(client, markets=[market])

    # 500 orders each: 6 listings and 25 cancels a sweep, 62 requests against one pocket's 30 a second.
    threads = [
        threading.Thread(target=sweep_market, args=(TEST_ACCESS_KEY, "KRW-BTC")),
        threading.Thread(target=sweep_market, args=("second-key", "KRW-ETH")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [len(results[market].success) for market in ("KRW-BTC", "KRW-ETH")] == [500, 500]
    assert all(record.status != 429 for record in exchange.requests)
    assert still_open(exchange) == {order.uuid for order in orders if order.market in ("KRW-XRP", "BTC-ETH")}

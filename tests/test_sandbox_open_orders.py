"""The sandbox serves ``GET`` and ``DELETE /v1/orders/open`` as Upbit documents them.

List Open Orders: ``market``, ``state`` / ``states[]`` (default ``wait``), paging by ``page`` and
``limit`` in creation order (``order_by``). Batch Cancel: only ``wait`` orders, ``cancel_side``,
``pairs`` or ``quote_currencies``, ``excluded_pairs`` winning, ``count`` (default 20), newest first,
and its own rate-limit group, one request per two seconds. The generated client refuses, before
sending, what the spec forbids (``x-at-most-one-of``, bounds, patterns).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.clocks import FakeClock
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_client import Client
from upbit_client.api.order import cancel_open_orders, cancel_orders_by_ids, list_open_orders
from upbit_client.errors import InvalidRequest
from upbit_client.models import CancelOrdersResult, Order
from upbit_sandbox import SandboxExchange
from upbit_sandbox.book import seed_open_orders


def exchange_and_client(count: int = 40, **options: object) -> tuple[SandboxExchange, Client]:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, **options)  # type: ignore[arg-type]
    seed_open_orders(exchange, count)
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    httpx_args = {"auth": auth, "transport": exchange.transport()}
    return exchange, Client(base_url="https://api.upbit.com", httpx_args=httpx_args)


def listed(parsed: object) -> list[Order]:
    assert isinstance(parsed, list)
    return parsed


def test_listing_defaults_to_wait_orders_newest_first_a_hundred_a_page() -> None:
    exchange, client = exchange_and_client(150)
    page = listed(list_open_orders.sync(client=client))
    waiting = [order for order in exchange.orders() if order.state == "wait"]
    assert [order.uuid for order in page] == [order.uuid for order in reversed(waiting)][:100]


def test_the_sandbox_assumes_the_defaults_the_spec_documents() -> None:
    from upbit_client.registry import OPERATIONS

    def default(operation: str, name: str) -> object:
        return OPERATIONS[operation].parameter(name).value.default

    _, client = exchange_and_client(150)
    assert len(listed(list_open_orders.sync(client=client))) == default("list_open_orders", "limit")
    answer = cancel_open_orders.sync(client=client)
    assert isinstance(answer, CancelOrdersResult)
    assert answer.success is not None and answer.success.count == default("cancel_open_orders", "count")


def test_listing_pages_through_one_market_in_both_open_states_oldest_first() -> None:
    exchange, client = exchange_and_client(40)
    pages = [
        listed(
            list_open_orders.sync(
                client=client, market="KRW-BTC", states=["wait", "watch"], limit=4, page=page, order_by="asc"
            )
        )
        for page in (1, 2, 3, 4)
    ]
    btc = [order.uuid for order in exchange.orders() if order.market == "KRW-BTC"]
    assert [len(page) for page in pages] == [4, 4, 2, 0]
    assert [order.uuid for page in pages for order in page] == btc
    assert {order.state for page in pages for order in page} == {"wait", "watch"}
    assert pages[0][0].created_at is not None and pages[0][0].created_at.endswith("+09:00")


def test_upbits_batch_cancel_cancels_wait_orders_only_by_side_and_pairs_newest_first() -> None:
    exchange, client = exchange_and_client(80)
    result = cancel_open_orders.sync(client=client, pairs="KRW-BTC,KRW-ETH", cancel_side="bid", count=300)
    assert isinstance(result, CancelOrdersResult)
    cancelled = {order.uuid for order in exchange.orders("cancel")}
    expected = [
        order
        for order in exchange.orders()
        if order.market in ("KRW-BTC", "KRW-ETH") and order.side == "bid" and order.uuid in cancelled
    ]
    assert expected and len(expected) == len(cancelled)
    assert result.success is not None and result.success.count == len(cancelled)
    assert all(order.state == "watch" or order.uuid not in cancelled for order in exchange.orders("watch"))
    left = Counter((order.market, order.side, order.state) for order in exchange.orders() if order.state != "cancel")
    assert left[("KRW-BTC", "bid", "wait")] == 0 and left[("KRW-BTC", "bid", "watch")] > 0


def test_upbits_batch_cancel_takes_count_newest_first_and_excluded_pairs_win() -> None:
    exchange, client = exchange_and_client(40)
    cancel_open_orders.sync(client=client, quote_currencies="KRW", excluded_pairs="KRW-XRP", count=3)
    newest = [
        order.uuid
        for order in reversed(exchange.orders())
        if order.market in ("KRW-BTC", "KRW-ETH") and order.state in ("wait", "cancel")
    ][:3]
    assert {order.uuid for order in exchange.orders("cancel")} == set(newest)


def test_upbits_batch_cancel_allows_one_request_per_two_seconds() -> None:
    clock = FakeClock(1000.0)
    exchange, client = exchange_and_client(40, clock=clock)
    statuses = []
    for step in (0.0, 0.5, 1.2, 0.4):  # t = 1000.0, 1000.5, 1001.7, 1002.1
        clock.now += step
        statuses.append(cancel_open_orders.sync_detailed(client=client, count=1).status_code)
    assert statuses == [200, 429, 429, 200]
    # Its group is not the default group: the uuid cancel still has its whole budget.
    response = cancel_orders_by_ids.sync_detailed(client=client, uuids=[exchange.orders()[0].uuid])
    assert response.headers["Remaining-Req"].startswith("group=default;")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: cancel_open_orders.sync(client=c, pairs="KRW-BTC", quote_currencies="KRW"), "x-at-most-one-of"),
        (lambda c: cancel_open_orders.sync(client=c, count=301), r"count: must be at most 300"),
        (lambda c: cancel_open_orders.sync(client=c, count=0), r"count: must be at least 1"),
        (lambda c: cancel_open_orders.sync(client=c, pairs=",".join(["KRW-BTC"] * 21)), r"1 to 20 comma-separated"),
        (lambda c: list_open_orders.sync(client=c, state="wait", states=["watch"]), "x-at-most-one-of"),
        (lambda c: list_open_orders.sync(client=c, limit=101), r"limit: must be at most 100"),
        (lambda c: list_open_orders.sync(client=c, page=0), r"page: must be at least 1"),
        (lambda c: list_open_orders.sync(client=c, market="KRW_BTC"), r"market: must be a market pair"),
    ],
)
def test_the_generated_calls_refuse_what_the_spec_forbids_before_sending(call: object, message: str) -> None:
    exchange, client = exchange_and_client(4)
    with pytest.raises(InvalidRequest, match=message):
        call(client)  # type: ignore[operator]
    assert exchange.requests == []


def test_the_sandbox_answers_400_to_pairs_with_quote_currencies_sent_by_hand() -> None:
    exchange, client = exchange_and_client(4)
    both = {"pairs": "KRW-BTC", "quote_currencies": "KRW"}
    response = client.get_httpx_client().delete("/v1/orders/open", params=both)
    assert (response.status_code, response.json()["error"]["name"]) == (400, "validation_error")
    assert len(exchange.orders("cancel")) == 0


def test_a_watch_order_is_cancelled_by_uuid() -> None:
    exchange, client = exchange_and_client(0)
    watching = exchange.add_order(state="watch").uuid
    result = cancel_orders_by_ids.sync(client=client, uuids=[watching])
    assert isinstance(result, CancelOrdersResult) and result.success is not None
    assert exchange.order(watching).state == "cancel"

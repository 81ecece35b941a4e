"""The sweep's listing rules against listing servers that misbehave (docs/outcomes.md, "Listing rules").

Rules under test: a full page that brings no new order ends the paging (the orders listed are cancelled);
a page longer than the ``limit`` sent is a bad answer (``InvalidResponse``, exit 3); a listing that would
need more than ``MAX_PAGES`` pages never ends as far as the sweep can tell (``InvalidResponse``, exit 3);
over HTTP, a page past the byte cap is read no further (``TransportError`` once the tries are spent,
exit 3; the transport's own tests). Each case ends within ``timeout_total`` + 1 s, in the sync sweep, the
async one (asyncio and trio) and ``upbit-cancel --open``. The cancels go to the sandbox; only the listing is hostile.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from tests.backends import backend
from tests.conftest import set_upbit_env
from tests.faults import assert_every_id_once
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel import BatchResult, cancel_open_orders, cancel_open_orders_async, cli
from upbit_cancel.ratelimit import RateLimiter
from upbit_cancel.sweep import MAX_PAGES, PAGE_SIZE
from upbit_client import Client
from upbit_client.errors import InvalidResponse
from upbit_sandbox import SandboxExchange
from upbit_sandbox.book import seed_open_orders

TIMEOUT = 10.0
Page = Callable[[int, list[dict[str, Any]]], list[dict[str, Any]]]
"""What the hostile listing answers for page ``n``, given the exchange's real first page."""


class HostileListing(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The sandbox, except that ``GET /v1/orders/open`` answers ``page(n, first_page)`` whatever is asked."""

    def __init__(self, exchange: SandboxExchange, page: Page) -> None:
        self.inner = exchange.transport()
        self.page = page
        self.first: list[dict[str, Any]] | None = None
        self.listings = 0
        self.serving = 0.0
        """Seconds spent making the hostile pages (50,000 orders take seconds on a loaded machine): the
        fake server's time, not the client's, so the tests take it off the time they hold the client to."""

    def listing(self, request: httpx.Request) -> httpx.Response | None:
        if request.method != "GET" or request.url.path != "/v1/orders/open":
            return None
        if self.first is None:
            self.first = json.loads(self.inner.handle_request(request).read())
        self.listings += 1
        began = time.monotonic()
        body = json.dumps(self.page(int(request.url.params.get("page", "1")), self.first)).encode()
        self.serving += time.monotonic() - began
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.listing(request) or self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.listing(request) or await self.inner.handle_async_request(request)


def the_same_page(number: int, first: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return first


def fresh(orders: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` orders shaped like the exchange's, each with a new uuid."""
    return [{**orders[index % len(orders)], "uuid": str(uuid.uuid4())} for index in range(count)]


def new_uuids_every_page(number: int, first: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return fresh(first, PAGE_SIZE)


def one_more_than_the_limit(number: int, first: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return fresh(first, PAGE_SIZE + 1)


def fifty_thousand(number: int, first: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return fresh(first, 50_000)


def book() -> tuple[SandboxExchange, list[str]]:
    """A full page of open orders (one market), so the real listing would ask for page 2."""
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    return exchange, [order.uuid for order in seed_open_orders(exchange, PAGE_SIZE, markets=("KRW-BTC",))]


def open_uuids(exchange: SandboxExchange) -> set[str]:
    return {order.uuid for order in exchange.orders() if order.state in ("wait", "watch")}


def sweep(mode: str, transport: HostileListing) -> BatchResult:
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    client = Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": transport})
    # A limiter of the sweep's own that waits through anyio (the process-wide one waits with asyncio.sleep).
    limiter = RateLimiter("default", 30, async_sleep=anyio.sleep)
    if mode == "sync":
        with client:
            return cancel_open_orders(client, timeout_total=TIMEOUT, limiter=limiter)

    async def run() -> BatchResult:
        async with client:
            return await cancel_open_orders_async(client, timeout_total=TIMEOUT, limiter=limiter)

    return anyio.run(run, backend=backend(mode))


@pytest.fixture(params=["sync", "async", "trio"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_full_page_that_brings_no_new_order_ends_the_paging_and_the_listed_orders_are_cancelled(
    mode: str,
) -> None:
    exchange, uuids = book()
    hostile = HostileListing(exchange, the_same_page)
    started = time.monotonic()
    result = sweep(mode, hostile)
    assert time.monotonic() - started < TIMEOUT + 1
    assert hostile.listings == 2 and result.listings_sent == 2
    assert_every_id_once(result, uuids)
    assert sorted(order.uuid or "" for order in result.success) == sorted(uuids)


@pytest.mark.parametrize(
    ("page", "error", "says"),
    [
        (one_more_than_the_limit, InvalidResponse, f"more than the limit of {PAGE_SIZE} sent"),
        (new_uuids_every_page, InvalidResponse, f"more than {MAX_PAGES} pages"),
        (fifty_thousand, InvalidResponse, f"50000 orders, more than the limit of {PAGE_SIZE} sent"),
    ],
    ids=["limit+1", "new-uuids-forever", "50000-on-one-page"],
)
def test_a_listing_that_breaks_the_rules_raises_its_documented_error_in_time_and_cancels_nothing(
    mode: str, page: Page, error: type[Exception], says: str
) -> None:
    exchange, uuids = book()
    hostile = HostileListing(exchange, page)
    started = time.monotonic()
    with pytest.raises(error, match=says):
        sweep(mode, hostile)
    assert time.monotonic() - started - hostile.serving < TIMEOUT + 1
    assert hostile.listings <= MAX_PAGES
    assert open_uuids(exchange) == set(uuids), "nothing was cancelled"


@pytest.mark.parametrize(
    ("page", "status", "says"),
    [
        (the_same_page, cli.EXIT_OK, None),
        (one_more_than_the_limit, cli.EXIT_NOTHING_DONE, "more than the limit"),
        (new_uuids_every_page, cli.EXIT_NOTHING_DONE, f"more than {MAX_PAGES} pages"),
        (fifty_thousand, cli.EXIT_NOTHING_DONE, "50000 orders, more than the limit"),
    ],
    ids=["same-page-forever", "limit+1", "new-uuids-forever", "50000-on-one-page"],
)
def test_upbit_cancel_open_ends_in_time_with_the_documented_exit_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], page: Page, status: int, says: str | None
) -> None:
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, TEST_SECRET_KEY)
    exchange, uuids = book()
    argv = ["--server-url", "https://api.upbit.com", "--open", "--json", "--timeout", str(TIMEOUT)]
    hostile = HostileListing(exchange, page)
    started = time.monotonic()
    assert cli.main(argv, transport=hostile) == status
    assert time.monotonic() - started - hostile.serving < TIMEOUT + 1
    out, err = capsys.readouterr()
    if says is None:
        report = json.loads(out)
        assert sorted(order["uuid"] for order in report["success"]["orders"]) == sorted(uuids)
    else:
        assert "listing open orders failed, nothing was cancelled" in err and says in err

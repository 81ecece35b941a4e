"""Listing a sweep pass's open orders: the rules as a flow without I/O, and its sync and async drivers.

The flow (``pages``) is a generator in the style of httpx's ``Auth.auth_flow``: it yields the action it
needs next, ``flows.Acquire`` (a permit of the limiter) or ``Send`` (this listing request, within these seconds),
and is sent what came of it (a permit, a ``KeyBlocked``, None; an ``answers.Answer`` or an exception). It
holds every rule; the two drivers (``list_sync``, ``list_async``) only carry actions out, each in its
own world (a blocking call; an anyio await, on asyncio or trio). Every listing request goes out inside
``reading.bounded(time_left)``: the deadline over the whole answer and the byte cap.

Paging rules (docs/outcomes.md, "Listing rules"). A query is paged (``page`` 1, 2, ...) while each page
comes back full and brings at least one order not listed before:

- a page with fewer than ``limit`` orders ends the query (the last page);
- a full page that brings no new order ends it too: the exchange repeated itself (it ignores ``page``),
  and asking further would only repeat it again. What was listed is cancelled;
- a page longer than the ``limit`` sent is a bad answer: ``InvalidResponse``, not asked again (the exchange
  ignores ``limit``, and would again);
- at most ``MAX_PAGES`` pages per listing, so at most ``MAX_ORDERS`` orders: a listing that would need
  more never ends as far as the sweep can tell: ``InvalidResponse``.

A 429 or a 5xx is asked again, a failure to send (``httpx.TransportError``) too, up to ``max_tries`` for a
page; a 418 blocks the pocket; any other answer is the exchange's error. A failed listing ends the pass
with ``ListingFailed`` carrying the error (the first pass raises it: nothing was cancelled).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from upbit_client import AuthenticatedClient, Client
from upbit_client.api.order import list_open_orders as _list_endpoint
from upbit_client.errors import InvalidResponse, UpbitClientError
from upbit_client.models import Order

from . import reading
from .answers import Answer, Outcome, feed, from_response, settled
from .drivers import acquired, acquired_async
from .errors import TemporarilyBlocked, TransportError
from .events import RequestRetried
from .flows import Acquire, Done, advance
from .ratelimit import KeyBlocked, Permit, RateLimiter

if TYPE_CHECKING:
    from .sweep import _Sweep

__all__ = ["MAX_ORDERS", "MAX_PAGES", "PAGE_SIZE", "ListingFailed", "list_async", "list_sync"]

AnyClient = Client | AuthenticatedClient

_NAME = _list_endpoint.OPERATION.module.rsplit(".", 1)[-1]
"""The listing's operation name (``upbit_client.registry.OPERATIONS``' key), in ``RequestRetried``."""
PAGE_SIZE = int(_list_endpoint.OPERATION.parameter("limit").value.maximum or 100)
"""The ``limit`` sent: the spec's maximum for the parameter (the registry row)."""
MAX_PAGES = 100
"""Pages one listing reads at most. The spec names no bound on ``page`` nor on an account's open orders, so
this is the SDK's: at the group's 30 requests a second, 100 pages take about 3.3 s of the default 30 s
``timeout_total``, leaving time for the 500 cancel requests their 10,000 orders need (about 17 s)."""
MAX_ORDERS = MAX_PAGES * PAGE_SIZE
"""Orders one listing takes at most: ``MAX_PAGES`` pages of at most ``PAGE_SIZE`` (a longer page is refused)."""


class ListingFailed(Exception):
    """The listing ended without a usable list; ``error`` is why (in the SDK's error tree)."""

    def __init__(self, error: UpbitClientError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True, slots=True)
class Send:
    """Send page ``page`` of ``query`` with ``permit``, the whole answer within ``seconds``: an ``Outcome``."""

    query: dict[str, Any]
    page: int
    permit: Permit
    seconds: float


Flow = Generator[Acquire | Send, Any, list[str]]
_Page = tuple[Answer, list[Order]]


@dataclass(slots=True)
class _Pages:
    """What one listing has read: pages, and every uuid seen (matching or not)."""

    count: int = 0
    seen: set[str] = field(default_factory=set)

    def take(self, answer: Answer, orders: list[Order]) -> bool:
        """Count a page in; True if the query goes on to the next page. Raises ``ListingFailed`` by the rules."""
        self.count += 1
        if len(orders) > PAGE_SIZE:
            problem = f"page {self.count} lists {len(orders)} orders, more than the limit of {PAGE_SIZE} sent"
            raise ListingFailed(InvalidResponse(200, answer.content[:200], problem))
        new = {order.uuid for order in orders if isinstance(order.uuid, str)} - self.seen
        self.seen |= new
        more = len(orders) == PAGE_SIZE and bool(new)
        if more and self.count >= MAX_PAGES:
            problem = f"the open orders fill more than {MAX_PAGES} pages ({MAX_ORDERS} orders), the cap of a listing"
            raise ListingFailed(InvalidResponse(200, b"", problem))
        return more


def pages(sweep: _Sweep) -> Flow:
    """The uuids of the matching open orders of every query, in listing order (see the module's rules)."""
    found: list[str] = []
    read = _Pages()
    for query in sweep.queries():
        number, more = 1, True
        while more:
            answer, orders = yield from _page(sweep, query, number)
            more = read.take(answer, orders)
            found += sweep.take_page(orders)
            sweep.progress(sum(sweep.done.values()), len(sweep.listed))
            number += 1
    return found


def _page(
    sweep: _Sweep, query: dict[str, Any], number: int
) -> Generator[Acquire | Send, Any, tuple[Answer, list[Order]]]:
    """One page, asked again after a 429, a 5xx or a failure to send while tries and time allow."""
    tries, outcome = 0, None  # outcome: the last try's, told as the reason of a retry
    while True:
        sweep.give_up(tries)
        permit = yield Acquire(sweep.limiter, sweep.time_left())
        if isinstance(permit, KeyBlocked):
            raise ListingFailed(TemporarilyBlocked(418, "blocked", str(permit)))
        if permit is None:
            continue  # give_up names the timeout
        tries += 1
        sweep.report.listings_sent += 1
        if outcome is not None:
            sweep.events.emit(RequestRetried(_NAME, tries, 0, _reason(outcome)))
        outcome = yield Send(query, number, permit, sweep.time_left())
        feed(sweep.limiter, permit, outcome)
        orders = _orders(sweep, outcome, tries)
        if orders is not None:
            assert isinstance(outcome, Answer)
            return outcome, orders


def _reason(outcome: Outcome) -> str:
    """What a try got, as ``RequestRetried.reason`` names it (the batch's error names)."""
    return "transport_error" if isinstance(outcome, Exception) else outcome.api_error().name


def _orders(sweep: _Sweep, outcome: Outcome, tries: int) -> list[Order] | None:
    """The orders of a 200; None to ask again (429, 5xx, a failure to send); raises for any other outcome."""
    if isinstance(outcome, Exception):
        if not isinstance(outcome, httpx.TransportError) or tries >= sweep.max_tries:
            detail = f"{type(outcome).__name__}: {outcome}"
            raise ListingFailed(TransportError(f"listing open orders failed: {detail}"))
        return None
    if outcome.remaining is not None:
        sweep.report.remaining_req = outcome.remaining
    if outcome.status == 200:
        if isinstance(outcome.parsed, list):
            return [order for order in outcome.parsed if isinstance(order, Order)]
        raise ListingFailed(InvalidResponse(200, outcome.content[:200], outcome.problem or "not a list of orders"))
    if outcome.status == 429:
        sweep.report.rate_limited += 1
        return None
    if outcome.status >= 500:
        return None
    raise ListingFailed(outcome.api_error())


# ---------------------------------------------------------------------------------------------
# The drivers: each carries the flow's actions out, nothing more.


def list_sync(sweep: _Sweep, client: AnyClient) -> list[str]:
    """Run ``pages`` with blocking calls."""
    flow, result = pages(sweep), None
    while not isinstance(step := advance(flow, result), Done):
        result = _act_sync(sweep.limiter, client, step)
    return step.value


async def list_async(sweep: _Sweep, client: AnyClient) -> list[str]:
    """Run ``pages`` with anyio (asyncio or trio)."""
    flow, result = pages(sweep), None
    while not isinstance(step := advance(flow, result), Done):
        result = await _act_async(sweep.limiter, client, step)
    return step.value


def _act_sync(limiter: RateLimiter, client: AnyClient, step: Acquire | Send) -> object:
    if isinstance(step, Acquire):
        return acquired(step)
    try:
        return _send_sync(client, step)
    except BaseException:
        feed(limiter, step.permit, None)  # Ctrl-C with the request on its way: the permit is closed, unheard
        raise


async def _act_async(limiter: RateLimiter, client: AnyClient, step: Acquire | Send) -> object:
    if isinstance(step, Acquire):
        return await acquired_async(step)
    try:
        return await _send_async(client, step)
    except BaseException:
        feed(limiter, step.permit, None)  # cancelled with the request on its way: as in ``_act_sync``
        raise


def _send_sync(client: AnyClient, step: Send) -> Outcome:
    try:
        reading.install(client.get_httpx_client())
        with reading.bounded(step.seconds):
            return from_response(_list_endpoint.sync_detailed(client=client, page=step.page, **step.query))
    except Exception as exc:
        return settled(exc)


async def _send_async(client: AnyClient, step: Send) -> Outcome:
    import anyio  # the async sweep's own: the sync sweep's import path loads neither anyio nor asyncio

    try:
        reading.install(client.get_async_httpx_client())
        with reading.bounded(step.seconds), anyio.fail_after(max(step.seconds, 0.001)):
            return from_response(await _list_endpoint.asyncio_detailed(client=client, page=step.page, **step.query))
    except TimeoutError:
        return httpx.ReadTimeout(f"no answer within the {step.seconds:.3g}s left of timeout_total")
    except Exception as exc:
        return settled(exc)

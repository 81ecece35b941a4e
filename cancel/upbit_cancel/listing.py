"""Listing a sweep pass's open orders: the rules as a flow without I/O (``pages``), run by ``drivers``.

The flow yields ``flows.Acquire`` and ``flows.Send`` like the batch's; every listing request goes out inside
``reading.bounded(time_left)``: the deadline over the whole answer and the byte cap. The paging rules and caps
(a short page ends a query, a full page of nothing new too, a page longer than ``limit`` or more than
``MAX_PAGES`` pages is ``InvalidResponse``) and what each answer leads to are in docs/outcomes.md, "Listing
rules": a 429, a 5xx or a failure to send is asked again up to ``max_tries`` for a page, a 418 blocks the
pocket, and a failed listing ends the pass with ``ListingFailed`` (the first pass raises its error).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from upbit_client.api.order import list_open_orders as _list_endpoint
from upbit_client.errors import InvalidResponse, UpbitClientError
from upbit_client.models import Order

from .answers import Answer, Outcome, feed
from .errors import TemporarilyBlocked, TransportError
from .events import RequestRetried
from .flows import Acquire, Send
from .ratelimit import KeyBlocked

if TYPE_CHECKING:
    from .sweep import _Sweep

__all__ = ["MAX_ORDERS", "MAX_PAGES", "PAGE_SIZE", "ListingFailed", "pages"]

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


Flow = Generator[Acquire | Send, Any, list[str]]


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
        outcome = yield Send(sweep.limiter, permit, _list_endpoint, {**query, "page": number}, sweep.time_left())
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

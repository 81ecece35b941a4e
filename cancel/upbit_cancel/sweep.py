"""Cancel every open order that matches a filter: list them, then cancel them by uuid, every fate known.

Why not Upbit's own filter cancel (``DELETE /v1/orders/open``): one request per two seconds, at most 300
orders, never ``watch`` orders, and no word on the orders it left. So the sweep lists the matches (``pages``,
in the ``default`` group, through the batch's limiter), every page before anything is cancelled (Upbit pages
by offset), and hands their uuids to the batch, pass after pass (``passes``, ``_Sweep.to_send``). Every
filter value is checked against the spec's rules when ``SweepOptions`` is made. The promises and their
tests: docs/guarantees.md, "Cancelling open orders by filter".
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias, TypeVar, Unpack

import httpx

from upbit_client.api.order import cancel_open_orders as _cancel_all_endpoint
from upbit_client.api.order import cancel_orders_by_ids as _cancel_endpoint
from upbit_client.api.order import list_open_orders as _list_endpoint
from upbit_client.errors import InvalidRequest, InvalidResponse, UpbitClientError
from upbit_client.models import OpenOrderState, Order
from upbit_client.models import OrderSide as _SpecOrderSide
from upbit_client.rules import check_query

from .answers import Answer, Outcome, feed
from .batch import (
    BatchKeywords,
    BatchOptions,
    ProgressCallback,
    ReportSink,
    cancel_orders,
    cancel_orders_async,
    chosen,
    flag,
    go_on,
    hand_over,
    limiter_of,
    whole_number,
)
from .drivers import Acquire, AnyClient, Done, Send, advance, drive_async, drive_sync
from .errors import BatchInterrupted, TemporarilyBlocked, TransportError
from .events import NO_EVENTS, Emitter, RequestRetried
from .ratelimit import KeyBlocked, RateLimiter
from .results import BatchResult, NotSentOrder, OrderRef, UnconfirmedOrder, add_counts, group_sizes, order_side
from .results import text as _text
from .workers import call_progress

__all__ = [
    "DEFAULT_MAX_PASSES",
    "OpenState",
    "OrderSide",
    "SweepKeywords",
    "SweepOptions",
    "cancel_open_orders",
    "cancel_open_orders_async",
]

log: logging.Logger = logging.getLogger("upbit_cancel.sweep")

OrderSide: TypeAlias = _SpecOrderSide
"""``bid`` or ``ask``: the spec's ``OrderSide`` (generated), so a side the spec gains reaches it."""
OpenState: TypeAlias = OpenOrderState
"""An open order state a sweep lists (``wait``, ``watch``): the spec's ``OpenOrderState`` (generated), so a
state the spec gains reaches ``cancel_open_orders(states=...)`` after ``make generate``."""

DEFAULT_MAX_PASSES = 5
"""How many list-and-cancel passes ``until_empty`` makes at most."""
DRY_RUN = "dry run: listed, not cancelled"

_OPERATION = _list_endpoint.OPERATION
_MARKET_RULE = _OPERATION.parameter("market")
_STATES_RULE = _OPERATION.parameter("states")
_UUID_ITEM = _cancel_endpoint.OPERATION.parameter("uuids").item
"""The spec's rule for one uuid of a cancel: a listed uuid that breaks it cannot be sent (``take_page``)."""
_IDENTIFIER_ITEM = _cancel_endpoint.OPERATION.parameter("identifiers").item
_QUOTE_RULE = _cancel_all_endpoint.OPERATION.parameter("quote_currencies")
_SIDES: tuple[str, ...] = tuple(
    str(side) for side in _cancel_all_endpoint.OPERATION.parameter("cancel_side").value.enum or () if side != "all"
)


# ---------------------------------------------------------------------------------------------
# The filter, checked before anything is sent


def _matches(which: SweepOptions, order: Order) -> bool:
    market, side, state = _text(order.market), _text(order.side), _text(order.state)
    if _text(order.uuid) is None or market is None or state not in which.states:
        return False
    prefix = which.identifier_prefix
    if prefix is not None and not (_text(order.identifier) or "").startswith(prefix):
        return False  # an order without an identifier is no bot's: left alone
    if (which.markets is not None and market not in which.markets) or market in which.excluded_markets:
        return False
    if which.quote_currencies is not None and market.partition("-")[0] not in which.quote_currencies:
        return False
    if which.side is not None and side != which.side:
        return False
    if which.created_before is not None:
        created = _created_at(order)
        # An order whose age is unknown is not known to be older: left alone.
        return created is not None and created < which.created_before
    return True


def _created_at(order: Order) -> datetime.datetime | None:
    text = _text(order.created_at)
    try:
        created = datetime.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return created if created is not None and created.tzinfo is not None else None


def _refuse(parameter: str, rule: str, given: object, problem: str) -> InvalidRequest:
    return InvalidRequest(parameter, rule, repr(given), problem)


def _check_values(
    markets: Sequence[str] | None,
    excluded_markets: Iterable[str],
    quote_currencies: Sequence[str] | None,
    prefix: str | None,
) -> None:
    """Every market pair and quote currency as the spec's rules want it, each list a list; the identifier
    prefix as the rule for an identifier wants it (not blank, no control characters)."""
    for what, values in (("markets", markets or ()), ("excluded_markets", excluded_markets)):
        if isinstance(values, str):
            raise _refuse(what, "a list of market pairs", values, "must be a list of market pairs, not one string")
        for value in values:
            found = _MARKET_RULE.value.problem(value)
            if found is not None:
                raise _refuse(what, found[1], value, f"every item {found[0]}")
    if isinstance(quote_currencies, str):
        raise _refuse("quote_currencies", "a list of currencies", quote_currencies, "must be a list, not one string")
    for value in quote_currencies or ():
        found = _QUOTE_RULE.value.problem(value)
        if found is not None or "," in value:
            raise _refuse("quote_currencies", found[1] if found else "one code per item", value, "must be one code")
    if prefix is not None and not isinstance(prefix, str):
        raise _refuse("identifier_prefix", "a string", prefix, "must be a string or None")
    found = _IDENTIFIER_ITEM.problem(prefix) if prefix is not None and _IDENTIFIER_ITEM is not None else None
    if found is not None:
        raise _refuse("identifier_prefix", found[1], prefix, found[0])


def _listed_markets(markets: Iterable[str], excluded: Iterable[str], quotes: Iterable[str] | None) -> tuple[str, ...]:
    """Of ``markets``, those worth listing: not excluded, and of one of the ``quotes`` if given."""
    out = frozenset(excluded)
    within = None if quotes is None else frozenset(quotes)
    left = (market for market in markets if market not in out)
    return tuple(dict.fromkeys(m for m in left if within is None or m.partition("-")[0] in within))


class SweepKeywords(BatchKeywords, total=False):
    """``SweepOptions``'s and ``BatchOptions``'s fields as keyword arguments of the sweep (sugar)."""

    markets: Sequence[str] | None
    excluded_markets: Iterable[str]
    quote_currencies: Sequence[str] | None
    side: OrderSide | None
    states: Sequence[OpenState]
    created_before: datetime.datetime | None
    dry_run: bool
    until_empty: bool
    max_passes: int
    identifier_prefix: str | None


@dataclass(frozen=True, slots=True)
class SweepOptions:
    """Which open orders a sweep cancels and how it passes, as one frozen value: checked when made
    (``InvalidRequest`` for a filter the spec forbids or that cannot match, ``ConfigurationError`` else).

    The filter: ``markets`` (None: every market), ``excluded_markets``, ``quote_currencies``, ``side``
    (None: both), ``states``, ``created_before`` (an aware datetime). ``dry_run`` lists and cancels nothing;
    ``until_empty`` lists again after each pass, at most ``max_passes`` passes. ``identifier_prefix``: only
    orders whose client-assigned identifier starts with it (several bots sharing a pocket, each its own
    prefix); an order without an identifier never matches it."""

    markets: Sequence[str] | None = None
    excluded_markets: Iterable[str] = ()
    quote_currencies: Sequence[str] | None = None
    side: OrderSide | None = None
    states: Sequence[OpenState] = ("wait", "watch")
    created_before: datetime.datetime | None = None
    dry_run: bool = False
    until_empty: bool = False
    max_passes: int = DEFAULT_MAX_PASSES
    identifier_prefix: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.excluded_markets, str):  # read once (it may be an iterator); a string is refused
            object.__setattr__(self, "excluded_markets", tuple(self.excluded_markets))
        self._check_filter()
        for name in ("markets", "quote_currencies"):
            value = getattr(self, name)
            object.__setattr__(self, name, None if value is None else tuple(value))
        object.__setattr__(self, "states", tuple(self.states))
        whole_number("max_passes", self.max_passes, 1)
        flag("dry_run", self.dry_run)
        flag("until_empty", self.until_empty)

    def _check_filter(self) -> None:
        """``InvalidRequest`` for a filter value the spec forbids or a filter that cannot match anything."""
        markets, quotes, side, created_before = self.markets, self.quote_currencies, self.side, self.created_before
        _check_values(markets, self.excluded_markets, quotes, self.identifier_prefix)
        if side is not None and side not in _SIDES:
            raise _refuse("side", f"enum {list(_SIDES)}", side, f"must be one of {list(_SIDES)} or None (both)")
        check_query((_STATES_RULE,), (), {_STATES_RULE.python_name: list(self.states)})
        if created_before is not None and (
            not isinstance(created_before, datetime.datetime) or created_before.tzinfo is None
        ):
            raise _refuse("created_before", "an aware datetime", created_before, "must be a datetime with a time zone")
        if markets is not None and not markets:
            raise _refuse("markets", "at least one market", list(markets), "names no market (None means every market)")
        if markets is not None and not _listed_markets(markets, self.excluded_markets, quotes):
            filters = "excluded_markets and quote_currencies"
            raise _refuse("markets", filters, list(markets), "every market is filtered out")
        if quotes is not None and not quotes:
            raise _refuse("quote_currencies", "at least one currency", [], "names no currency (None means every one)")


@dataclass(slots=True)
class _Sweep:
    """What every pass shares: the filter, the limiter, the budget and the report so far."""

    which: SweepOptions
    options: BatchOptions
    """The batch's options, its ``limiter`` chosen (the listing's, shared with the batch)."""
    limiter: RateLimiter
    on_progress: ProgressCallback | None
    started: float = field(default_factory=time.monotonic)
    listed: dict[str, Order] = field(default_factory=dict)
    """Every order listed so far that matched, by uuid."""
    tried: set[str] = field(default_factory=set)
    unusable: set[str] = field(default_factory=set)
    """Listed uuids the spec forbids in a cancel, each reported failed once (``take_page``)."""
    report: BatchResult = field(default_factory=lambda: BatchResult(id_kind="uuids"))
    done: dict[int, int] = field(default_factory=dict)
    """Orders settled so far by each batch of the sweep (async batches run side by side)."""
    events: Emitter = NO_EVENTS
    """Told the listing's ``RequestRetried`` (``events``): the ``connect()`` client's ``on_event``."""

    def time_left(self) -> float:
        return self.options.timeout_total - (time.monotonic() - self.started)

    # --- the passes: what the sync and async sweeps share -----------------------------------------

    def to_send(self, number: int, listed: list[str]) -> list[str] | None:
        """The uuids pass ``number`` hands to the batch, of those it ``listed``; None when the sweep ends here.

        An order an earlier pass cancelled or saw fail is not sent again (its fate is that pass's report).
        One whose cancel went unconfirmed (no answer, no lookup) and that this listing still shows open is
        sent again, and leaves ``unconfirmed``: the listing proves the cancel did not take. A dry run, or the
        listing after the last pass, reports the orders it found that were never sent as not sent.
        """
        unconfirmed = {order.id for order in self.report.unconfirmed}
        dry_run, max_passes = self.which.dry_run, self.which.max_passes
        if dry_run or number > max_passes:
            # An unconfirmed order listed again stays unconfirmed: it was sent, and is not sent again.
            left = [uuid for uuid in dict.fromkeys(listed) if uuid not in self.tried]
            if left:
                _not_sent(self, left, DRY_RUN if dry_run else f"still open after {max_passes} passes")
            return None
        uuids = [uuid for uuid in dict.fromkeys(listed) if uuid not in self.tried or uuid in unconfirmed]
        if not uuids:
            return None
        again = unconfirmed.intersection(uuids)
        self.report.unconfirmed = [order for order in self.report.unconfirmed if order.id not in again]
        self.tried.update(uuids)
        return uuids

    def cancel(self, uuids: list[str], number: int) -> _Cancel:
        """Pass ``number``'s batch: the sweep's options within the time left, paced by its limiter; the sweep's
        progress is the sum over its batches."""

        def progress(done: int, total: int) -> None:
            self.done[number] = done
            self.progress()

        options = replace(self.options, timeout_total=max(self.time_left(), 0.001), limiter=self.limiter)
        return _Cancel(uuids, options, progress)

    def passed(self, result: BatchResult) -> bool:
        """Merge a pass's report; True when another pass is to list again (``until_empty``, time and key allowing)."""
        _merge(self.report, result, self.listed)
        return self.which.until_empty and result.blocked is None and self.time_left() > 0

    def stopped(self, partial: BatchResult | None) -> BatchResult:
        """The sweep's report when it was interrupted: in a batch, ``partial`` is the batch's report; while
        listing (None), the orders listed but not yet handed to a batch are not sent."""
        if partial is not None:
            _merge(self.report, partial, self.listed)
        else:
            _not_sent(self, [uuid for uuid in self.listed if uuid not in self.tried], "interrupted before it was sent")
            self.report.interrupted = True
        return _finish(self)

    def queries(self) -> list[dict[str, Any]]:
        which = self.which
        base: dict[str, Any] = {"states": list(dict.fromkeys(which.states)), "limit": PAGE_SIZE, "order_by": "asc"}
        if which.markets is None:
            return [base]
        markets = _listed_markets(which.markets, which.excluded_markets, which.quote_currencies)
        return [{**base, "market": market} for market in markets]

    def take_page(self, page: list[Order]) -> list[str]:
        """Keep the matching orders of a page; their uuids in order (an order listed before included)."""
        matching = []
        for order in page:
            uuid = _text(order.uuid)
            if uuid is None or not _matches(self.which, order):
                continue
            if _UUID_ITEM is not None and _UUID_ITEM.problem(uuid) is not None:
                self.unusable_entry(uuid, order)
                continue
            self.listed.setdefault(uuid, order)
            matching.append(uuid)
        return matching

    def unusable_entry(self, uuid: str, order: Order) -> None:
        """A matching order whose uuid the spec forbids in a cancel (blank, control characters): failed,
        reason ``invalid_listing_entry``, reported once and never sent (the batch would refuse it). The
        exchange's fault, not the caller's: raising ``InvalidRequest`` would leave every other order open."""
        if uuid not in self.unusable:
            self.unusable.add(uuid)
            entry = OrderRef(uuid, _text(order.market), reason="invalid_listing_entry", side=order_side(order.side))
            self.report.failed.append(entry)

    def progress(self) -> None:
        """Orders settled so far by the sweep's batches, of those listed so far."""
        call_progress(self.on_progress, sum(self.done.values()), len(self.listed), log)

    def give_up(self, tries: int) -> None:
        """Raise ``TransportError`` if no more listing request may be sent."""
        if tries >= self.options.max_tries:
            raise TransportError(f"listing open orders: no usable answer after {tries} tries")
        if self.time_left() <= 0:
            raise TransportError(f"listing open orders: timeout_total of {self.options.timeout_total:g}s reached")


# ---------------------------------------------------------------------------------------------
# The report


_Order = TypeVar("_Order", OrderRef, UnconfirmedOrder, NotSentOrder)


def _with_listing(order: _Order, listed: dict[str, Order]) -> _Order:
    """``order`` with its market and side as listed (the cancel answer may omit the market)."""
    found = listed.get((order.uuid if isinstance(order, OrderRef) else order.id) or "")
    market, side = (_text(found.market), order_side(found.side)) if found is not None else (None, None)
    return replace(order, market=order.market or market, side=side)


def _merge(into: BatchResult, result: BatchResult, listed: dict[str, Order]) -> None:
    into.success += (_with_listing(order, listed) for order in result.success)
    into.failed += (_with_listing(order, listed) for order in result.failed)
    into.unconfirmed += (_with_listing(order, listed) for order in result.unconfirmed)
    into.not_sent += (_with_listing(order, listed) for order in result.not_sent)
    add_counts(into, result)
    into.remaining_req = result.remaining_req or into.remaining_req
    into.blocked = into.blocked or result.blocked
    into.interrupted = into.interrupted or result.interrupted


def _not_sent(sweep: _Sweep, uuids: list[str], why: str) -> None:
    result = BatchResult(id_kind="uuids", not_sent=[NotSentOrder(uuid, "uuids", why) for uuid in uuids])
    _merge(sweep.report, result, sweep.listed)


def _finish(sweep: _Sweep) -> BatchResult:
    sweep.report.elapsed = time.monotonic() - sweep.started
    log.debug(
        "sweep done: listed=%d success=%d failed=%d unconfirmed=%d not_sent=%d listings=%d requests=%d 429s=%d",
        len(sweep.listed),
        *group_sizes(sweep.report),
        sweep.report.listings_sent,
        sweep.report.requests_sent,
        sweep.report.rate_limited,
    )
    return sweep.report


# ---------------------------------------------------------------------------------------------
# Listing a pass's open orders: the rules as a flow without I/O (``pages``), run by ``drivers`` like the
# batch's, every request inside ``reading.bounded(time_left)`` (the deadline over the whole answer and the
# byte cap). The paging rules and caps, and what each answer leads to (asked again, the pocket blocked, the
# listing failed): docs/outcomes.md, "Listing rules".


_NAME = _list_endpoint.OPERATION.module.rsplit(".", 1)[-1]
"""The listing's operation name (``upbit_client.registry.OPERATIONS``' key), in ``RequestRetried``."""
PAGE_SIZE = int(_list_endpoint.OPERATION.parameter("limit").value.maximum or 100)
"""The ``limit`` sent: the spec's maximum for the parameter (the registry row)."""
MAX_PAGES = 100
"""Pages one listing reads at most: the SDK's own cap, as the spec bounds neither ``page`` nor an account's
open orders (why 100: docs/outcomes.md, "Listing rules")."""
MAX_ORDERS = MAX_PAGES * PAGE_SIZE
"""Orders one listing takes at most: ``MAX_PAGES`` pages of at most ``PAGE_SIZE`` (a longer page is refused)."""

_Listing = Generator[Acquire | Send, Any, list[str] | UpbitClientError]


def pages(sweep: _Sweep) -> _Listing:
    """The uuids of the matching open orders of every query, in listing order; or, the listing failed, why
    (the error the SDK's tree has for it)."""
    found: list[str] = []
    seen: set[str] = set()  # every uuid this listing read, matching or not
    read = 0
    try:
        for query in sweep.queries():
            number, more = 1, True
            while more:
                answer, orders = yield from _page(sweep, query, number)
                read += 1
                more = _more(answer, orders, read, seen)
                found += sweep.take_page(orders)
                sweep.progress()
                number += 1
    except UpbitClientError as failure:
        return failure
    return found


def _more(answer: Answer, orders: list[Order], read: int, seen: set[str]) -> bool:
    """True if the query goes on after the listing's page ``read``: it is full and brought a uuid not ``seen``
    (which it adds). ``InvalidResponse`` for a page longer than ``limit`` or a page past ``MAX_PAGES``."""
    if len(orders) > PAGE_SIZE:
        problem = f"page {read} lists {len(orders)} orders, more than the limit of {PAGE_SIZE} sent"
        raise InvalidResponse(200, answer.content[:200], problem)
    new = {order.uuid for order in orders if isinstance(order.uuid, str)} - seen
    seen.update(new)
    more = len(orders) == PAGE_SIZE and bool(new)
    if more and read >= MAX_PAGES:
        problem = f"the open orders fill more than {MAX_PAGES} pages ({MAX_ORDERS} orders), the cap of a listing"
        raise InvalidResponse(200, b"", problem)
    return more


def _page(
    sweep: _Sweep, query: dict[str, Any], number: int
) -> Generator[Acquire | Send, Any, tuple[Answer, list[Order]]]:
    """One page, asked again after a 429, a 5xx or a failure to send while tries and time allow."""
    tries, outcome = 0, None  # outcome: the last try's, told as the reason of a retry
    while True:
        sweep.give_up(tries)
        permit = yield Acquire(sweep.limiter, sweep.time_left())
        if isinstance(permit, KeyBlocked):
            raise TemporarilyBlocked(418, "blocked", str(permit))
        if permit is None:
            continue  # give_up names the timeout
        tries += 1
        sweep.report.listings_sent += 1
        if outcome is not None:  # the reason as the batch's error names have it
            reason = "transport_error" if isinstance(outcome, Exception) else outcome.api_error().name
            sweep.events.emit(RequestRetried(_NAME, tries, 0, reason))
        outcome = yield Send(sweep.limiter, permit, _list_endpoint, {**query, "page": number}, sweep.time_left())
        feed(sweep.limiter, permit, outcome)
        orders = _orders(sweep, outcome, tries)
        if orders is not None:
            assert isinstance(outcome, Answer)
            return outcome, orders


def _orders(sweep: _Sweep, outcome: Outcome, tries: int) -> list[Order] | None:
    """The orders of a 200; None to ask again (429, 5xx, a failure to send); raises for any other outcome."""
    if isinstance(outcome, Exception):
        if not isinstance(outcome, httpx.TransportError) or tries >= sweep.options.max_tries:
            raise TransportError(f"listing open orders failed: {type(outcome).__name__}: {outcome}")
        return None
    if outcome.remaining is not None:
        sweep.report.remaining_req = outcome.remaining
    if outcome.status == 200:
        if isinstance(outcome.parsed, list):
            return [order for order in outcome.parsed if isinstance(order, Order)]
        raise InvalidResponse(200, outcome.content[:200], outcome.problem or "not a list of orders")
    if outcome.status == 429:
        sweep.report.rate_limited += 1
        return None
    if outcome.status >= 500:
        return None
    raise outcome.api_error()


# ---------------------------------------------------------------------------------------------
# The sweep: its passes as a flow without I/O, and the two drivers' steps


@dataclass(frozen=True, slots=True)
class _Cancel:
    """Cancel ``uuids`` with the batch (its ``options`` and ``on_progress``): sent the ``BatchResult``."""

    uuids: list[str]
    options: BatchOptions
    on_progress: ProgressCallback


def passes(sweep: _Sweep) -> Generator[_Listing | _Cancel, Any, BatchResult]:
    """List (``pages``), then cancel what was listed, pass after pass (``_Sweep.to_send``, ``_Sweep.passed``);
    the report. Every page is listed first: a cancel would shift the pages still to be read, and skip the
    orders it moved up. A listing that fails before anything was cancelled raises its error; a later one
    ends the sweep with the report so far."""
    for number in range(1, sweep.which.max_passes + 2):  # max_passes passes that cancel, then a listing that reports
        listed = yield pages(sweep)
        if isinstance(listed, UpbitClientError):
            if number == 1:
                raise listed from None
            log.warning("listing open orders again failed, the sweep stops: %s", listed)
            break
        uuids = sweep.to_send(number, listed)
        if uuids is None:
            break
        if not sweep.passed((yield sweep.cancel(uuids, number))):
            break
    return _finish(sweep)


def _pass_sync(sweep: _Sweep, client: AnyClient, step: _Listing | _Cancel) -> object:
    """One step of ``passes``, blocking; Ctrl-C raises ``BatchInterrupted`` with the sweep's report so far."""
    try:
        if isinstance(step, _Cancel):
            return cancel_orders(client, uuids=step.uuids, options=step.options, on_progress=step.on_progress)
        return drive_sync(client, step, contextlib.nullcontext())
    except BatchInterrupted as interrupted:
        raise BatchInterrupted(sweep.stopped(interrupted.report)) from interrupted
    except KeyboardInterrupt as exc:
        raise BatchInterrupted(sweep.stopped(None)) from exc


async def _pass_async(
    sweep: _Sweep, client: AnyClient, step: _Listing | _Cancel, report_to: ReportSink | None
) -> object:
    """One step of ``passes`` with anyio; cancelled, the sweep's report so far goes out as ``go_on`` says."""
    import anyio  # here: the sync sweep loads neither anyio nor asyncio

    partial: list[BatchResult] = []
    try:
        if isinstance(step, _Cancel):
            return await cancel_orders_async(
                client, uuids=step.uuids, options=step.options, on_progress=step.on_progress, report_to=partial.append
            )
        return await drive_async(client, step, set())
    except anyio.get_cancelled_exc_class() as exc:
        go_on(exc, hand_over(report_to, sweep.stopped(partial[0] if partial else None)))


def chosen_options(
    sweep: SweepOptions | None, options: BatchOptions | None, keywords: Mapping[str, Any]
) -> tuple[SweepOptions, BatchOptions]:
    """A sweep call's ``SweepOptions`` and ``BatchOptions``: each given whole, or made of its own fields of
    ``keywords`` (``batch.chosen``)."""
    batch_fields = {name: value for name, value in keywords.items() if name in BatchOptions.__dataclass_fields__}
    sweep_fields = {name: value for name, value in keywords.items() if name not in batch_fields}
    return chosen(SweepOptions, sweep, sweep_fields, "sweep"), chosen(BatchOptions, options, batch_fields, "options")


def _start(
    http: httpx.Client | httpx.AsyncClient,
    which: SweepOptions | None,
    options: BatchOptions | None,
    keywords: Mapping[str, Any],
    on_progress: ProgressCallback | None,
) -> _Sweep:
    """The sweep of a call, its options checked and its limiter chosen (the listing's group, as the batch
    picks: the batch's cancels share it): nothing is sent yet."""
    which, batch = chosen_options(which, options, keywords)
    limiter = batch.limiter or limiter_of(http, _OPERATION.rate_limit, batch.store())
    from .transport import events_of  # with httpcore: loaded by the first client, not at import

    return _Sweep(which, batch, limiter, on_progress, events=events_of(http))


def cancel_open_orders(
    client: AnyClient,
    *,
    sweep: SweepOptions | None = None,
    options: BatchOptions | None = None,
    on_progress: ProgressCallback | None = None,
    **keywords: Unpack[SweepKeywords],
) -> BatchResult:
    """Cancel every open order that matches; the report lists each once, with its market and side.

    ``sweep`` (``SweepOptions``) says which orders and how many passes; ``options`` (``BatchOptions``) how
    the batch runs (its ``timeout_total`` is the whole sweep's); either's fields may be given as keywords
    instead. Raises ``InvalidRequest`` or ``ConfigurationError`` before sending for a bad value, and the
    listing's error (``UpbitAPIError``, ``TransportError``) if the first listing fails: nothing was cancelled
    then. ``on_progress(done, total)`` is called while listing (done 0) and as chunks settle. Ctrl-C raises
    ``BatchInterrupted`` with the report so far.
    """
    state = _start(client.get_httpx_client(), sweep, options, keywords, on_progress)
    flow, result = passes(state), None
    while not isinstance(step := advance(flow, result), Done):
        result = _pass_sync(state, client, step)
    return step.value


async def cancel_open_orders_async(
    client: AnyClient,
    *,
    sweep: SweepOptions | None = None,
    options: BatchOptions | None = None,
    on_progress: ProgressCallback | None = None,
    report_to: ReportSink | None = None,
    **keywords: Unpack[SweepKeywords],
) -> BatchResult:
    """``cancel_open_orders`` with the cancels sent by ``cancel_orders_async``, on asyncio or trio.

    Cancelling it hands the report so far as ``cancel_orders_async`` does: to ``report_to`` (if given;
    called once with the final report otherwise), then, under asyncio, as ``BatchCancelled``'s ``.report``;
    under trio, trio's own ``Cancelled`` goes on and ``report_to`` is the way to the report."""
    state = _start(client.get_async_httpx_client(), sweep, options, keywords, on_progress)
    flow, result = passes(state), None
    while not isinstance(step := advance(flow, result), Done):
        result = await _pass_async(state, client, step, report_to)
    return hand_over(report_to, step.value)

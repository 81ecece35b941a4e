"""The open orders of the sandbox book: List Open Orders and Upbit's Batch Cancel (``/v1/orders/open``).

``GET /v1/orders/open`` lists a page of the open orders (``market``; ``state`` or ``states[]``, default
``wait``; ``page``, ``limit``, ``order_by`` by creation time). ``DELETE /v1/orders/open`` cancels up to
``count`` ``wait`` orders, never ``watch`` ones, filtered by ``cancel_side``, ``pairs`` or
``quote_currencies`` and ``excluded_pairs`` (which wins), newest first unless ``order_by=asc``. Its
rate-limit group keeps the spec's own budget and window (``order-cancel-all``: 1 request per 2 s); see
``group_limits``.

The parameters were already checked against the spec's rules by the exchange (400 ``validation_error``);
a parameter not sent takes the ``default`` the spec documents for it (``ValueRule.default``). The
exchange calls in here with its lock held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from upbit_client.models import CancelOrdersGroup, CancelOrdersOrder, CancelOrdersResult
from upbit_client.registry import OPERATIONS
from upbit_client.rules import Operation

if TYPE_CHECKING:
    from .exchange import Order, SandboxExchange

__all__ = ["CANCEL_OPEN", "LIST_OPEN", "answer", "group_limits", "seed_open_orders", "serves"]

LIST_OPEN = OPERATIONS["list_open_orders"]
CANCEL_OPEN = OPERATIONS["cancel_open_orders"]
_SERVED = {(LIST_OPEN.method, LIST_OPEN.path): "list", (CANCEL_OPEN.method, CANCEL_OPEN.path): "cancel"}


def serves(operation: Operation) -> bool:
    """True for the two operations this module answers."""
    return (operation.method, operation.path) in _SERVED


def group_limits(operations: Mapping[str, Operation], default_group: str) -> dict[str, tuple[int, int]]:
    """(budget, window length in seconds) of every rate-limit group of the spec but ``default_group``
    (whose budget the exchange's ``rate_limit_per_second`` sets)."""
    return {
        operation.rate_limit.group: (operation.rate_limit.per_second, operation.rate_limit.window_seconds)
        for operation in operations.values()
        if operation.rate_limit is not None and operation.rate_limit.group != default_group
    }


def _values(raw_query: str) -> dict[str, list[str]]:
    """The form-decoded values of each key of the query, in wire order."""
    values: dict[str, list[str]] = {}
    for pair in raw_query.split("&"):
        if pair:
            raw_key, _, raw_value = pair.partition("=")
            values.setdefault(unquote_plus(raw_key), []).append(unquote_plus(raw_value))
    return values


def _one(operation: Operation, values: Mapping[str, list[str]], name: str) -> str:
    """The value given for ``name``, or the default the spec documents for it (what Upbit assumes)."""
    if name in values:
        return values[name][0]
    rule = operation.parameter(name)  # the parameters read here have the same name in Python and on the wire
    if rule.value.default is None:
        raise LookupError(f"{operation.operation_id}: the spec documents no default for {name!r}")
    return rule.value.to_wire(rule.value.default)


def _sorted(orders: Sequence[Order], order_by: str) -> list[Order]:
    """By creation time (ties: the order they were added in), newest first for ``desc``."""
    ranked = sorted(enumerate(orders), key=lambda pair: (pair[1].created_at, pair[0]), reverse=order_by == "desc")
    return [order for _, order in ranked]


def _list(
    orders: Mapping[str, Order], values: Mapping[str, list[str]], sees: Callable[[Order], bool]
) -> list[dict[str, Any]]:
    states = set(values.get("states[]") or values.get("state") or ["wait"])
    market = values.get("market", [None])[0]
    page = int(_one(LIST_OPEN, values, "page"))
    limit = int(_one(LIST_OPEN, values, "limit"))
    found = [o for o in orders.values() if o.state in states and market in (None, o.market) and sees(o)]
    start = (page - 1) * limit
    return [order.to_lookup() for order in _sorted(found, _one(LIST_OPEN, values, "order_by"))[start : start + limit]]


def _pairs(values: Mapping[str, list[str]], name: str) -> set[str] | None:
    return set(values[name][0].split(",")) if name in values else None


def cancel_answer(success: list[dict[str, Any]], failed: list[dict[str, Any]]) -> dict[str, Any]:
    """The 200 body of a cancel (by ids, or Upbit's batch cancel), in the shape of the spec's ``CancelOrdersResult``.

    Built through the generated models, never as a hand-written dict: a field renamed in ``openapi.yaml``
    renames what the sandbox sends, and hand-written code still using the old name fails the type check.
    """
    return CancelOrdersResult(
        success=CancelOrdersGroup(count=len(success), orders=[CancelOrdersOrder.from_dict(o) for o in success]),
        failed=CancelOrdersGroup(count=len(failed), orders=[CancelOrdersOrder.from_dict(o) for o in failed]),
    ).to_dict()


def _cancel(
    orders: MutableMapping[str, Order],
    values: Mapping[str, list[str]],
    suspended: set[str],
    sees: Callable[[Order], bool],
) -> dict[str, Any]:
    side = _one(CANCEL_OPEN, values, "cancel_side")
    pairs, excluded = _pairs(values, "pairs"), _pairs(values, "excluded_pairs") or set()
    quotes = _pairs(values, "quote_currencies")
    count = int(_one(CANCEL_OPEN, values, "count"))

    def matches(order: Order) -> bool:
        return (
            sees(order)
            and order.state == "wait"  # never a reserved (watch) order
            and side in ("all", order.side)
            and (pairs is None or order.market in pairs)
            and (quotes is None or order.market.partition("-")[0] in quotes)
            and order.market not in excluded
        )

    chosen = _sorted([o for o in orders.values() if matches(o)], _one(CANCEL_OPEN, values, "order_by"))[:count]
    success: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for order in chosen:
        if order.market in suspended:
            failed.append(order.to_result())
            continue
        orders[order.uuid] = replace(order, state="cancel")
        success.append(order.to_result())
    return cancel_answer(success, failed)


def answer(
    operation: Operation,
    orders: MutableMapping[str, Order],
    raw_query: str,
    suspended: set[str],
    sees: Callable[[Order], bool] = lambda order: True,
) -> list[dict[str, Any]] | dict[str, Any]:
    """The 200 body of a checked request of ``GET`` or ``DELETE /v1/orders/open``; only the orders the
    caller ``sees`` (its own pocket's and the shared book's) are listed or cancelled."""
    values = _values(raw_query)
    if _SERVED[(operation.method, operation.path)] == "list":
        return _list(orders, values, sees)
    return _cancel(orders, values, suspended, sees)


def seed_open_orders(
    exchange: SandboxExchange,
    count: int = 1000,
    *,
    markets: Sequence[str] = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "BTC-ETH"),
    watch_every: int = 10,
    age: float = 3600.0,
    pocket: str | None = None,
) -> list[Order]:
    """``count`` open orders, markets in turn; in each market sides go bid, bid, ask, ask, … and every
    ``watch_every``-th order is reserved (``watch``; 0: none). Created one after another over the last
    ``age`` seconds, oldest first. ``pocket``: whose orders they are (None: the shared book)."""
    now = exchange.clock()
    added = []
    for index in range(count):
        rank = index // len(markets)  # the order's rank within its market
        watch = watch_every > 0 and rank % watch_every == watch_every - 1
        added.append(
            exchange.add_order(
                market=markets[index % len(markets)],
                side="bid" if rank % 4 < 2 else "ask",
                state="watch" if watch else "wait",
                created_at=now - age + age * index / max(count, 1),
                pocket=pocket,
            )
        )
    return added

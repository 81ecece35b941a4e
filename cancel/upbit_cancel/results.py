"""The report of a batch cancel: every id given ends in exactly one of four groups.

- ``success``: cancelled, and this run asked for it (the answer said so, or an answer was lost and
  the order lookup shows it cancelled: ``confirmed_by == "lookup"``);
- ``failed``: not cancelled by this run, with a ``reason`` (see ``FailureReason``);
- ``unconfirmed``: no trustworthy answer, even from the lookup: it may or may not be cancelled;
- ``not_sent``: the batch never sent it, or it never reached the exchange (interrupted, blocked by a
  418, out of ``timeout_total``, the connection refused, a request the client could not build):
  certainly not cancelled by this run.

The meaning of each group, reason and exit status is in ``docs/outcomes.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias, cast, get_args

from upbit_client.models import OpenOrderState
from upbit_client.models import OrderSide as _SpecOrderSide

from .remaining_req import RemainingReq

if TYPE_CHECKING:
    from .report_types import ErrorDict, NotSentOrderDict, OrderDict, ReportDict, UnconfirmedOrderDict

IdKind = Literal["uuids", "identifiers"]

FailureReason = Literal[
    "filled", "already_cancelled", "not_found", "still_open", "rejected", "invalid_listing_entry", "unknown"
]
"""Why an order is under ``failed``: ``filled``, ``already_cancelled``, ``not_found``, ``still_open`` (as the
lookup shows it), ``rejected`` (the exchange refused the whole request), ``invalid_listing_entry`` (a sweep's
listing named a uuid no cancel may carry) or ``unknown`` (no lookup told why); each is explained in
docs/outcomes.md, "Reasons of failed"."""

ConfirmedBy = Literal["answer", "lookup"]

OrderState: TypeAlias = Literal[OpenOrderState, "done", "cancel"]
"""An order's state as the lookup shows it: the spec's open states (``OpenOrderState``, generated: ``wait`` /
``watch``), ``done`` filled, ``cancel`` cancelled."""
OrderSide: TypeAlias = _SpecOrderSide
"""``bid`` or ``ask``: the spec's ``OrderSide`` (generated)."""


def text(value: object) -> str | None:
    """``value`` if it is a string, else None (a field the exchange left out, sent as null or of an odd type)."""
    return value if isinstance(value, str) else None


def order_state(value: object) -> OrderState | None:
    """``value`` as an ``OrderState``, or None for a state the SDK does not know (or none at all)."""
    return cast(OrderState, value) if value in get_args(OrderState) else None


def order_side(value: object) -> OrderSide | None:
    """``value`` as an ``OrderSide``, or None for a side the spec does not name (or none at all)."""
    return cast(OrderSide, value) if value in get_args(OrderSide) else None


@dataclass(frozen=True, slots=True)
class OrderRef:
    """An order of the report, as the exchange named it.

    Any field the exchange left out or sent as null is None, except the one the batch matched the
    order by (``uuid`` for a batch by uuids, ``identifier`` for one by identifiers): that is always
    the id given. ``reason`` is set for failed orders, ``confirmed_by`` for cancelled ones
    (``to_dict`` shows it only when it is ``"lookup"``); ``state`` is the lookup's order state
    when a lookup was made and showed a state Upbit documents (``OrderState``); ``error`` is the
    exchange's refusal of a ``rejected`` order.
    """

    uuid: str | None
    market: str | None
    identifier: str | None = None
    reason: FailureReason | None = None
    confirmed_by: ConfirmedBy | None = None
    state: OrderState | None = None
    error: ErrorInfo | None = None
    side: OrderSide | None = None
    """``bid`` or ``ask`` when known (``cancel_open_orders`` lists it); shown by ``to_dict`` only then."""

    def to_dict(self) -> OrderDict:
        data: OrderDict = {"uuid": self.uuid, "market": self.market, "identifier": self.identifier}
        if self.side is not None:
            data["side"] = self.side
        if self.reason is not None:
            data["reason"] = self.reason
        if self.confirmed_by == "lookup":
            data["confirmed_by"] = self.confirmed_by
        if self.state is not None:
            data["state"] = self.state
        if self.error is not None:
            data["error"] = self.error.to_dict()
        return data


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why an id is unconfirmed: Upbit's error ``name`` and ``message`` (or ours), and the HTTP status if any."""

    name: str
    message: str
    status: int | None = None

    def to_dict(self) -> ErrorDict:
        return {"name": self.name, "message": self.message, "status": self.status}


def _by_id(
    kind: IdKind, order_id: str, first: dict[str, object], market: str | None, side: OrderSide | None
) -> dict[str, object]:
    """An id's ``to_dict``: under ``uuid`` or ``identifier`` as the batch was given it, ``first``, then the
    market and side when known."""
    data = {"uuid" if kind == "uuids" else "identifier": order_id, **first}
    if market is not None:
        data["market"] = market
    if side is not None:
        data["side"] = side
    return data


@dataclass(frozen=True, slots=True)
class UnconfirmedOrder:
    """An id we have no trustworthy answer for: it may or may not have been cancelled."""

    id: str
    id_kind: IdKind
    error: ErrorInfo
    market: str | None = None
    side: OrderSide | None = None
    """Market and side when known (``cancel_open_orders`` lists them); shown by ``to_dict`` only then."""

    def to_dict(self) -> UnconfirmedOrderDict:
        fields = _by_id(self.id_kind, self.id, {"error": self.error.to_dict()}, self.market, self.side)
        return cast("UnconfirmedOrderDict", fields)


@dataclass(frozen=True, slots=True)
class NotSentOrder:
    """An id the batch never sent (or that never reached the exchange): certainly not cancelled by this run.

    ``why`` says what stopped it; ``error`` is the error behind it, when one did (a refused connection,
    a request the client could not build, ``timeout_total``).
    """

    id: str
    id_kind: IdKind
    why: str
    error: ErrorInfo | None = None
    market: str | None = None
    side: OrderSide | None = None
    """Market and side when known (``cancel_open_orders`` lists them); shown by ``to_dict`` only then."""

    def to_dict(self) -> NotSentOrderDict:
        data = cast("NotSentOrderDict", _by_id(self.id_kind, self.id, {"why": self.why}, self.market, self.side))
        if self.error is not None:
            data["error"] = self.error.to_dict()
        return data


@dataclass(slots=True, repr=False)
class BatchResult:
    """Merged outcome of a batch cancel, plus what it cost.

    Its ``repr`` shows a list of more than ``_REPR_ORDERS`` orders by its count only: a report of a million
    ids would otherwise make a string of hundreds of MB, and asyncio formats the repr of a finished task's
    result (with it the report an ``asyncio.run`` main returned) when its runner closes."""

    id_kind: IdKind
    success: list[OrderRef] = field(default_factory=list)
    failed: list[OrderRef] = field(default_factory=list)
    unconfirmed: list[UnconfirmedOrder] = field(default_factory=list)
    not_sent: list[NotSentOrder] = field(default_factory=list)
    requests_sent: int = 0
    """Cancel requests sent, retries included."""
    lookups_sent: int = 0
    """Order lookups (``GET /v1/orders/uuids``) sent by the confirm phase, retries included."""
    rate_limited: int = 0
    retries: int = 0
    elapsed: float = 0.0
    remaining_req: RemainingReq | None = None
    blocked: ErrorInfo | None = None
    """Set when the exchange answered 418 (temporary block): no request was sent after it."""
    interrupted: bool = False
    """True when the batch was stopped by Ctrl-C, SIGTERM or task cancellation before it finished."""
    listings_sent: int = 0
    """Open-order listings (``GET /v1/orders/open``) sent by ``cancel_open_orders``, retries included."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={_short(getattr(self, name))}" for name in _RESULT_FIELDS)
        return f"BatchResult({fields})"

    @property
    def all_cancelled(self) -> bool:
        return not self.failed and not self.unconfirmed and not self.not_sent

    def errors(self) -> list[tuple[ErrorInfo, int]]:
        """The distinct errors behind the unconfirmed ids, each with how many ids it affected."""
        return list(Counter(order.error for order in self.unconfirmed).items())

    def to_dict(self) -> ReportDict:
        """The shape ``upbit-cancel --json`` prints (``upbit_cancel.ReportDict``)."""
        return {
            "success": {"count": len(self.success), "orders": [order.to_dict() for order in self.success]},
            "failed": {"count": len(self.failed), "orders": [order.to_dict() for order in self.failed]},
            "unconfirmed": {
                "count": len(self.unconfirmed),
                "orders": [order.to_dict() for order in self.unconfirmed],
                "errors": [{**error.to_dict(), "count": count} for error, count in self.errors()],
            },
            "not_sent": {"count": len(self.not_sent), "orders": [order.to_dict() for order in self.not_sent]},
        }


GroupName = Literal["success", "failed", "unconfirmed", "not_sent"]
ReportOrder: TypeAlias = OrderRef | UnconfirmedOrder | NotSentOrder
"""An order of any group of the report."""


def groups(result: BatchResult) -> tuple[tuple[GroupName, Sequence[ReportOrder]], ...]:
    """``result``'s groups with their names, in the report's order (``to_dict``'s): the one walk over them
    for code that reads every group alike, so that it names none of them again."""
    return (
        ("success", result.success), ("failed", result.failed),
        ("unconfirmed", result.unconfirmed), ("not_sent", result.not_sent),
    )  # fmt: skip


def group_sizes(result: BatchResult) -> tuple[int, ...]:
    """How many orders ``result`` has in each group, in the order of ``groups``."""
    return tuple(len(orders) for _, orders in groups(result))


def add_counts(into: BatchResult, more: BatchResult) -> None:
    """Add what ``more`` cost (its requests, lookups, listings, 429s and retries) to ``into``'s counts."""
    into.requests_sent += more.requests_sent
    into.lookups_sent += more.lookups_sent
    into.listings_sent += more.listings_sent
    into.rate_limited += more.rate_limited
    into.retries += more.retries


_REPR_ORDERS = 10
_RESULT_FIELDS = tuple(name for name in BatchResult.__dataclass_fields__)


def _short(value: object) -> str:
    if isinstance(value, list) and len(value) > _REPR_ORDERS:
        return f"<{len(value):,} orders>"
    return repr(value)

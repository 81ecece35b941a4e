"""The report as plain data: the ``TypedDict`` shapes of ``BatchResult.to_dict()`` and ``upbit-cancel --json``.

A consumer that stores or forwards the report as JSON can type it with these instead of
``dict[str, Any]``; ``docs/outcomes.md`` says what each group and field means.
"""

# No ``from __future__ import annotations`` here: TypedDict reads ``NotRequired`` from evaluated
# annotations, so ``__required_keys__`` stays true at runtime (for validators and the tests).
from typing import Literal, NotRequired, TypedDict

from .results import FailureReason, OrderSide, OrderState

__all__ = [
    "ErrorCountDict",
    "ErrorDict",
    "NotSentGroupDict",
    "NotSentOrderDict",
    "OrderDict",
    "OrderGroupDict",
    "ReportDict",
    "UnconfirmedGroupDict",
    "UnconfirmedOrderDict",
]


class ErrorDict(TypedDict):
    """An error of the exchange or ours (``ErrorInfo.to_dict()``): why an id is unconfirmed, rejected or not sent."""

    name: str
    message: str
    status: int | None


class ErrorCountDict(ErrorDict):
    """One distinct error behind the unconfirmed ids, and how many ids it affected."""

    count: int


class OrderDict(TypedDict):
    """An order under ``success`` or ``failed`` (``OrderRef.to_dict()``)."""

    uuid: str | None
    market: str | None
    identifier: str | None
    side: NotRequired[OrderSide]
    """``bid`` or ``ask``, when known (``cancel_open_orders`` lists it)."""
    reason: NotRequired[FailureReason]
    """Failed orders only."""
    confirmed_by: NotRequired[Literal["lookup"]]
    """Only when the order lookup, not the cancel's answer, showed it cancelled."""
    state: NotRequired[OrderState]
    """The lookup's state, when a lookup was made."""
    error: NotRequired[ErrorDict]
    """The exchange's refusal, for a ``rejected`` order."""


class UnconfirmedOrderDict(TypedDict):
    """An unconfirmed id: under ``uuid`` or ``identifier``, as the batch was given it."""

    uuid: NotRequired[str]
    identifier: NotRequired[str]
    market: NotRequired[str]
    side: NotRequired[OrderSide]
    """Market and side, when known (``cancel_open_orders`` lists them)."""
    error: ErrorDict


class NotSentOrderDict(TypedDict):
    """An id never sent: under ``uuid`` or ``identifier``, as the batch was given it, and why."""

    uuid: NotRequired[str]
    identifier: NotRequired[str]
    market: NotRequired[str]
    side: NotRequired[OrderSide]
    """Market and side, when known (``cancel_open_orders`` lists them)."""
    why: str
    error: NotRequired[ErrorDict]
    """The error that stopped it, when there was one."""


class OrderGroupDict(TypedDict):
    count: int
    orders: list[OrderDict]


class UnconfirmedGroupDict(TypedDict):
    count: int
    orders: list[UnconfirmedOrderDict]
    errors: list[ErrorCountDict]


class NotSentGroupDict(TypedDict):
    count: int
    orders: list[NotSentOrderDict]


class ReportDict(TypedDict):
    """``BatchResult.to_dict()``: every id given is in exactly one of the four groups."""

    success: OrderGroupDict
    failed: OrderGroupDict
    unconfirmed: UnconfirmedGroupDict
    not_sent: NotSentGroupDict

"""The report of a batch cancel: every id given ends in exactly one of success, failed or unconfirmed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from .remaining_req import RemainingReq

IdKind = Literal["uuids", "identifiers"]


@dataclass(frozen=True, slots=True)
class OrderRef:
    """An order as the exchange reported it under ``success`` or ``failed``."""

    uuid: str
    market: str
    identifier: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "market": self.market, "identifier": self.identifier}


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why an id is unconfirmed: Upbit's error ``name`` and ``message`` (or ours), and the HTTP status if any."""

    name: str
    message: str
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "message": self.message, "status": self.status}


@dataclass(frozen=True, slots=True)
class UnconfirmedOrder:
    """An id we have no trustworthy answer for: it may or may not have been cancelled."""

    id: str
    id_kind: IdKind
    error: ErrorInfo

    def to_dict(self) -> dict[str, Any]:
        key = "uuid" if self.id_kind == "uuids" else "identifier"
        return {key: self.id, "error": self.error.to_dict()}


@dataclass(slots=True)
class BatchResult:
    """Merged outcome of a batch cancel, plus what it cost."""

    id_kind: IdKind
    success: list[OrderRef] = field(default_factory=list)
    failed: list[OrderRef] = field(default_factory=list)
    unconfirmed: list[UnconfirmedOrder] = field(default_factory=list)
    requests_sent: int = 0
    rate_limited: int = 0
    retries: int = 0
    elapsed: float = 0.0
    remaining_req: RemainingReq | None = None
    blocked: ErrorInfo | None = None
    """Set when the exchange answered 418 (temporary block): no request was sent after it."""

    @property
    def all_cancelled(self) -> bool:
        return not self.failed and not self.unconfirmed

    def errors(self) -> list[tuple[ErrorInfo, int]]:
        """The distinct errors behind the unconfirmed ids, each with how many ids it affected."""
        return list(Counter(order.error for order in self.unconfirmed).items())

    def to_dict(self) -> dict[str, Any]:
        """The shape ``upbit-cancel --json`` prints."""
        return {
            "success": {"count": len(self.success), "orders": [order.to_dict() for order in self.success]},
            "failed": {"count": len(self.failed), "orders": [order.to_dict() for order in self.failed]},
            "unconfirmed": {
                "count": len(self.unconfirmed),
                "orders": [order.to_dict() for order in self.unconfirmed],
                "errors": [{**error.to_dict(), "count": count} for error, count in self.errors()],
            },
        }

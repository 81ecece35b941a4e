"""Cancel Upbit orders in batches: the batch, its rate limiter, the report, the error tree, the CLI.

Built on the generated ``upbit_client`` (transport, models, the spec's rules) and the ``upbit_auth``
signing hook. What this package promises is what ``__all__`` names; the modules behind it are free
to change.
"""

from .batch import ProgressCallback, cancel_orders, cancel_orders_async
from .errors import (
    AuthenticationError,
    BatchCancelled,
    BatchInterrupted,
    InvalidRequest,
    InvalidResponse,
    MissingCredentials,
    PermissionDenied,
    RateLimited,
    ServerError,
    TemporarilyBlocked,
    TransportError,
    UnexpectedStatus,
    UpbitAPIError,
    UpbitClientError,
    unwrap,
)
from .results import BatchResult, ErrorInfo, FailureReason, NotSentOrder, OrderRef, UnconfirmedOrder

__all__ = [
    "AuthenticationError",
    "BatchCancelled",
    "BatchInterrupted",
    "BatchResult",
    "ErrorInfo",
    "FailureReason",
    "InvalidRequest",
    "InvalidResponse",
    "MissingCredentials",
    "NotSentOrder",
    "OrderRef",
    "PermissionDenied",
    "ProgressCallback",
    "RateLimited",
    "ServerError",
    "TemporarilyBlocked",
    "TransportError",
    "UnconfirmedOrder",
    "UnexpectedStatus",
    "UpbitAPIError",
    "UpbitClientError",
    "cancel_orders",
    "cancel_orders_async",
    "unwrap",
]

"""Cancel Upbit orders in batches: the batch, its rate limiter, the report, the error tree, the CLI.

Built on the generated ``upbit_client`` (transport, models, the spec's rules) and the ``upbit_auth``
signing hook. What this package promises is what ``__all__`` names; the modules behind it are free
to change.
"""

import logging

from upbit_auth import __version__

from .batch import ProgressCallback, cancel_orders, cancel_orders_async
from .client import connect
from .errors import (
    AuthenticationError,
    BatchCancelled,
    BatchInterrupted,
    ConfigurationError,
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
from .pacing import PacedTransport
from .ratelimit import KeyBlocked
from .results import BatchResult, ErrorInfo, FailureReason, NotSentOrder, OrderRef, UnconfirmedOrder

# A library never configures logging: without a handler of the caller's, records go nowhere.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AuthenticationError",
    "BatchCancelled",
    "BatchInterrupted",
    "BatchResult",
    "ConfigurationError",
    "ErrorInfo",
    "FailureReason",
    "InvalidRequest",
    "InvalidResponse",
    "KeyBlocked",
    "MissingCredentials",
    "NotSentOrder",
    "OrderRef",
    "PacedTransport",
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
    "__version__",
    "cancel_orders",
    "cancel_orders_async",
    "connect",
    "unwrap",
]

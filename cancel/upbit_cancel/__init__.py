"""Cancel Upbit orders in batches: the batch, its rate limiter, the report, the error tree, the CLI.

Built on the generated ``upbit_client`` (transport, models, the spec's rules) and the ``upbit_auth``
signing hook. What this package promises is what ``__all__`` names; the modules behind it are free
to change.

The face holds what users call, and no more: ``connect``, the batch and the sweep (sync and async),
``PacedTransport``, ``reset_pacing``, the command (``main``, as ``upbit-cancel`` runs it), the report
and its types, and the error tree with ``unwrap``. Pacing is set through those calls' own arguments
(``pocket``, ``BatchOptions``, ``PacedTransport(...)``). Any other name is
exported only while a public signature names it, so that typed code can name it too (today
``RateLimiter``, for the batch's ``limiter`` argument, and the types its public members name);
``tests/test_face.py`` holds the face to exactly that, and the changelog says where each name that
left it lives now.

The package is a lazy face (PEP 562): ``import upbit_cancel`` loads none of the modules behind it,
so neither httpx nor the batch, and ``upbit-cancel`` can install its interrupt handling before
anything heavy is imported (``upbit_cancel.entry``). A name of ``__all__`` loads its module the
first time it is used, as ``upbit_cancel.X`` or ``from upbit_cancel import X``, and is then an
ordinary attribute. Type checkers and IDEs read the ``TYPE_CHECKING`` imports below, which name
every export explicitly, and never see ``__getattr__``: a misspelt name stays an error for them.
``tests/test_lazy_package.py`` keeps ``__all__``, the table and those imports in step.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._version import __version__
    from .batch import (
        AnyClient,
        BatchKeywords,
        BatchOptions,
        ProgressCallback,
        ReportSink,
        cancel_orders,
        cancel_orders_async,
    )
    from .cli import main
    from .client import connect
    from .errors import (
        AuthenticationError,
        BatchCancelled,
        BatchInterrupted,
        ConfigurationError,
        InvalidRequest,
        InvalidResponse,
        KeyBlocked,
        MissingCredentials,
        PermissionDenied,
        RateLimited,
        RedirectRefused,
        ServerError,
        TemporarilyBlocked,
        TransportError,
        UnexpectedStatus,
        UpbitAPIError,
        UpbitClientError,
        unwrap,
    )
    from .events import (
        Event,
        EventHook,
        LookupConfirmed,
        RequestAnswered,
        RequestBlocked,
        RequestFailed,
        RequestInfo,
        RequestRateLimited,
        RequestRetried,
        RequestSent,
    )
    from .guard import FireRecord, Guard
    from .heartbeat import GuardScope, Heartbeat
    from .heartbeat_store import Beat, HeartbeatStore
    from .pacing import PacedTransport
    from .pocket_sweep import (
        PocketsCancelled,
        PocketsInterrupted,
        PocketsResult,
        PocketsSink,
        connect_pockets,
        sweep_pockets,
        sweep_pockets_async,
    )
    from .pockets import PocketKeys, pocket_keys
    from .ratelimit import AsyncSleep, Backlog, Clock, KeyBlock, Permit, RateLimiter, Sleep
    from .remaining_req import RemainingReq
    from .report_types import (
        ErrorCountDict,
        ErrorDict,
        NotSentGroupDict,
        NotSentOrderDict,
        OrderDict,
        OrderGroupDict,
        ReportDict,
        UnconfirmedGroupDict,
        UnconfirmedOrderDict,
    )
    from .reset import reset_pacing
    from .results import (
        BatchResult,
        ConfirmedBy,
        ErrorInfo,
        FailureReason,
        IdKind,
        NotSentOrder,
        OrderRef,
        OrderState,
        UnconfirmedOrder,
    )
    from .store import Ask, BudgetStore, Send, StoreLink, StoreUnavailable, Taken, TakeResult, Write
    from .sweep import (
        OpenState,
        OrderSide,
        SweepKeywords,
        SweepOptions,
        cancel_open_orders,
        cancel_open_orders_async,
    )
    from .window_log import PhaseEstimate, WindowLog

# A library never configures logging: without a handler of the caller's, records go nowhere.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AnyClient",
    "Ask",
    "AsyncSleep",
    "AuthenticationError",
    "Backlog",
    "BatchCancelled",
    "BatchInterrupted",
    "BatchKeywords",
    "BatchOptions",
    "BatchResult",
    "Beat",
    "BudgetStore",
    "Clock",
    "ConfigurationError",
    "ConfirmedBy",
    "ErrorCountDict",
    "ErrorDict",
    "ErrorInfo",
    "Event",
    "EventHook",
    "FailureReason",
    "FireRecord",
    "Guard",
    "GuardScope",
    "Heartbeat",
    "HeartbeatStore",
    "IdKind",
    "InvalidRequest",
    "InvalidResponse",
    "KeyBlock",
    "KeyBlocked",
    "LookupConfirmed",
    "MissingCredentials",
    "NotSentGroupDict",
    "NotSentOrder",
    "NotSentOrderDict",
    "OpenState",
    "OrderDict",
    "OrderGroupDict",
    "OrderRef",
    "OrderSide",
    "OrderState",
    "PacedTransport",
    "PermissionDenied",
    "Permit",
    "PhaseEstimate",
    "PocketKeys",
    "PocketsCancelled",
    "PocketsInterrupted",
    "PocketsResult",
    "PocketsSink",
    "ProgressCallback",
    "RateLimited",
    "RateLimiter",
    "RedirectRefused",
    "RemainingReq",
    "ReportDict",
    "ReportSink",
    "RequestAnswered",
    "RequestBlocked",
    "RequestFailed",
    "RequestInfo",
    "RequestRateLimited",
    "RequestRetried",
    "RequestSent",
    "Send",
    "ServerError",
    "Sleep",
    "StoreLink",
    "StoreUnavailable",
    "SweepKeywords",
    "SweepOptions",
    "TakeResult",
    "Taken",
    "TemporarilyBlocked",
    "TransportError",
    "UnconfirmedGroupDict",
    "UnconfirmedOrder",
    "UnconfirmedOrderDict",
    "UnexpectedStatus",
    "UpbitAPIError",
    "UpbitClientError",
    "WindowLog",
    "Write",
    "__version__",
    "cancel_open_orders",
    "cancel_open_orders_async",
    "cancel_orders",
    "cancel_orders_async",
    "connect",
    "connect_pockets",
    "main",
    "pocket_keys",
    "reset_pacing",
    "sweep_pockets",
    "sweep_pockets_async",
    "unwrap",
]

# Where each exported name lives: the module (relative to this package) that a first use imports.
# ``__version__`` has a module of its own so that reading it never loads httpx.
_HOMES = {
    "Beat": ".heartbeat_store",
    "FireRecord": ".guard",
    "Guard": ".guard",
    "GuardScope": ".heartbeat",
    "Heartbeat": ".heartbeat",
    "HeartbeatStore": ".heartbeat_store",
    "__version__": "._version",
    "AnyClient": ".batch",
    "BatchKeywords": ".batch",
    "BatchOptions": ".batch",
    "ProgressCallback": ".batch",
    "ReportSink": ".batch",
    "cancel_orders": ".batch",
    "cancel_orders_async": ".batch",
    "connect": ".client",
    "main": ".cli",
    "AuthenticationError": ".errors",
    "BatchCancelled": ".errors",
    "BatchInterrupted": ".errors",
    "ConfigurationError": ".errors",
    "InvalidRequest": ".errors",
    "InvalidResponse": ".errors",
    "KeyBlocked": ".errors",
    "MissingCredentials": ".errors",
    "PermissionDenied": ".errors",
    "RateLimited": ".errors",
    "RedirectRefused": ".errors",
    "ServerError": ".errors",
    "TemporarilyBlocked": ".errors",
    "TransportError": ".errors",
    "UnexpectedStatus": ".errors",
    "UpbitAPIError": ".errors",
    "UpbitClientError": ".errors",
    "unwrap": ".errors",
    "Event": ".events",
    "EventHook": ".events",
    "LookupConfirmed": ".events",
    "RequestAnswered": ".events",
    "RequestBlocked": ".events",
    "RequestFailed": ".events",
    "RequestInfo": ".events",
    "RequestRateLimited": ".events",
    "RequestRetried": ".events",
    "RequestSent": ".events",
    "PacedTransport": ".pacing",
    "PocketKeys": ".pockets",
    "pocket_keys": ".pockets",
    "PocketsCancelled": ".pocket_sweep",
    "PocketsInterrupted": ".pocket_sweep",
    "PocketsResult": ".pocket_sweep",
    "PocketsSink": ".pocket_sweep",
    "connect_pockets": ".pocket_sweep",
    "sweep_pockets": ".pocket_sweep",
    "sweep_pockets_async": ".pocket_sweep",
    "AsyncSleep": ".ratelimit",
    "Backlog": ".ratelimit",
    "Clock": ".ratelimit",
    "KeyBlock": ".ratelimit",
    "Permit": ".ratelimit",
    "Sleep": ".ratelimit",
    "BudgetStore": ".store",
    "StoreLink": ".store",
    "Taken": ".store",
    "Ask": ".store",
    "Write": ".store",
    "Send": ".store",
    "StoreUnavailable": ".store",
    "WindowLog": ".window_log",
    "PhaseEstimate": ".window_log",
    "TakeResult": ".store",
    "RateLimiter": ".ratelimit",
    "RemainingReq": ".remaining_req",
    "ErrorCountDict": ".report_types",
    "ErrorDict": ".report_types",
    "NotSentGroupDict": ".report_types",
    "NotSentOrderDict": ".report_types",
    "OrderDict": ".report_types",
    "OrderGroupDict": ".report_types",
    "ReportDict": ".report_types",
    "UnconfirmedGroupDict": ".report_types",
    "UnconfirmedOrderDict": ".report_types",
    "reset_pacing": ".reset",
    "BatchResult": ".results",
    "ConfirmedBy": ".results",
    "IdKind": ".results",
    "OrderState": ".results",
    "ErrorInfo": ".results",
    "FailureReason": ".results",
    "NotSentOrder": ".results",
    "OrderRef": ".results",
    "UnconfirmedOrder": ".results",
    "OpenState": ".sweep",
    "OrderSide": ".sweep",
    "SweepKeywords": ".sweep",
    "SweepOptions": ".sweep",
    "cancel_open_orders": ".sweep",
    "cancel_open_orders_async": ".sweep",
}


def _load(name: str) -> object:
    """The export ``name``, imported from its module on first use and kept as a module attribute.

    A submodule's name (``upbit_cancel.batch``) imports that submodule, as the eager package used
    to as a side effect. Anything else is an ``AttributeError``, as for any module, so ``hasattr``
    and ``from upbit_cancel import nothing`` behave as usual.
    """
    home = _HOMES.get(name)
    if home is not None:
        value: object = getattr(importlib.import_module(home, __name__), name)
        globals()[name] = value  # later uses are plain attribute lookups, no second call
        return value
    if name.isidentifier() and not name.startswith("_"):
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # the submodule exists but something it imports is missing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# Hidden from type checkers: with a module ``__getattr__`` in sight, mypy would accept any name at all.
if not TYPE_CHECKING:
    __getattr__ = _load

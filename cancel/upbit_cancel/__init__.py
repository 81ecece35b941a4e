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
        sweep_pockets,
        sweep_pockets_async,
    )
    from .pockets import PocketKeys, connect_pockets, pocket_keys
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

# Where each exported name lives: the module (relative to this package) that a first use imports, and the
# names it exports, by module. ``__version__`` has a module of its own so that reading it never loads httpx.
_EXPORTS = (
    ("._version", "__version__"),
    (".batch", "AnyClient BatchKeywords BatchOptions ProgressCallback ReportSink cancel_orders cancel_orders_async"),
    (".cli", "main"),
    (".client", "connect"),
    (".errors", "AuthenticationError BatchCancelled BatchInterrupted ConfigurationError InvalidRequest"),
    (".errors", "InvalidResponse KeyBlocked MissingCredentials PermissionDenied RateLimited RedirectRefused"),
    (".errors", "ServerError TemporarilyBlocked TransportError UnexpectedStatus UpbitAPIError UpbitClientError unwrap"),
    (".events", "Event EventHook LookupConfirmed RequestAnswered RequestBlocked RequestFailed RequestInfo"),
    (".events", "RequestRateLimited RequestRetried RequestSent"),
    (".guard", "FireRecord Guard"),
    (".heartbeat", "GuardScope Heartbeat"),
    (".heartbeat_store", "Beat HeartbeatStore"),
    (".pacing", "PacedTransport"),
    (".pocket_sweep", "PocketsCancelled PocketsInterrupted PocketsResult PocketsSink sweep_pockets"),
    (".pocket_sweep", "sweep_pockets_async"),
    (".pockets", "PocketKeys connect_pockets pocket_keys"),
    (".ratelimit", "AsyncSleep Backlog Clock KeyBlock Permit RateLimiter Sleep"),
    (".remaining_req", "RemainingReq"),
    (".report_types", "ErrorCountDict ErrorDict NotSentGroupDict NotSentOrderDict OrderDict OrderGroupDict ReportDict"),
    (".report_types", "UnconfirmedGroupDict UnconfirmedOrderDict"),
    (".reset", "reset_pacing"),
    (".results", "BatchResult ConfirmedBy ErrorInfo FailureReason IdKind NotSentOrder OrderRef OrderState"),
    (".results", "UnconfirmedOrder"),
    (".store", "Ask BudgetStore Send StoreLink StoreUnavailable Taken TakeResult Write"),
    (".sweep", "OpenState OrderSide SweepKeywords SweepOptions cancel_open_orders cancel_open_orders_async"),
    (".window_log", "PhaseEstimate WindowLog"),
)
_HOMES = {name: module for module, names in _EXPORTS for name in names.split()}


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

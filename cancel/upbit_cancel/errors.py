"""The SDK's one error tree, rooted at ``upbit_client.errors.UpbitClientError``.

The generated client raises ``InvalidRequest`` (a call the spec says can never succeed, raised
before sending), ``InvalidResponse`` and ``UnexpectedStatus``; the hand-written layer adds the
exchange's own errors, carrying Upbit's error ``name`` and ``message`` and the HTTP status, so
callers can branch on the name as Upbit advises. Everything is importable from here.
"""

from __future__ import annotations

import functools
import sys
import time
from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

import httpx

from upbit_auth.errors import MissingCredentials
from upbit_client.errors import InvalidRequest, InvalidResponse, UnexpectedStatus, UpbitClientError
from upbit_client.models import UpbitError
from upbit_client.registry import OPERATIONS
from upbit_client.types import Response

if TYPE_CHECKING:
    from .cancelled import BatchCancelled as BatchCancelled
    from .results import BatchResult

__all__ = [
    "AuthenticationError",
    "BatchCancelled",
    "BatchInterrupted",
    "ConfigurationError",
    "InvalidRequest",
    "InvalidResponse",
    "KeyBlocked",
    "MissingCredentials",
    "PermissionDenied",
    "RateLimited",
    "RedirectRefused",
    "ServerError",
    "TemporarilyBlocked",
    "TransportError",
    "UnexpectedStatus",
    "UpbitAPIError",
    "UpbitClientError",
    "error_from_response",
    "unwrap",
]


class ConfigurationError(UpbitClientError, ValueError):
    """A setting is unusable (a malformed server URL, an unknown region, a bad timeout); nothing was sent."""


class TransportError(UpbitClientError):
    """No usable answer reached us (connection refused or reset, timeout) after the retries allowed.

    A request of a ``connect()`` client that fails on the network raises a subclass of this that is also
    the matching ``httpx`` error (``transport_error_class``): ``except httpx.ReadTimeout`` and ``except
    httpx.HTTPError`` keep working, and ``except upbit_cancel.errors.TransportError`` catches them all."""


@functools.cache
def transport_error_class(base: type[httpx.TransportError]) -> type[httpx.TransportError]:
    """The SDK's ``TransportError`` that is also ``base`` (an httpx error class), one class per ``base``."""
    doc = f"``httpx.{base.__name__}`` inside the SDK's error tree (``TransportError``)."
    made = type(base.__name__, (TransportError, base), {"__doc__": doc, "__module__": __name__})
    return cast("type[httpx.TransportError]", made)


class RedirectRefused(TransportError, httpx.RemoteProtocolError):
    """The server answered a request with a redirect (3xx), which is never followed: Upbit's API does not
    redirect, and following would send the same signed JWT (its nonce) twice. The request was received and
    may have been applied: the batch treats it as a lost answer and confirms by lookup."""


def _stamp(epoch: float) -> str:
    """``epoch`` as an ISO time, or as a number when no calendar can show it (a store written by a bad peer)."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return f"epoch {epoch:g}"


class KeyBlocked(UpbitClientError):
    """The exchange blocked this pocket (HTTP 418) until ``until`` (wall-clock epoch seconds); nothing was sent.

    Raised before sending by every client of the pocket (every key named into it, every group) until
    the block ends: a 418 met by one of them stops all, in this process and, with the shared store, in others.
    """

    def __init__(self, group: str, until: float, reason: str) -> None:
        super().__init__(f"pocket blocked by the exchange until {_stamp(until)} ({reason}); nothing was sent")
        self.group = group
        self.until = until
        self.reason = reason


def counts(report: BatchResult) -> str:
    """``N cancelled, N failed, N unconfirmed, N not sent``: the report's groups counted, as every message says them."""
    return (
        f"{len(report.success)} cancelled, {len(report.failed)} failed, {len(report.unconfirmed)} unconfirmed, "
        f"{len(report.not_sent)} not sent"
    )


def _partial(report: BatchResult) -> str:
    return f"batch interrupted: {counts(report)} (see .report)"


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sync batch; ``report`` is what was learned, every id in exactly one group.

    A ``KeyboardInterrupt``, so code that already stops on Ctrl-C still does.
    """

    def __init__(self, report: BatchResult) -> None:
        super().__init__(_partial(report))
        self.report = report


class UpbitAPIError(UpbitClientError):
    """The exchange answered with an error: ``status``, Upbit's ``name`` and ``message``."""

    hint: str = ""
    hints_by_name: ClassVar[dict[str, str]] = {}

    def __init__(self, status: int, name: str, message: str) -> None:
        self.status = status
        self.name = name
        self.message = message
        text = f"HTTP {status} {name}: {message}"
        self.hint = self.hints_by_name.get(name, self.hint)
        super().__init__(f"{text} ({self.hint})" if self.hint else text)


class AuthenticationError(UpbitAPIError):
    """HTTP 401 (and a 403 whose name is not known to be about permissions): the exchange did not accept the
    key or the token; the message's hint names the usual cause for Upbit's ``name``."""

    hint = "check the access and secret keys"
    hints_by_name: ClassVar[dict[str, str]] = {
        "invalid_query_payload": "the query hash did not match the query the exchange received: "
        "is a proxy rewriting the query?",
        "jwt_verification": "check the access and secret keys: the secret must be the one issued with the access key",
        "expired_access_key": "the API key has expired: issue a new one",
        "no_authorization_ip": "this machine's IP address is not on the API key's allowed IP list",
        "no_authorization_token": "the request was not signed: pass auth=UpbitAuth(...) in httpx_args",
        "nonce_used": "a nonce was reused: every request needs a fresh token",
    }


class PermissionDenied(AuthenticationError):
    """HTTP 403 about permissions (``out_of_scope``): the key lacks the permission the operation needs."""

    hint = 'the API key needs the "Make Orders" permission'


class RateLimited(UpbitAPIError):
    """HTTP 429: the rate-limit group's budget for this window is spent; send again in the next window."""

    hint = "the rate-limit group's budget for this second is spent"


class TemporarilyBlocked(UpbitAPIError):
    """HTTP 418: Upbit blocked the key for a while after repeated 429s; its pocket raises ``KeyBlocked`` until then."""

    hint = "Upbit blocked this client for a while after repeated 429s; wait before trying again"


class ServerError(UpbitAPIError):
    """HTTP 5xx: the exchange failed; the request may have been applied."""

    hint = "an error on the exchange's side"


_BY_STATUS: dict[int, type[UpbitAPIError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    418: TemporarilyBlocked,
    429: RateLimited,
}


def _class_for_status(status: int) -> type[UpbitAPIError]:
    return _BY_STATUS.get(status, ServerError if status >= 500 else UpbitAPIError)


def _classes_by_name() -> dict[str, type[UpbitAPIError]]:
    """Each error name the spec documents (``x-error-names``, from the generated registry) and the class of
    its status; a name documented under several statuses gets the most specific class (``out_of_scope``
    under 401 and 403 is a ``PermissionDenied``)."""
    by_name: dict[str, type[UpbitAPIError]] = {}
    for operation in OPERATIONS.values():
        for status, names in operation.error_names.items():
            cls = _class_for_status(status)
            if cls is UpbitAPIError:
                continue  # the status says nothing more specific: let the status of each answer decide
            for name in names:
                if name not in by_name or issubclass(cls, by_name[name]):
                    by_name[name] = cls
    return by_name


_BY_NAME: dict[str, type[UpbitAPIError]] = _classes_by_name()


def error_from_response(status: int, name: str | None, message: str | None) -> UpbitAPIError:
    """The most specific error for an error answer: the HTTP status decides the class, Upbit's ``name`` may
    only narrow it (``out_of_scope`` on a 401 is a ``PermissionDenied``; ``too_many_requests`` on a 418 is
    still a ``TemporarilyBlocked``)."""
    name = name or f"http_{status}"
    message = message or "(no message)"
    # An undocumented name on a 403 is not known to be about permissions: the broader class.
    by_status = AuthenticationError if status == 403 else _class_for_status(status)
    cls = _BY_NAME.get(name)
    if cls is None or not issubclass(cls, by_status):
        cls = by_status
    return cls(status, name, message)


T = TypeVar("T")


def unwrap(response: Response[T | UpbitError]) -> T:
    """The parsed success body of a generated ``*_detailed`` call, or the typed error for anything else.

    Works for any generated endpoint: an answer parsed into the spec's ``UpbitError`` becomes the
    matching ``UpbitAPIError``; an undocumented status or empty parse becomes ``UnexpectedStatus``.
    """
    parsed = response.parsed
    if isinstance(parsed, UpbitError):
        raise error_from_response(int(response.status_code), parsed.error.name, parsed.error.message)
    if parsed is None or int(response.status_code) >= 300:
        raise UnexpectedStatus(int(response.status_code), response.content)
    return parsed


def is_asyncio_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is asyncio's ``CancelledError``; without asyncio loaded nothing could have raised it
    (asyncio is not imported for the question: the sync paths never load it)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


def _batch_cancelled(name: str) -> type[BaseException]:
    """``BatchCancelled`` on first use: it subclasses ``asyncio.CancelledError``, and asyncio (tens of ms of
    import) is loaded by nothing else a sync batch needs (``cancelled``)."""
    if name != "BatchCancelled":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .cancelled import BatchCancelled

    globals()[name] = BatchCancelled
    return BatchCancelled


# Hidden from type checkers: with a module ``__getattr__`` in sight, mypy would accept any name at all.
if not TYPE_CHECKING:
    __getattr__ = _batch_cancelled

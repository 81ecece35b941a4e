"""One reader of the exchange's answers, and the one place the limiter learns from them.

Whatever the generated call delivered (a ``Response``, or an ``InvalidResponse``/``UnexpectedStatus`` it
raised for a body it could not read) becomes one ``Answer``; anything else raised while sending stays the
exception it is (``settled``). ``feed`` is the only code that tells a limiter what came of a permit, for
everything paced: the batch's cancels and lookups, the sweep's listings, and the single calls paced by
``connect()``'s transport or a ``PacedTransport`` (``from_response`` reads their ``httpx.Response``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from upbit_client.errors import InvalidResponse, UnexpectedStatus
from upbit_client.types import Response

from . import reading
from .errors import UpbitAPIError, error_from_response
from .ratelimit import Permit, RateLimiter, block_seconds
from .remaining_req import RemainingReq, parse_date_header, parse_remaining_req
from .results import ErrorInfo

__all__ = ["Answer", "Outcome", "feed", "from_response", "settled"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back for one request, whichever way the generated call delivered it."""

    status: int
    content: bytes
    remaining: RemainingReq | None
    parsed: object = None
    """The generated client's model of the body, or None when it could not read it."""
    problem: str | None = None
    """Why the generated client could not read a documented answer (``InvalidResponse``)."""
    date: float | None = None
    """The exchange's ``Date`` header in epoch seconds, which tells the limiter where its second starts."""

    def error_body(self) -> tuple[str | None, str | None]:
        """Upbit's error ``name`` and ``message``, each None unless a string (whatever the body)."""
        try:
            error = reading.load_json(self.content)["error"]
            name, message = error.get("name"), error.get("message")
        except (ValueError, KeyError, TypeError, AttributeError, IndexError):
            return None, None
        return (name if isinstance(name, str) else None), (message if isinstance(message, str) else None)

    def api_error(self) -> UpbitAPIError:
        """The error tree's exception for this answer (its class by status and Upbit's name)."""
        name, message = self.error_body()
        return error_from_response(self.status, name, message)

    def error_info(self) -> ErrorInfo:
        """``api_error`` as the report writes it: the hint, if any, after the message."""
        error = self.api_error()
        message = f"{error.message} ({error.hint})" if error.hint else error.message
        return ErrorInfo(error.name, message, error.status)


Outcome = Answer | Exception
"""What one request came to: an answer, or the exception that kept one from coming."""


def from_response(response: Response[Any] | httpx.Response) -> Answer:
    """A generated call's ``Response``, or a transport's ``httpx.Response`` (its body only if read: a
    transport reads a 418's before ``feed``, and nothing else of the body is needed there)."""
    if isinstance(response, httpx.Response):
        try:
            content, parsed = response.content, None
        except httpx.ResponseNotRead:
            content, parsed = b"", None
    else:
        content, parsed = response.content, response.parsed
    remaining = parse_remaining_req(response.headers.get("Remaining-Req"))
    date = parse_date_header(response.headers.get("Date"))
    return Answer(int(response.status_code), content, remaining, parsed, date=date)


def settled(exc: Exception) -> Outcome:
    """An answer the generated call refused to parse is still an answer; anything else is a failure to send."""
    if isinstance(exc, InvalidResponse):
        return Answer(exc.status_code, exc.content, None, problem=exc.problem)
    if isinstance(exc, UnexpectedStatus):
        return Answer(exc.status_code, exc.content, None)
    return exc


def feed(limiter: RateLimiter, permit: Permit, outcome: Outcome | None) -> None:
    """Close ``permit`` with what came of it: an answer (its budget, clock and 429; a 418 blocks the pocket),
    or nothing heard (an exception, or None: interrupted with the request on its way)."""
    if not isinstance(outcome, Answer):
        limiter.record(permit, None)
        return
    limiter.record(permit, outcome.remaining, rate_limited=outcome.status == 429, date=outcome.date)
    if outcome.status == 418:
        name, message = outcome.error_body()
        limiter.block(block_seconds(message), name or "blocked")

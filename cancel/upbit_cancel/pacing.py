"""Pacing for single generated calls: a permit of the pocket's limiter before each request goes out.

Every request a ``connect()`` client sends outside ``reading.bounded`` is paced by its transport
(``transport.UpbitTransport``); a team that builds a bare generated ``Client`` passes one
``PacedTransport`` to it for the same. Either way every request waits for the same process-wide
limiter the batch uses (``ratelimit.limiter_for``), so loops, batches and threads of one process
share one budget per access key and group, learn the exchange's second from the answers (``feed``),
and stop at once when the pocket is blocked (``KeyBlocked`` is raised from the call, nothing is sent).

Rules, and why:

- The operation's rate-limit group comes from the spec, through the generated operation registry
  (``upbit_client.registry.OPERATIONS``: method, path, rate limit): a request whose method and path
  match no operation, or one without ``x-rate-limit``, goes out unpaced.
- The access key is read from the request's JWT (its ``access_key`` claim, without verifying: the
  transport sits below ``httpx.Auth``) unless given; nothing else of the token is used or kept.
- The pocket (whose one budget and 418 block every key of it shares) is ``pocket`` if given, else the
  one the client's ``UpbitAuth(pocket=...)`` names (it marks each request it signs), else the key's own.
- ``store`` (or ``UPBIT_RATE_LIMIT_STORE``) shares the budget with other processes, as in the batch.
- A request sent inside ``reading.bounded`` (the batch's and the sweep's) is paced by its caller and
  never here: pacing twice would halve the pace. That is the whole contract between the two.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass

import httpx
import jwt

from upbit_auth.auth import POCKET_EXTENSION
from upbit_client.registry import OPERATIONS
from upbit_client.rules import RateLimit

from . import reading
from .errors import KeyBlocked
from .ratelimit import Permit, RateLimiter, block_seconds, limiter_for
from .remaining_req import parse_date_header, parse_remaining_req
from .store import STORE_ENV

__all__ = ["Operation", "PacedTransport", "Pacer", "TransportPaced", "feed", "operations", "paced_by_transport"]


@dataclass(frozen=True, slots=True)
class Operation:
    """One generated operation: its HTTP method, path pattern and rate limit (None: the spec names none)."""

    method: str
    path: re.Pattern[str]
    rate_limit: RateLimit | None


def operations() -> list[Operation]:
    """Every operation of the generated registry (``upbit_client.registry.OPERATIONS``), its path as a pattern."""
    found: list[Operation] = []
    for row in OPERATIONS.values():
        # ``/v1/orders/{uuid}`` matches one path segment where the template has a parameter.
        pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(row.path)) + "$")
        found.append(Operation(row.method.upper(), pattern, row.rate_limit))
    return found


def _access_key_of(request: httpx.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return ""
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return ""
    key = claims.get("access_key")
    return key if isinstance(key, str) else ""


def feed(limiter: RateLimiter, permit: Permit, response: httpx.Response | None) -> None:
    """Tell ``limiter`` what came of the request sent with ``permit``: its answer (read whole if a 418), or None.

    The one place a single call's answer reaches the limiter: Remaining-Req, Date, a 429, and a 418's
    block (for as long as its message names, else the default)."""
    if response is None:
        limiter.record(permit, None)
        return
    limiter.record(
        permit,
        parse_remaining_req(response.headers.get("Remaining-Req")),
        rate_limited=response.status_code == 429,
        date=parse_date_header(response.headers.get("Date")),
    )
    if response.status_code == 418:
        message: str | None = None
        with contextlib.suppress(ValueError, KeyError, TypeError, IndexError, httpx.HTTPError):
            message = reading.load_json(response.content)["error"]["message"]
        limiter.block(block_seconds(message if isinstance(message, str) else None), "HTTP 418 from the exchange")


class Pacer:
    """Which limiter paces a request (``None``: none does), and its permit within a time."""

    def __init__(self, *, access_key: str | None, pocket: str | None, store: str | None) -> None:
        self.access_key = access_key
        self.pocket = pocket
        self.store = store if store is not None else os.environ.get(STORE_ENV)
        self._operations = operations()

    def rate_limit_for(self, request: httpx.Request) -> RateLimit | None:
        """The rate limit of the operation ``request`` calls, or None (unknown operation or no limit)."""
        path = request.url.path
        for operation in self._operations:
            if operation.method == request.method.upper() and operation.path.match(path):
                return operation.rate_limit
        return None

    def limiter(self, request: httpx.Request) -> RateLimiter | None:
        """The limiter of ``request``'s pocket and group; None inside ``reading.bounded`` (its caller paces)."""
        rate_limit = self.rate_limit_for(request) if reading.current() is None else None
        if rate_limit is None:
            return None
        key = self.access_key if self.access_key is not None else _access_key_of(request)
        named = request.extensions.get(POCKET_EXTENSION)
        pocket = self.pocket if self.pocket is not None else named if isinstance(named, str) else None
        return limiter_for(key, rate_limit, store=self.store, pocket=pocket)


def _no_permit(timeout: float | None) -> httpx.PoolTimeout:
    from .transport import sdk_error

    waited = "" if timeout is None else f" within {timeout:g}s"
    return sdk_error(httpx.PoolTimeout(f"no rate-limit permit{waited}"))


def permit_for(limiter: RateLimiter, timeout: float | None) -> Permit:
    """A permit of ``limiter`` within ``timeout``; ``KeyBlocked`` while blocked, a ``PoolTimeout`` if none came."""
    permit = limiter.acquire(timeout=timeout)
    if permit is None:
        raise _no_permit(timeout)
    return permit


async def permit_for_async(limiter: RateLimiter, timeout: float | None) -> Permit:
    """``permit_for`` for async callers."""
    permit = await limiter.acquire_async(timeout=timeout)
    if permit is None:
        raise _no_permit(timeout)
    return permit


class PacedTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Wraps a transport (default: httpx's own) so every request of a rate-limited operation is paced.

    For a bare generated ``Client`` (a ``connect()`` client paces by itself). The same object serves a
    sync and an async client (the generated ``Client`` hands ``httpx_args`` to both). ``timeout``
    bounds the wait for a permit (``httpx.PoolTimeout`` if none comes in time).
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        *,
        access_key: str | None = None,
        pocket: str | None = None,
        store: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        self._sync = transport if isinstance(transport, httpx.BaseTransport) else None
        self._async = transport if isinstance(transport, httpx.AsyncBaseTransport) else None
        self._custom = transport is not None
        self.pacer = Pacer(access_key=access_key, pocket=pocket, store=store)
        self.access_key = access_key
        self.pocket = pocket
        self.store = self.pacer.store
        self.timeout = timeout

    def rate_limit_for(self, request: httpx.Request) -> RateLimit | None:
        """The rate limit of the operation ``request`` calls, or None (unknown operation or no limit)."""
        return self.pacer.rate_limit_for(request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._sync is None:
            if self._custom:
                raise TypeError("PacedTransport wraps an async transport; use it with an async client")
            self._sync = httpx.HTTPTransport()
        limiter = self.pacer.limiter(request)
        if limiter is None:
            return self._sync.handle_request(request)
        permit = permit_for(limiter, self.timeout)
        try:
            response = self._sync.handle_request(request)
            if response.status_code == 418:
                response.read()
        except BaseException:
            feed(limiter, permit, None)
            raise
        feed(limiter, permit, response)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._async is None:
            if self._custom:
                raise TypeError("PacedTransport wraps a sync transport; use it with a sync client")
            self._async = httpx.AsyncHTTPTransport()
        limiter = self.pacer.limiter(request)
        if limiter is None:
            return await self._async.handle_async_request(request)
        permit = await permit_for_async(limiter, self.timeout)
        try:
            response = await self._async.handle_async_request(request)
            if response.status_code == 418:
                await response.aread()
        except BaseException:
            feed(limiter, permit, None)
            raise
        feed(limiter, permit, response)
        return response

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()


def paced_by_transport(http: httpx.Client | httpx.AsyncClient) -> PacedTransport | None:
    """Always None now: no transport paces a request sent inside ``reading.bounded`` (the batch's), so the
    batch paces its own requests whatever the client's transport. Kept for callers; to be removed."""
    del http
    return None


class TransportPaced(RateLimiter):
    """A limiter that takes no permit of its own and passes blocks on to ``paced`` (kept for callers;
    no longer used by the batch, see ``paced_by_transport``)."""

    def __init__(self, paced: RateLimiter) -> None:
        super().__init__(paced.group, paced.per_second, window_seconds=paced.window_seconds)
        self.paced = paced

    def try_acquire(self, backlog: int = 1) -> Permit | float:
        until = self.paced.blocked_until()
        if until is not None:
            raise KeyBlocked(self.group, until, "blocked (paced by the transport's limiter)")
        return Permit(time.time())

    def record(
        self, permit: Permit, remaining: object, *, rate_limited: bool = False, date: float | None = None
    ) -> None:
        permit.open = False

    def cancel(self, permit: Permit) -> None:
        permit.open = False

    def block(self, seconds: float | None, reason: str) -> float:
        return self.paced.block(seconds, reason)

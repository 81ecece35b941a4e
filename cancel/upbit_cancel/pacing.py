"""Pacing for single generated calls: an httpx transport that takes a permit before each request goes out.

A team that calls ``cancel_orders_by_ids.sync_detailed`` (or any generated operation) in its own loop
passes one ``PacedTransport`` to the generated ``Client``; every request then waits for the same
process-wide limiter the batch uses (``ratelimit.limiter_for``), so loops, batches and threads of one
process share one budget per access key and group, learn the exchange's second from the answers, and
stop at once when the key is blocked (``KeyBlocked`` is raised from the call, nothing is sent).

Rules, and why:

- The operation's rate-limit group comes from the spec, through the generated operation registry
  (``upbit_client.registry.OPERATIONS``: method, path, rate limit): a request whose method and path
  match no operation, or one without ``x-rate-limit``, goes out unpaced.
- The access key is read from the request's JWT (its ``access_key`` claim, without verifying: the
  transport sits below ``httpx.Auth``) unless given; nothing else of the token is used or kept.
- The pocket (whose one budget and 418 block every key of it shares) is ``pocket`` if given, else the
  one the client's ``UpbitAuth(pocket=...)`` names (it marks each request it signs), else the key's own.
- ``store`` (or ``UPBIT_RATE_LIMIT_STORE``) shares the budget with other processes, as in the batch.
- A batch (``cancel_orders``/``cancel_orders_async``) given a client built on a ``PacedTransport`` does
  not pace again (``paced_by_transport``): each request is paced once, here.
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

from .errors import KeyBlocked
from .ratelimit import Permit, RateLimiter, block_seconds, limiter_for
from .reading import load_json
from .remaining_req import parse_date_header, parse_remaining_req
from .store import STORE_ENV

__all__ = ["Operation", "PacedTransport", "TransportPaced", "operations", "paced_by_transport"]


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


class PacedTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Wraps a transport (default: httpx's own) so every request of a rate-limited operation is paced.

    The same object serves a sync and an async client (the generated ``Client`` hands ``httpx_args``
    to both). ``timeout`` bounds the wait for a permit (``httpx.PoolTimeout`` if none comes in time).
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
        self.access_key = access_key
        self.pocket = pocket
        self.store = store if store is not None else os.environ.get(STORE_ENV)
        self.timeout = timeout
        self._operations = operations()

    def rate_limit_for(self, request: httpx.Request) -> RateLimit | None:
        """The rate limit of the operation ``request`` calls, or None (unknown operation or no limit)."""
        path = request.url.path
        for operation in self._operations:
            if operation.method == request.method.upper() and operation.path.match(path):
                return operation.rate_limit
        return None

    def _limiter(self, request: httpx.Request) -> RateLimiter | None:
        rate_limit = self.rate_limit_for(request)
        if rate_limit is None:
            return None
        key = self.access_key if self.access_key is not None else _access_key_of(request)
        named = request.extensions.get(POCKET_EXTENSION)
        pocket = self.pocket if self.pocket is not None else named if isinstance(named, str) else None
        return limiter_for(key, rate_limit, store=self.store, pocket=pocket)

    @staticmethod
    def _record(limiter: RateLimiter, permit: Permit, response: httpx.Response | None) -> None:
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
            with contextlib.suppress(ValueError, KeyError, TypeError, IndexError):
                message = load_json(response.content)["error"]["message"]
            limiter.block(block_seconds(message if isinstance(message, str) else None), "HTTP 418 from the exchange")

    def _no_permit(self) -> httpx.PoolTimeout:
        return httpx.PoolTimeout(f"no rate-limit permit within {self.timeout:g}s")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._sync is None:
            if self._custom:
                raise TypeError("PacedTransport wraps an async transport; use it with an async client")
            self._sync = httpx.HTTPTransport()
        limiter = self._limiter(request)
        if limiter is None:
            return self._sync.handle_request(request)
        permit = limiter.acquire(timeout=self.timeout)
        if permit is None:
            raise self._no_permit()
        try:
            response = self._sync.handle_request(request)
            if response.status_code == 418:
                response.read()
        except BaseException:
            self._record(limiter, permit, None)
            raise
        self._record(limiter, permit, response)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._async is None:
            if self._custom:
                raise TypeError("PacedTransport wraps a sync transport; use it with a sync client")
            self._async = httpx.AsyncHTTPTransport()
        limiter = self._limiter(request)
        if limiter is None:
            return await self._async.handle_async_request(request)
        permit = await limiter.acquire_async(timeout=self.timeout)
        if permit is None:
            raise self._no_permit()
        try:
            response = await self._async.handle_async_request(request)
            if response.status_code == 418:
                await response.aread()
        except BaseException:
            self._record(limiter, permit, None)
            raise
        self._record(limiter, permit, response)
        return response

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()


def paced_by_transport(http: httpx.Client | httpx.AsyncClient) -> PacedTransport | None:
    """The ``PacedTransport`` under ``http``, if its requests are paced there (so a batch must not pace them again)."""
    transport = getattr(http, "_transport", None)
    return transport if isinstance(transport, PacedTransport) else None


class TransportPaced(RateLimiter):
    """A batch's limiter when the client's ``PacedTransport`` paces every request: permits cost nothing here.

    The transport takes the real permit (of ``paced``, the pocket's limiter) for each request and records
    its answer; this one only refuses to start while the pocket is blocked and passes a 418 on.
    """

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

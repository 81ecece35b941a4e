"""Pacing for single generated calls: a permit of the pocket's limiter before each request goes out.

``connect()``'s transport and a bare generated ``Client``'s ``PacedTransport`` both pace through a ``Pacer``, by
the rules of ``docs/pacing.md`` ("Single generated calls"): the operation (its rate-limit group) is the generated
registry's (``upbit_client.registry.OPERATIONS``) whose method and path match; the access key is read from the
request's JWT unless given; the pocket is ``pocket`` if given, else the one ``UpbitAuth(pocket=...)`` marks each
request it signs with, else the key's own; ``store`` (or ``UPBIT_RATE_LIMIT_STORE``) as in the batch. A request
sent inside ``reading.bounded`` (the batch's and the sweep's) is paced by its caller and never here: pacing twice
would halve the pace. That is the whole contract between the two.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import jwt

from upbit_auth.auth import POCKET_EXTENSION
from upbit_client.registry import OPERATIONS
from upbit_client.rules import RateLimit

from . import reading
from .answers import feed, from_response
from .ratelimit import Permit, RateLimiter, limiter_for
from .settings import STORE_ENV

__all__ = ["Operation", "PacedTransport", "Pacer", "Sent", "operations"]


@dataclass(frozen=True, slots=True)
class Operation:
    """One generated operation: its name (``OPERATIONS``' key), HTTP method, path pattern and rate limit
    (None: the spec names none)."""

    name: str
    method: str
    path: re.Pattern[str]
    rate_limit: RateLimit | None


def operations() -> list[Operation]:
    """Every operation of the generated registry (``upbit_client.registry.OPERATIONS``), its path as a pattern."""
    found: list[Operation] = []
    for name, row in OPERATIONS.items():
        # ``/v1/orders/{uuid}`` matches one path segment where the template has a parameter.
        pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(row.path)) + "$")
        found.append(Operation(name, row.method.upper(), pattern, row.rate_limit))
    return found


def _access_key_of(request: httpx.Request) -> str:
    """The ``access_key`` claim of the request's JWT, read without verifying (the transport sits below
    ``httpx.Auth``): nothing else of the token is used or kept."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return ""
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return ""
    key = claims.get("access_key")
    return key if isinstance(key, str) else ""


class Pacer:
    """Which limiter paces a request (``None``: none does), and its permit within a time."""

    def __init__(self, *, access_key: str | None, pocket: str | None, store: str | None) -> None:
        self.access_key = access_key
        self.pocket = pocket
        self.store: str | None = store if store is not None else os.environ.get(STORE_ENV)
        self._operations = operations()

    def operation_for(self, request: httpx.Request) -> Operation | None:
        """The operation ``request`` calls (its method and path), or None if it is none of the registry's."""
        path = request.url.path
        for operation in self._operations:
            if operation.method == request.method.upper() and operation.path.match(path):
                return operation
        return None

    def sent(self, request: httpx.Request, timeout: float | None) -> Sent:
        """``request``'s permit, waited for up to ``timeout``: ``KeyBlocked`` while its pocket is blocked, a
        ``PoolTimeout`` if none came."""
        limiter = self.limiter(request)
        return Sent(limiter, None if limiter is None else _permit(limiter.acquire(timeout=timeout), timeout))

    async def sent_async(self, request: httpx.Request, timeout: float | None) -> Sent:
        """``sent`` without blocking the event loop."""
        limiter = self.limiter(request)
        return Sent(limiter, None if limiter is None else _permit(await limiter.acquire_async(timeout), timeout))

    def limiter(self, request: httpx.Request) -> RateLimiter | None:
        """The limiter of ``request``'s pocket and group; None inside ``reading.bounded`` (its caller paces)."""
        operation = self.operation_for(request) if reading.current() is None else None
        if operation is None or operation.rate_limit is None:
            return None
        key = self.access_key if self.access_key is not None else _access_key_of(request)
        named = request.extensions.get(POCKET_EXTENSION)
        pocket = self.pocket if self.pocket is not None else named if isinstance(named, str) else None
        return limiter_for(key, operation.rate_limit, store=self.store, pocket=pocket)


@dataclass(slots=True, eq=False)
class Sent:
    """One request's permit of its limiter (None: not paced here), told once what came of it (``answers.feed``).

    Used as ``with sent: response = ...`` and then ``sent.heard(response)``: an exception out of the block
    closes the permit unheard (the request may have arrived). A 418's body is read before ``heard``
    (``wants_body``): its message says how long the pocket is blocked."""

    limiter: RateLimiter | None
    permit: Permit | None

    def __enter__(self) -> Sent:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None and self.limiter is not None and self.permit is not None:
            feed(self.limiter, self.permit, None)

    def wants_body(self, response: httpx.Response) -> bool:
        return self.permit is not None and response.status_code == 418

    def heard(self, response: httpx.Response) -> httpx.Response:
        if self.limiter is not None and self.permit is not None:
            feed(self.limiter, self.permit, from_response(response))
        return response


def _permit(permit: Permit | None, timeout: float | None) -> Permit:
    if permit is None:
        from .transport import sdk_error

        waited = "" if timeout is None else f" within {timeout:g}s"
        raise sdk_error(httpx.PoolTimeout(f"no rate-limit permit{waited}"))
    return permit


class BothWays(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A transport one sync and one async client may share: each side's inner transport is made on first
    use (or given), and closing closes the side that has one."""

    _sync: Any = None
    _async: Any = None

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()


class PacedTransport(BothWays):
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
        self.pacer: Pacer = Pacer(access_key=access_key, pocket=pocket, store=store)
        self.access_key = access_key
        self.pocket = pocket
        self.store: str | None = self.pacer.store
        self.timeout = timeout

    def rate_limit_for(self, request: httpx.Request) -> RateLimit | None:
        """The rate limit of the operation ``request`` calls, or None (unknown operation or no limit)."""
        operation = self.pacer.operation_for(request)
        return None if operation is None else operation.rate_limit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._sync is None:
            if self._custom:
                raise TypeError("PacedTransport wraps an async transport; use it with an async client")
            self._sync = httpx.HTTPTransport()
        with self.pacer.sent(request, self.timeout) as sent:
            response = self._sync.handle_request(request)
            if sent.wants_body(response):
                response.read()
        return sent.heard(response)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._async is None:
            if self._custom:
                raise TypeError("PacedTransport wraps a sync transport; use it with a sync client")
            self._async = httpx.AsyncHTTPTransport()
        with await self.pacer.sent_async(request, self.timeout) as sent:
            response = await self._async.handle_async_request(request)
            if sent.wants_body(response):
                await response.aread()
        return sent.heard(response)

"""A small fake exchange for the batch and rate-limit tests: httpx MockTransport handlers, sync and async.

It verifies what the real exchange verifies (JWT signature, fresh nonce, query hash), keeps orders
in memory, counts requests per whole wall-clock second and answers 429 beyond the budget, and can
be told to misbehave for the next requests (``faults``) to exercise the batch's retry rules.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import jwt

from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_client import Client

Process = Callable[[], httpx.Response]
Fault = Callable[[httpx.Request, Process], httpx.Response]
"""Given the request and a function that applies it normally, answer (or raise) some other way."""


def error(status: int, name: str, message: str, sec: int = 10) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"name": name, "message": message}},
        headers={"Remaining-Req": f"group=default; min=1800; sec={sec}"},
    )


def lose_answer_after_processing(exc: type[httpx.TransportError] = httpx.ReadTimeout) -> Fault:
    def fault(request: httpx.Request, process: Process) -> httpx.Response:
        process()
        raise exc("the answer was lost", request=request)

    return fault


def refuse_connection(request: httpx.Request, process: Process) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def answer(response: httpx.Response, *, process_first: bool = False) -> Fault:
    def fault(request: httpx.Request, process: Process) -> httpx.Response:
        if process_first:
            process()
        # A fresh copy each time: httpx binds a response's stream to the client that read it.
        return httpx.Response(response.status_code, content=response.content, headers=response.headers)

    return fault


@dataclass
class Sent:
    kind: str
    ids: list[str]
    nonce: str
    status: int
    at: float


@dataclass
class FakeExchange:
    per_second: int = 30
    delay: float = 0.0
    """Seconds each async request takes (the sync handler answers at once)."""
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: deque[Fault] = field(default_factory=deque)
    sent: list[Sent] = field(default_factory=list)
    windows: Counter[int] = field(default_factory=Counter)
    nonces: set[str] = field(default_factory=set)

    def add(self, uuid: str, *, state: str = "wait", market: str = "KRW-BTC", identifier: str | None = None) -> None:
        self.orders[uuid] = {"uuid": uuid, "market": market, "identifier": identifier, "state": state}

    def add_many(self, count: int, prefix: str = "order") -> list[str]:
        uuids = [f"{prefix}-{index:05d}" for index in range(count)]
        for uuid in uuids:
            self.add(uuid, identifier=f"id-{uuid}")
        return uuids

    @property
    def statuses(self) -> list[int]:
        return [sent.status for sent in self.sent]

    # -- handlers ---------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self._handle(request)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        # Counted on arrival, like the exchange; the round trip happens after.
        try:
            response = self._handle(request)
        except httpx.TransportError:
            await asyncio.sleep(self.delay)
            raise
        await asyncio.sleep(self.delay)
        return response

    def client(self, auth: UpbitAuth | None = None) -> Client:
        auth = auth or UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
        return Client(
            base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": httpx.MockTransport(self)}
        )

    def async_client(self, auth: UpbitAuth | None = None) -> Client:
        auth = auth or UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
        return Client(
            base_url="https://api.upbit.com",
            httpx_args={"auth": auth, "transport": httpx.MockTransport(self.handle_async)},
        )

    # -- the exchange -----------------------------------------------------------------------

    def _handle(self, request: httpx.Request) -> httpx.Response:
        pairs = parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
        kind = "uuids" if any(key == "uuids[]" for key, _ in pairs) else "identifiers"
        ids = [value for _, value in pairs]
        claims = self._claims(request)
        record = Sent(kind, ids, str(claims.get("nonce")), 0, time.time())
        self.sent.append(record)
        response = self._verify(request, claims)
        if response is None:
            window = math.floor(time.time())
            self.windows[window] += 1
            left = self.per_second - self.windows[window]
            if left < 0:
                response = error(429, "too_many_requests", "Too many requests.", sec=0)
            else:

                def process() -> httpx.Response:
                    return self._cancel(kind, ids, left)

                if self.faults:
                    fault = self.faults.popleft()
                    try:
                        response = fault(request, process)
                    except httpx.TransportError:
                        record.status = -1
                        raise
                else:
                    response = process()
        record.status = response.status_code
        return response

    def _claims(self, request: httpx.Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer":
            return {}
        try:
            claims: dict[str, Any] = jwt.decode(token, TEST_SECRET_KEY, algorithms=["HS512", "HS256"])
        except jwt.PyJWTError:
            return {}
        return claims

    def _verify(self, request: httpx.Request, claims: dict[str, Any]) -> httpx.Response | None:
        if not claims:
            return error(401, "jwt_verification", "Failed to verify the JWT token.")
        if claims.get("nonce") in self.nonces:
            return error(401, "nonce_used", "This nonce has already been used.")
        self.nonces.add(str(claims.get("nonce")))
        expected = hashlib.sha512(unquote(request.url.query.decode("ascii")).encode()).hexdigest()
        if claims.get("query_hash") != expected:
            return error(401, "invalid_query_payload", "Failed to verify the query hash.")
        return None

    def _cancel(self, kind: str, ids: list[str], left: int) -> httpx.Response:
        success: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for order_id in ids:
            order = self._find(kind, order_id)
            if order is None:
                continue  # unknown ids are simply not listed
            public = {key: order[key] for key in ("uuid", "market", "identifier")}
            if order["state"] == "wait":
                order["state"] = "cancel"
                success.append(public)
            else:
                failed.append(public)
        body = {
            "success": {"count": len(success), "orders": success},
            "failed": {"count": len(failed), "orders": failed},
        }
        return httpx.Response(
            200, content=json.dumps(body).encode(), headers={"Remaining-Req": f"group=default; min=1800; sec={left}"}
        )

    def _find(self, kind: str, order_id: str) -> dict[str, Any] | None:
        if kind == "uuids":
            return self.orders.get(order_id)
        return next((order for order in self.orders.values() if order["identifier"] == order_id), None)


class FakeClock:
    """A wall clock for limiter tests: sleeping moves it forward instantly."""

    def __init__(self, start: float = 1_000_000.25) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        # Rounded so that sleeping "to the boundary" lands on it, as a real clock would pass it.
        self.now = round(self.now + seconds, 9)

    async def async_sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        # Rounded so that sleeping "to the boundary" lands on it, as a real clock would pass it.
        self.now = round(self.now + seconds, 9)

"""Shared fixtures: a recording MockTransport and a generated client signed by UpbitAuth."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.faults import FaultServer
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel.ratelimit import reset_limiters
from upbit_client import Client
from upbit_sandbox import SandboxExchange

OK_BODY = {"success": {"count": 0, "orders": []}, "failed": {"count": 0, "orders": []}}


@dataclass
class Recorder:
    """An httpx MockTransport handler that records every request and answers with ``reply``."""

    requests: list[httpx.Request] = field(default_factory=list)
    reply: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(200, json=OK_BODY)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


@pytest.fixture(autouse=True)
def fresh_limiters() -> Iterator[None]:
    """Every test starts and ends with no shared limiter: budgets and blocks never leak between tests."""
    reset_limiters()
    yield
    reset_limiters()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def auth() -> UpbitAuth:
    return UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)


@pytest.fixture
def client(recorder: Recorder, auth: UpbitAuth) -> Iterator[Client]:
    with Client(
        base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": recorder.transport()}
    ) as client:
        yield client


UPBIT_VARIABLES = (
    "UPBIT_OPEN_API_ACCESS_KEY",
    "UPBIT_OPEN_API_SECRET_KEY",
    "UPBIT_OPEN_API_SERVER_URL",
    "UPBIT_ACCESS_KEY",
    "UPBIT_SECRET_KEY",
    "UPBIT_BASE_URL",
)


def set_upbit_env(monkeypatch: pytest.MonkeyPatch, access_key: str, secret_key: str) -> None:
    """Only these keys in the environment: none of the developer's own Upbit variables leak into a test."""
    for name in UPBIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UPBIT_OPEN_API_ACCESS_KEY", access_key)
    monkeypatch.setenv("UPBIT_OPEN_API_SECRET_KEY", secret_key)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The test keys in the environment, for tests of the command."""
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, TEST_SECRET_KEY)
    yield monkeypatch


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(script, backend)`` starts a loopback ``FaultServer``; every one is stopped after the test."""
    servers: list[FaultServer] = []

    def start(script: Any, backend: SandboxExchange | None = None) -> FaultServer:
        server = FaultServer(script, backend=backend).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def new_exchange(count: int) -> tuple[SandboxExchange, list[str]]:
    """A sandbox that knows the test keys, with no rate limit, holding ``count`` open orders."""
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    return exchange, [exchange.add_order(str(uuid.uuid4())).uuid for _ in range(count)]


def json_body(request: httpx.Request) -> object:
    return json.loads(request.content) if request.content else None

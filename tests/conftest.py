"""Shared fixtures: a recording MockTransport and a generated client signed by UpbitAuth."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from upbit_auth import UpbitAuth
from upbit_client import Client

TEST_ACCESS_KEY = "test-access-key-0123456789"
TEST_SECRET_KEY = "test-secret-KEEP-OUT-OF-LOGS-0123456789abcdef"

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


def json_body(request: httpx.Request) -> object:
    return json.loads(request.content) if request.content else None

"""One place tells a limiter what came of a request (``answers.feed``), whichever path sent it.

The batch, the sweep's listings, ``connect()``'s transport and ``PacedTransport`` all close their permits
through it: a 418 blocks the pocket for as long as its message says, under the name Upbit gave it.
"""

from __future__ import annotations

import ast
import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel import cancel_orders, connect
from upbit_cancel.pacing import PacedTransport
from upbit_cancel.ratelimit import KeyBlocked
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids

PACKAGE = Path(__file__).resolve().parents[1] / "cancel" / "upbit_cancel"
# The limiter and its stores define ``record``/``block``; every other module may only reach them through feed.
LIMITER_ITSELF = {"ratelimit.py", "window_log.py", "store.py", "memory_store.py", "redis_store.py"}


def blocked_for_a_minute(request: httpx.Request) -> httpx.Response:
    body = {"error": {"name": "too_many_requests_blocked", "message": "Blocked for 60 seconds."}}
    return httpx.Response(418, content=json.dumps(body).encode())


def test_only_answers_feed_tells_a_limiter_what_came_of_a_request() -> None:
    callers = set()
    for path in PACKAGE.glob("*.py"):
        if path.name in LIMITER_ITSELF:
            continue
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"record", "block"}
                ):
                    callers.add(f"{path.name}:{function.name}")
    assert callers == {"answers.py:feed"}


def signed(transport: httpx.BaseTransport | httpx.AsyncBaseTransport) -> Client:
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    return Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": transport})


def single_call_sync(transport: httpx.MockTransport) -> None:
    with signed(PacedTransport(transport)) as client:
        cancel_orders_by_ids.sync_detailed(client=client, uuids=["a"])
        cancel_orders_by_ids.sync_detailed(client=client, uuids=["b"])


def single_call_async(transport: httpx.MockTransport) -> None:
    async def go() -> None:
        async with signed(PacedTransport(transport)) as client:
            await cancel_orders_by_ids.asyncio_detailed(client=client, uuids=["a"])
            await cancel_orders_by_ids.asyncio_detailed(client=client, uuids=["b"])

    asyncio.run(go())


def connect_call(transport: httpx.MockTransport) -> None:
    with connect(
        "https://api.upbit.com",
        access_key=TEST_ACCESS_KEY,
        secret_key=TEST_SECRET_KEY,
        httpx_args={"transport": transport},
    ) as client:
        cancel_orders_by_ids.sync_detailed(client=client, uuids=["a"])
        cancel_orders_by_ids.sync_detailed(client=client, uuids=["b"])


def batch_then_call(transport: httpx.MockTransport) -> None:
    with signed(transport) as client:
        assert cancel_orders(client, uuids=["a"], max_tries=1).blocked is not None
    single_call_sync(transport)


@pytest.mark.parametrize("send", [single_call_sync, single_call_async, connect_call, batch_then_call])
def test_a_418_blocks_the_pocket_by_upbits_name_for_as_long_as_it_says_on_every_path(send: object) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return blocked_for_a_minute(request)

    started = time.time()
    with pytest.raises(KeyBlocked) as raised:
        send(httpx.MockTransport(answer))  # type: ignore[operator]
    assert len(seen) == 1
    assert raised.value.reason == "too_many_requests_blocked"
    assert started + 55 <= raised.value.until <= time.time() + 65

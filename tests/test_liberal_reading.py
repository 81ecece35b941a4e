"""A 200 is the exchange saying what it did: the batch keeps every order it names, whatever is missing.

Guarantee under test (docs/guarantees.md, "Read what the exchange sends"): a missing, null or extra
field never turns a 200 into an error; orders are matched by the id kind sent; an order reported
cancelled is never downgraded; only a body that is not a JSON object at the top is an invalid answer.

Each case lets the sandbox carry the cancel out (one open order, one filled, one unknown), then hands
the batch the answer of the table instead of the sandbox's. The confirm phase then settles what the
answer left open, so the expected outcome is what a trader needs to see.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.faults import FaultyExchange, replace_answer
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel import BatchResult, cancel_orders, cancel_orders_async
from upbit_cancel.ratelimit import RateLimiter
from upbit_sandbox import SandboxExchange

OPEN, FILLED, UNKNOWN = "open-0001", "filled-0001", "unknown-0001"
IDS = [OPEN, FILLED, UNKNOWN]


def entry(order_id: str, market: str | None = "KRW-BTC", **extra: Any) -> dict[str, Any]:
    return {"uuid": order_id, "market": market, "identifier": None, **extra}


def group(*orders: dict[str, Any], count: int | None = None) -> dict[str, Any]:
    return {"count": len(orders) if count is None else count, "orders": list(orders)}


UNKNOWN_NULL = {"uuid": UNKNOWN, "market": None, "identifier": None}
AS_DOCUMENTED = {"success": group(entry(OPEN)), "failed": group(entry(FILLED), UNKNOWN_NULL)}
SETTLED = {OPEN: "success:answer", FILLED: "failed:filled", UNKNOWN: "failed:not_found"}
LOOKED_UP = {OPEN: "success:lookup", FILLED: "failed:filled", UNKNOWN: "failed:not_found"}

# (the 200's body, or raw bytes; the outcome of each id after the batch)
CASES: dict[str, tuple[Any, dict[str, str]]] = {
    "as-documented": (AS_DOCUMENTED, SETTLED),
    "market-null": ({"success": group(entry(OPEN)), "failed": group(entry(FILLED), UNKNOWN_NULL)}, SETTLED),
    "market-missing": ({"success": group(entry(OPEN)), "failed": group(entry(FILLED), {"uuid": UNKNOWN})}, SETTLED),
    "identifier-missing": (
        {"success": group({"uuid": OPEN, "market": "KRW-BTC"}), "failed": group({"uuid": FILLED}, {"uuid": UNKNOWN})},
        SETTLED,
    ),
    "extra-fields": (
        {
            "success": {**group(entry(OPEN, side="bid", note={"x": 1})), "page": 1},
            "failed": group(entry(FILLED, reason="done"), UNKNOWN_NULL),
            "request_id": "abc",
        },
        SETTLED,
    ),
    "success-missing": ({"failed": group(entry(FILLED), UNKNOWN_NULL)}, LOOKED_UP),
    "success-null": ({"success": None, "failed": group(entry(FILLED), UNKNOWN_NULL)}, LOOKED_UP),
    "failed-missing": ({"success": group(entry(OPEN))}, SETTLED),
    "count-disagrees": (
        {"success": group(entry(OPEN), count=7), "failed": group(entry(FILLED), UNKNOWN_NULL, count=0)},
        SETTLED,
    ),
    "unasked-entry": (
        {"success": group(entry(OPEN), entry("someone-else")), "failed": group(entry(FILLED), UNKNOWN_NULL)},
        SETTLED,
    ),
    "empty-object": ({}, LOOKED_UP),
    "array": ([entry(OPEN)], LOOKED_UP),
    "html": (b"<html><body>200 OK from a proxy</body></html>", LOOKED_UP),
}  # fmt: skip


def outcomes(result: BatchResult) -> dict[str, str]:
    found: dict[str, str] = {}
    for order in result.success:
        assert order.uuid is not None
        found[order.uuid] = f"success:{order.confirmed_by}"
    for order in result.failed:
        assert order.uuid is not None
        found[order.uuid] = f"failed:{order.reason}"
    for unconfirmed in result.unconfirmed:
        found[unconfirmed.id] = f"unconfirmed:{unconfirmed.error.name}"
    for not_sent in result.not_sent:
        found[not_sent.id] = "not_sent"
    return found


def exchange_with_three_orders() -> FaultyExchange:
    sandbox = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    sandbox.add_order(OPEN)
    sandbox.add_order(FILLED, state="done")
    return FaultyExchange(sandbox, cancels_only=True)


def run(mode: str, exchange: FaultyExchange, **options: Any) -> BatchResult:
    options.setdefault("limiter", RateLimiter("default", None))
    client = exchange.client(UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY))
    if mode == "sync":
        with client:
            return cancel_orders(client, **options)  # type: ignore[no-any-return]

    async def go() -> BatchResult:
        async with client:
            return await cancel_orders_async(client, **options)

    return asyncio.run(go())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("body", "expected"), list(CASES.values()), ids=list(CASES))
def test_every_order_a_200_names_is_kept_whatever_fields_are_missing(
    mode: str, body: Any, expected: dict[str, str]
) -> None:
    exchange = exchange_with_three_orders()
    content = body if isinstance(body, bytes) else None
    answer = httpx.Response(200, content=content) if content is not None else httpx.Response(200, json=body)
    exchange.faults.append(replace_answer(answer, process_first=True))
    result = run(mode, exchange, uuids=IDS)
    assert outcomes(result) == expected
    assert len(result.success) + len(result.failed) + len(result.unconfirmed) + len(result.not_sent) == 3
    # The sandbox did cancel the open order: whatever the answer looked like, the report never says otherwise.
    assert exchange.exchange.order(OPEN).state == "cancel"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_without_confirmation_an_answer_not_an_object_leaves_the_chunk_unconfirmed(mode: str) -> None:
    exchange = exchange_with_three_orders()
    exchange.faults.append(replace_answer(httpx.Response(200, json=[entry(OPEN)]), process_first=True))
    result = run(mode, exchange, uuids=IDS, confirm=False)
    assert outcomes(result) == dict.fromkeys(IDS, "unconfirmed:invalid_response")
    assert [sent.method for sent in exchange.sent] == ["DELETE"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_by_identifiers_an_unknown_one_answered_with_null_uuid_is_matched_by_identifier(mode: str) -> None:
    sandbox = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    sandbox.add_order("u-open", identifier="mine-open")
    sandbox.add_order("u-filled", identifier="mine-filled", state="done")
    exchange = FaultyExchange(sandbox)
    result = run(mode, exchange, identifiers=["mine-open", "mine-filled", "mine-unknown"])
    assert [(o.identifier, o.uuid, o.confirmed_by) for o in result.success] == [("mine-open", "u-open", "answer")]
    assert [(o.identifier, o.uuid, o.reason) for o in result.failed] == [
        ("mine-filled", "u-filled", "filled"),
        ("mine-unknown", None, "not_found"),
    ]
    assert not result.unconfirmed and not result.not_sent

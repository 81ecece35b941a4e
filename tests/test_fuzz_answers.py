"""A fuzz pass over what the exchange sends: whatever the status, headers and body, only ever a report.

Guarantee under test (docs/guarantees.md, "Whatever the exchange sends, a report"): hypothesis draws
answers (any status from 100 to 999, readable and unreadable ``Remaining-Req``/``Date``/``Content-Type``,
bodies that are the documented shape with odd values, any JSON, JSON nested up to 20,000 deep, bytes that are
not UTF-8, a body past 1 MiB) and serves them through an ``httpx.MockTransport``: the generated call returns or
raises one of the SDK's own errors; the batch, sync and async, cancel and confirm phase, returns a report
naming every id exactly once. Well over 500 examples in all; each is one in-process request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults import assert_every_id_once
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel import BatchResult, cancel_orders, cancel_orders_async
from upbit_cancel.ratelimit import RateLimiter
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.errors import UpbitClientError

IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(7)]


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
an_id = st.sampled_from(IDS) | st.text(max_size=40) | st.integers() | st.none()
order = st.fixed_dictionaries(
    {},
    optional={"uuid": an_id, "identifier": an_id, "market": st.text(max_size=10) | st.none(), "state": json_values},
)
group = st.none() | json_values | st.fixed_dictionaries({}, optional={"count": json_values, "orders": st.lists(order)})
cancel_shape = st.fixed_dictionaries({}, optional={"success": group, "failed": group}).map(json.dumps)
error_shape = st.fixed_dictionaries(
    {"error": st.fixed_dictionaries({}, optional={"name": json_values, "message": json_values})}
).map(json.dumps)
deep = st.integers(min_value=500, max_value=20_000).map(lambda depth: "[" * depth + "]" * depth)
deep_error = deep.map(lambda nested: '{"error": {"name": "blocked", "message": ' + nested + "}}")
lookup_shape = st.lists(order).map(json.dumps)
bodies = st.one_of(
    cancel_shape,
    error_shape,
    lookup_shape,
    json_values.map(json.dumps),
    deep,
    deep_error,
    st.binary(max_size=200),
    st.just(" " * 1_200_000 + "{}"),
    st.text(max_size=50),
).map(lambda body: body if isinstance(body, bytes) else body.encode("utf-8"))
statuses = st.sampled_from([200, 200, 200, 400, 401, 403, 404, 418, 429, 500, 502, 503]) | st.integers(100, 999)
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Remaining-Req": header_text
        | st.integers(min_value=0).map(lambda n: f"group=default; min=1800; sec={n}")
        | st.integers(1, 6000).map(lambda n: "group=default; sec=" + "9" * n),
        "Date": header_text | st.just("Mon, 01 Jan 99999999999 00:00:00 GMT"),
        "Content-Type": header_text,
    },
)


class Answer:
    """One drawn answer, served for every request."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]
        return httpx.Response(self.status, headers=raw, content=self.body)


answers = st.builds(Answer, statuses, headers, bodies)


def client(transport: httpx.MockTransport) -> Client:
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    return Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": transport})


def then_lookup(answer: Answer) -> httpx.MockTransport:
    """The cancel's answer is lost (a 500), so the confirm phase asks, and the lookup gets ``answer``."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(500, json={"error": {"name": "server_error", "message": "lost"}})
        return answer(request)

    return httpx.MockTransport(handle)


def sync_batch(transport: httpx.MockTransport, *, confirm: bool, max_tries: int = 1) -> BatchResult:
    with client(transport) as http:
        return cancel_orders(
            http, uuids=IDS, limiter=RateLimiter("default", None), confirm=confirm, max_tries=max_tries
        )


@fuzz(300)
@given(answers)
def test_any_cancel_answer_gives_a_report_with_every_id_once(answer: Answer) -> None:
    assert_every_id_once(sync_batch(httpx.MockTransport(answer), confirm=False), IDS)


@fuzz(150)
@given(answers)
def test_any_lookup_answer_gives_a_report_with_every_id_once(answer: Answer) -> None:
    result = sync_batch(then_lookup(answer), confirm=True, max_tries=1)
    assert_every_id_once(result, IDS)
    assert result.lookups_sent == 1


@fuzz(100)
@given(answers, st.booleans())
def test_any_answer_gives_the_async_batch_a_report_with_every_id_once(answer: Answer, lookup: bool) -> None:
    transport = then_lookup(answer) if lookup else httpx.MockTransport(answer)

    async def go() -> BatchResult:
        async with client(transport) as http:
            return await cancel_orders_async(
                http, uuids=IDS, limiter=RateLimiter("default", None), confirm=lookup, max_tries=1
            )

    assert_every_id_once(asyncio.run(go()), IDS)


@fuzz(150)
@given(answers)
def test_the_generated_call_returns_or_raises_one_of_the_sdks_errors(answer: Answer) -> None:
    with client(httpx.MockTransport(answer)) as http:
        try:
            response: Any = cancel_orders_by_ids.sync_detailed(client=http, uuids=IDS[:2])
        except UpbitClientError:
            return
    assert response.status_code == answer.status

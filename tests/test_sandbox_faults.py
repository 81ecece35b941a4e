"""The sandbox's public fault API: the next N answers misbehave on demand, and the request log says how.

Requests are signed from the rules (``tests/sandbox_support.py``) or by the SDK through ``connect``;
every fault is checked for what the exchange did (the book), what the client got, and what the log says.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import anyio
import httpx
import pytest

from tests.sandbox_support import signed_call, wire_query
from upbit_auth import UpbitAuth
from upbit_cancel import cancel_orders, cancel_orders_async, connect
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, ENDPOINT_PATH, LOOKUP_PATH, SandboxExchange, running_server
from upbit_sandbox.faults import FaultPlan


@pytest.fixture
def book() -> SandboxExchange:
    exchange = SandboxExchange(rate_limit_per_second=None)
    for label in ("a", "b", "c"):
        exchange.add_order(f"u-{label}", identifier=label)
    return exchange


def cancel(book: SandboxExchange, *labels: str) -> tuple[int | None, str | None]:
    answer = signed_call(book, wire_query("identifiers", list(labels)))
    return (None, None) if answer.drop_answer else (answer.status, answer.error_name)


def client_of(exchange: SandboxExchange) -> Client:
    transport = exchange.transport()
    return connect("https://api.upbit.com", access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY,
                   httpx_args={"transport": transport})  # fmt: skip


@pytest.mark.parametrize(
    ("queue", "answer"),
    [
        (lambda plan: plan.too_many_requests(), (429, "too_many_requests")),
        (lambda plan: plan.blocked(seconds=90), (418, "too_many_requests_blocked")),
        (lambda plan: plan.server_error(), (500, "server_error")),
        (lambda plan: plan.reset(), (None, None)),
    ],
    ids=["429", "418", "500", "reset"],
)
def test_a_refusing_fault_answers_instead_of_acting_for_exactly_the_next_request(
    book: SandboxExchange, queue: object, answer: tuple[int | None, str | None]
) -> None:
    assert callable(queue)
    queue(book.faults)
    assert cancel(book, "a") == answer
    assert book.order("u-a").state == "wait"
    assert cancel(book, "a") == (200, None)  # the fault was for one request only
    assert book.order("u-a").state == "cancel"
    first, second = book.requests
    assert (first.status, first.error_name) == answer
    assert first.fault == {429: "too_many_requests", 418: "blocked", 500: "server_error", None: "reset"}[answer[0]]
    assert (second.status, second.fault) == (200, None)


def test_the_418_fault_names_its_block_time_and_the_sdk_honours_it(book: SandboxExchange) -> None:
    book.faults.blocked(seconds=90)
    answer = signed_call(book, wire_query("identifiers", ["a"]))
    assert answer.body["error"]["message"].endswith("Blocked for 90 seconds.")
    book.faults.blocked(seconds=90)
    with client_of(book) as client:
        report = cancel_orders(client, identifiers=["b", "c"])
    assert report.blocked is not None and report.blocked.status == 418
    assert not report.success and book.order("u-b").state == "wait"
    assert [record.status for record in book.requests] == [418, 418]  # nothing sent after the block, no lookup


def test_a_lost_answer_is_carried_out_and_logged_without_a_status(book: SandboxExchange) -> None:
    book.faults.lose_answer()
    with httpx.Client(transport=book.transport(), base_url="https://api.upbit.com") as http:
        query = wire_query("identifiers", ["a"])
        request = http.build_request("DELETE", f"{ENDPOINT_PATH}?{query}")
        request.headers.update(signed_headers(query))
        with pytest.raises(httpx.RemoteProtocolError):
            http.send(request)
    assert book.order("u-a").state == "cancel"
    (record,) = book.requests
    assert (record.status, record.error_name, record.fault) == (None, None, "lost_answer")


def signed_headers(query: str) -> dict[str, str]:
    from tests.sandbox_support import bearer, make_token

    return bearer(make_token(query))


def test_drop_answer_every_is_logged_as_a_lost_answer_not_as_200() -> None:
    book = SandboxExchange(drop_answer_every=2)
    book.add_order("u-a", identifier="a")
    book.add_order("u-b", identifier="b")
    signed_call(book, wire_query("identifiers", ["a"]))
    signed_call(book, wire_query("identifiers", ["b"]))
    assert [(record.status, record.fault) for record in book.requests] == [(200, None), (None, "lost_answer")]


def test_the_sdk_settles_a_lost_answer_through_the_lookup(book: SandboxExchange) -> None:
    book.faults.lose_answer(only="cancel_orders_by_ids")
    with client_of(book) as client:
        report = cancel_orders(client, identifiers=["a", "b"])
    assert [(order.identifier, order.confirmed_by) for order in report.success] == [("a", "lookup"), ("b", "lookup")]
    assert [record.fault for record in book.requests if record.fault] == ["lost_answer"]


def test_a_reset_over_loopback_closes_the_connection_and_acts_on_nothing(book: SandboxExchange) -> None:
    book.faults.reset()
    query = wire_query("identifiers", ["a"])
    with running_server(book) as url, httpx.Client(base_url=url) as http, pytest.raises(httpx.RemoteProtocolError):
        http.delete(f"{ENDPOINT_PATH}?{query}", headers=signed_headers(query))
    assert book.order("u-a").state == "wait"
    assert [(record.status, record.fault) for record in book.requests] == [(None, "reset")]


def test_latency_holds_the_answer_back_in_the_sync_and_async_transports(
    book: SandboxExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    # Only the transport's clock is replaced: the SDK's own pacing and worker threads keep the real one.
    monkeypatch.setattr("upbit_sandbox.transport.time", SimpleNamespace(sleep=slept.append))

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("upbit_sandbox.transport.anyio", SimpleNamespace(sleep=no_wait))
    book.faults.latency(0.25, times=2)
    with client_of(book) as client:
        assert cancel_orders(client, identifiers=["a"], confirm=False).all_cancelled
    assert asyncio.run(cancel_orders_async(client_of(book), identifiers=["b"], confirm=False)).all_cancelled
    assert slept == [0.25, 0.25]
    assert [(record.status, record.fault) for record in book.requests] == [(200, "latency"), (200, "latency")]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_latency_fault_holds_an_async_answer_back_without_blocking_the_event_loop(
    book: SandboxExchange, backend: str
) -> None:
    """On asyncio and on trio (``anyio.run`` with each backend: pytest-asyncio's auto mode would run an
    anyio-marked test on asyncio only). A ticker beside the call proves the loop kept running while the
    answer was held back: a sleep that blocked it (``time.sleep``) would let it tick at most once, and one
    that assumed asyncio would raise under trio."""
    latency = 0.3
    book.faults.latency(latency)
    auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    client = Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": book.transport()})
    ticks: list[float] = []

    async def call_beside_a_ticker() -> tuple[int, float]:
        done = anyio.Event()

        async def tick() -> None:
            while not done.is_set():
                ticks.append(anyio.current_time())
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tasks, client.get_async_httpx_client():
            tasks.start_soon(tick)
            started = anyio.current_time()
            response = await cancel_orders_by_ids.asyncio_detailed(client=client, identifiers=["a"])
            done.set()
            return int(response.status_code), anyio.current_time() - started

    status, took = anyio.run(call_beside_a_ticker, backend=backend)
    assert status == 200 and book.order("u-a").state == "cancel"
    assert took >= 0.9 * latency  # held back; the bound below the latency allows for the loop's clock resolution
    assert len(ticks) >= 3, f"the loop ticked {len(ticks)} times in {took:.3f} s: the latency blocked it"
    assert [(record.status, record.fault) for record in book.requests] == [(200, "latency")]


def test_faults_apply_in_order_only_to_their_operation_and_only_to_authenticated_requests(
    book: SandboxExchange,
) -> None:
    book.faults.server_error(only="list_orders_by_ids")
    book.faults.too_many_requests(times=2)
    unsigned = book.handle("DELETE", f"{ENDPOINT_PATH}?{wire_query('identifiers', ['a'])}", {}, b"")
    assert unsigned.error_name == "no_authorization_token"  # a fault never hides a signing error
    assert cancel(book, "a") == (429, "too_many_requests")
    lookup = signed_call(book, wire_query("identifiers", ["a"]), method="GET", path=LOOKUP_PATH)
    assert (lookup.status, lookup.error_name) == (500, "server_error")
    assert cancel(book, "a") == (429, "too_many_requests")
    assert book.faults.pending == []
    assert cancel(book, "a") == (200, None)


def test_faults_can_be_listed_and_cleared(book: SandboxExchange) -> None:
    book.faults.reset(times=3)
    assert [fault.kind for fault in book.faults.pending] == ["reset"] * 3
    book.faults.clear()
    assert cancel(book, "a") == (200, None)


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        (lambda plan: plan.reset(times=0), "times must be a whole number >= 1; given: 0"),
        (lambda plan: plan.blocked(seconds=0), "seconds must be > 0; given: 0"),
        (lambda plan: plan.latency(-1.0), "seconds must be >= 0; given: -1.0"),
        (lambda plan: plan.server_error(only="cancel_order"), "given: 'cancel_order'"),
    ],
)
def test_a_bad_fault_is_refused_naming_what_was_given(queue: object, message: str) -> None:
    plan = SandboxExchange().faults
    assert isinstance(plan, FaultPlan) and callable(queue)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        queue(plan)
    assert plan.pending == []


def test_a_client_that_hangs_up_before_a_late_answer_prints_no_traceback_from_the_server(
    book: SandboxExchange, capsys: pytest.CaptureFixture[str]
) -> None:
    # A cancelled batch hangs up on the requests it had in flight: that is no error of the exchange.
    book.faults.latency(0.3)
    query = wire_query("identifiers", ["a"])
    with running_server(book) as url:
        with httpx.Client(base_url=url) as http, pytest.raises(httpx.ReadTimeout):
            http.delete(f"{ENDPOINT_PATH}?{query}", headers=signed_headers(query), timeout=0.05)
        deadline = time.monotonic() + 5
        while not book.requests and time.monotonic() < deadline:
            time.sleep(0.02)  # the answer is written (into the closed connection) after the latency
        time.sleep(0.3)
    assert [(record.status, record.fault) for record in book.requests] == [(200, "latency")]
    assert "Traceback" not in capsys.readouterr().err

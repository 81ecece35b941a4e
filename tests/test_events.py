"""Per-request events (``upbit_cancel.events``): what ``connect(on_event=...)``'s hook is told, and when.

Rules under test (docs/hooks.md): every request a ``connect()`` client sends, whoever sends it (the batch's
cancels and lookups, the sweep's listings, single generated calls), tells ``RequestSent`` and then
``RequestAnswered`` (with ``RequestRateLimited`` for a 429, ``RequestBlocked`` for a 418) or ``RequestFailed``;
the batch tells ``RequestRetried`` and ``LookupConfirmed``; the same events sync, on asyncio and on trio;
a hook that raises is logged on ``upbit_cancel.events`` and ignored; hooks run on the thread that sent.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Iterator

import httpx
import pytest
import sniffio

from tests.limits import IDENTIFIERS_PER_CANCEL
from upbit_cancel import (
    BatchResult,
    ConfigurationError,
    Event,
    LookupConfirmed,
    RequestAnswered,
    RequestBlocked,
    RequestFailed,
    RequestRateLimited,
    RequestRetried,
    RequestSent,
    cancel_open_orders,
    cancel_orders,
    cancel_orders_async,
    connect,
    reset_pacing,
)
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange

CANCEL = "cancel_orders_by_ids"
LOOKUP = "list_orders_by_ids"


@pytest.fixture(autouse=True)
def no_pacing_left() -> Iterator[None]:
    reset_pacing()  # a 418 blocks the pocket process-wide: never into the next test
    yield
    reset_pacing()


def exchange() -> SandboxExchange:
    found = SandboxExchange()
    found.seed_demo_orders()
    return found


def client_of(sandbox: SandboxExchange, events: list[Event]) -> Client:
    return connect(
        "https://api.upbit.com",  # never reached: the sandbox's transport answers
        access_key=DEMO_ACCESS_KEY,
        secret_key=DEMO_SECRET_KEY,
        httpx_args={"transport": sandbox.transport()},
        on_event=events.append,
    )


def demo_ids(count: int) -> list[str]:
    return [f"demo-{number:04d}" for number in range(1, count + 1)]


def counted(events: list[Event]) -> dict[str, int]:
    return dict(collections.Counter(type(event).__name__ for event in events))


def queue_429_418_and_a_lost_answer(sandbox: SandboxExchange) -> list[str]:
    """Two chunks, sent one after the other: the first loses its answer, meets a 429, then is answered (a
    latency of 0 holds that place in the queue); the second meets a 418, so nothing more is sent (no lookup)."""
    sandbox.faults.lose_answer(only=CANCEL)
    sandbox.faults.too_many_requests(only=CANCEL)
    sandbox.faults.latency(0.0, only=CANCEL)
    sandbox.faults.blocked(seconds=60, only=CANCEL)
    return demo_ids(IDENTIFIERS_PER_CANCEL + 1)


def assert_the_counts_of_a_batch_with_one_429_one_418_and_one_lost_answer(
    events: list[Event], report: BatchResult
) -> None:
    assert counted(events) == {
        "RequestSent": 4,
        "RequestFailed": 1,
        "RequestAnswered": 3,
        "RequestRateLimited": 1,
        "RequestBlocked": 1,
        "RequestRetried": 2,
    }
    answered = [event for event in events if isinstance(event, RequestAnswered)]
    assert [event.status for event in answered] == [429, 200, 418]
    assert all(event.request.operation == CANCEL and event.latency >= 0 for event in answered)
    assert [(e.attempt, e.reason) for e in events if isinstance(e, RequestRetried)] == [
        (2, "transport_error"),
        (3, "too_many_requests"),
    ]
    blocked = next(event for event in events if isinstance(event, RequestBlocked))
    assert blocked.seconds == 60 and blocked.name == "too_many_requests_blocked"
    sent = [event.request.id for event in events if isinstance(event, RequestSent)]
    assert len(set(sent)) == 4
    assert report.rate_limited == 1 and report.retries == 2 and report.blocked is not None


def test_a_batch_with_one_429_one_418_and_one_lost_answer_tells_each_event_exactly_once() -> None:
    sandbox, events = exchange(), []
    ids = queue_429_418_and_a_lost_answer(sandbox)
    with client_of(sandbox, events) as client:
        report = cancel_orders(client, identifiers=ids, max_in_flight=1)
    assert_the_counts_of_a_batch_with_one_429_one_418_and_one_lost_answer(events, report)
    assert [record.fault for record in sandbox.requests] == ["lost_answer", "too_many_requests", "latency", "blocked"]


@pytest.mark.anyio
async def test_an_async_batch_with_one_429_one_418_and_one_lost_answer_tells_the_same_events(
    anyio_backend: str,
) -> None:
    sandbox, events = exchange(), []
    ids = queue_429_418_and_a_lost_answer(sandbox)
    async with client_of(sandbox, events) as client:
        report = await cancel_orders_async(client, identifiers=ids, max_in_flight=1)
    assert_the_counts_of_a_batch_with_one_429_one_418_and_one_lost_answer(events, report)


def test_a_lost_answer_settled_by_a_lookup_is_told_as_confirmed_with_the_ids_it_found_cancelled() -> None:
    sandbox, events = exchange(), []
    sandbox.faults.lose_answer(only=CANCEL)
    with client_of(sandbox, events) as client:
        report = cancel_orders(client, identifiers=["demo-0001", "demo-0002"])
    assert report.all_cancelled
    confirmed = [event for event in events if isinstance(event, LookupConfirmed)]
    assert confirmed == [LookupConfirmed(("demo-0001", "demo-0002"), ("demo-0001", "demo-0002"))]
    lookups = [e for e in events if isinstance(e, RequestAnswered) and e.request.operation == LOOKUP]
    assert [event.status for event in lookups] == [200]
    assert counted(events)["RequestFailed"] == 1


def test_a_single_generated_call_tells_sent_and_answered_with_its_remaining_req() -> None:
    sandbox, events = exchange(), []
    with client_of(sandbox, events) as client:
        response = cancel_orders_by_ids.sync_detailed(client=client, identifiers=["demo-0003"])
    assert response.status_code == 200
    sent, answered = events
    assert isinstance(sent, RequestSent) and isinstance(answered, RequestAnswered)
    assert sent.request == answered.request
    assert (sent.request.method, sent.request.path, sent.request.operation) == ("DELETE", "/v1/orders/uuids", CANCEL)
    assert answered.remaining is not None and answered.remaining.group == sent.request.group


@pytest.mark.anyio
async def test_an_async_single_call_meeting_a_429_tells_rate_limited_after_answered(anyio_backend: str) -> None:
    sandbox, events = exchange(), []
    sandbox.faults.too_many_requests()
    async with client_of(sandbox, events) as client:
        response = await cancel_orders_by_ids.asyncio_detailed(client=client, identifiers=["demo-0004"])
    assert response.status_code == 429
    assert [type(event) for event in events] == [RequestSent, RequestAnswered, RequestRateLimited]


def test_a_single_call_whose_answer_is_lost_tells_failed_and_raises_as_before() -> None:
    sandbox, events = exchange(), []
    sandbox.faults.lose_answer()
    with client_of(sandbox, events) as client, pytest.raises(httpx.TransportError):
        cancel_orders_by_ids.sync_detailed(client=client, identifiers=["demo-0005"])
    sent, failed = events
    assert isinstance(failed, RequestFailed) and failed.request == sent.request and failed.error


def test_a_sweep_tells_the_events_of_its_listing_too() -> None:
    sandbox, events = exchange(), []
    with client_of(sandbox, events) as client:
        report = cancel_open_orders(client, markets=["KRW-BTC"])
    operations = [event.request.operation for event in events if isinstance(event, RequestSent)]
    assert operations[0] == "list_open_orders" and CANCEL in operations
    assert len(report.success) > 0


def test_a_hook_that_raises_on_every_event_is_logged_and_ignored_and_the_batch_reports_as_usual(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox, told = exchange(), []
    sandbox.faults.lose_answer(only=CANCEL)  # so the batch's own events (retried, confirmed) raise too

    def broken(event: Event) -> None:
        told.append(type(event).__name__)
        raise RuntimeError("the metrics backend is down")

    with (
        caplog.at_level(logging.WARNING, logger="upbit_cancel.events"),
        connect(
            "https://api.upbit.com",
            access_key=DEMO_ACCESS_KEY,
            secret_key=DEMO_SECRET_KEY,
            httpx_args={"transport": sandbox.transport()},
            on_event=broken,
        ) as client,
    ):
        report = cancel_orders(client, identifiers=demo_ids(3))
    assert report.all_cancelled and report.success[0].confirmed_by == "lookup"
    assert {"RequestFailed", "RequestRetried", "LookupConfirmed"} <= set(told)
    logged = [record for record in caplog.records if record.name == "upbit_cancel.events"]
    assert len(logged) == len(told)
    assert all("on_event hook raised" in record.getMessage() and record.exc_info for record in logged)


@pytest.mark.anyio
async def test_hooks_run_on_the_event_loop_that_sent_the_request(anyio_backend: str) -> None:
    sandbox, loops = exchange(), []

    def where(event: Event) -> None:
        loops.append(sniffio.current_async_library())  # raises off a loop: logged, and the count falls short

    async with connect(
        "https://api.upbit.com",
        access_key=DEMO_ACCESS_KEY,
        secret_key=DEMO_SECRET_KEY,
        httpx_args={"transport": sandbox.transport()},
        on_event=where,
    ) as client:
        report = await cancel_orders_async(client, identifiers=demo_ids(2 * IDENTIFIERS_PER_CANCEL))
    assert report.all_cancelled
    assert loops == [anyio_backend] * 4  # two requests, each sent and answered


def test_a_sweep_whose_listing_meets_a_429_tells_the_retry_of_the_page() -> None:
    sandbox, events = exchange(), []
    sandbox.faults.too_many_requests(only="list_open_orders")
    with client_of(sandbox, events) as client:
        cancel_open_orders(client, markets=["KRW-BTC"])
    retried = [event for event in events if isinstance(event, RequestRetried)]
    assert retried == [RequestRetried("list_open_orders", 2, 0, "too_many_requests")]


def test_hooks_run_on_the_worker_thread_that_sent_the_request() -> None:
    sandbox, threads = exchange(), []

    def where(event: Event) -> None:
        if isinstance(event, RequestSent):
            threads.append(threading.current_thread().name)

    ids = demo_ids(2 * IDENTIFIERS_PER_CANCEL)
    with connect(
        "https://api.upbit.com",
        access_key=DEMO_ACCESS_KEY,
        secret_key=DEMO_SECRET_KEY,
        httpx_args={"transport": sandbox.transport()},
        on_event=where,
    ) as client:
        assert cancel_orders(client, identifiers=ids, max_in_flight=2).all_cancelled
    assert len(threads) == 2 and all(name.startswith("upbit-cancel-") for name in threads)


def test_an_on_event_that_is_not_callable_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ConfigurationError, match="on_event must be a callable"):
        connect("https://api.upbit.com", access_key="a", secret_key="b", on_event="print")  # type: ignore[arg-type]

"""The sandbox plays the exchange as it may be: it serves GET /v1/orders/uuids and can lose answers.

The requests are signed from the rules directly (``tests/sandbox_support.py``), never with our own
signing code, so the sandbox stays an independent referee.
"""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox_support import bearer, make_token, signed_call, wire_query
from upbit_client.registry import OPERATIONS
from upbit_sandbox import ENDPOINT_PATH, LOOKUP_PATH, SandboxExchange, running_server
from upbit_sandbox.server import _parse_args

LOOKUP_MAX_UUIDS = OPERATIONS["list_orders_by_ids"].parameter("uuids").max_items or 0


@pytest.fixture
def book() -> SandboxExchange:
    exchange = SandboxExchange()
    exchange.add_order("u-open", identifier="i-open", market="KRW-BTC")
    exchange.add_order("u-filled", identifier="i-filled", market="KRW-ETH", state="done")
    exchange.add_order("u-cancelled", identifier="i-cancelled", state="cancel")
    exchange.add_order("u-watch", identifier="i-watch", state="watch")
    return exchange


def lookup(book: SandboxExchange, query: str) -> list[dict[str, object]]:
    response = signed_call(book, query, method="GET", path=LOOKUP_PATH)
    assert response.status == 200, response.body
    assert isinstance(response.body, list)
    return response.body


def test_the_lookup_lists_known_orders_with_their_state_and_leaves_unknown_ids_out(book: SandboxExchange) -> None:
    orders = lookup(
        book, wire_query("uuids", ["u-open", "u-filled", "u-cancelled", "u-watch", "nobody"]) + "&order_by=asc"
    )
    assert [(order["uuid"], order["state"]) for order in orders] == [
        ("u-open", "wait"),
        ("u-filled", "done"),
        ("u-cancelled", "cancel"),
        ("u-watch", "watch"),
    ]
    assert {"side", "ord_type", "created_at", "remaining_volume", "trades_count", "identifier"} <= set(orders[0])


def test_the_lookup_by_identifiers_is_newest_first_by_default_and_filters_by_market(book: SandboxExchange) -> None:
    orders = lookup(book, wire_query("identifiers", ["i-open", "i-filled"]))
    assert [order["identifier"] for order in orders] == ["i-filled", "i-open"]
    only_eth = lookup(book, wire_query("identifiers", ["i-open", "i-filled"]) + "&market=KRW-ETH")
    assert [order["identifier"] for order in only_eth] == ["i-filled"]


def test_the_lookup_reflects_a_cancel_and_changes_nothing(book: SandboxExchange) -> None:
    assert signed_call(book, wire_query("uuids", ["u-open"])).status == 200
    assert [order["state"] for order in lookup(book, wire_query("uuids", ["u-open"]))] == ["cancel"]
    assert [order["state"] for order in lookup(book, wire_query("uuids", ["u-open"]))] == ["cancel"]


@pytest.mark.parametrize(
    "query",
    [
        wire_query("uuids", [f"u-{n}" for n in range(LOOKUP_MAX_UUIDS + 1)]),
        wire_query("uuids", ["a"]) + "&" + wire_query("identifiers", ["b"]),
        "order_by=sideways&" + wire_query("uuids", ["a"]),
        "market=KRW-BTC",
    ],
    ids=["too-many", "both-kinds", "bad-order-by", "no-ids"],
)
def test_a_lookup_breaking_a_rule_is_400_validation_error(book: SandboxExchange, query: str) -> None:
    response = signed_call(book, query, method="GET", path=LOOKUP_PATH)
    assert (response.status, response.error_name) == (400, "validation_error")


def test_the_lookup_is_signed_and_rate_limited_like_the_cancel() -> None:
    book = SandboxExchange(rate_limit_per_second=1)
    query = wire_query("uuids", ["x"])
    unsigned = book.handle("GET", f"{LOOKUP_PATH}?{query}", {}, b"")
    assert (unsigned.status, unsigned.error_name) == (401, "no_authorization_token")
    assert signed_call(book, query, method="GET", path=LOOKUP_PATH).status == 200
    limited = signed_call(book, query, method="GET", path=LOOKUP_PATH)
    assert (limited.status, limited.error_name) == (429, "too_many_requests")


def test_the_lost_answer_fault_cancels_then_drops_every_nth_answer_in_process() -> None:
    book = SandboxExchange(drop_answer_every=2)
    first, second = book.add_order("a"), book.add_order("b")
    with httpx.Client(transport=book.transport(), base_url="https://api.upbit.com") as client:
        for order, lost in ((first, False), (second, True)):
            query = wire_query("uuids", [order.uuid])
            request = client.build_request("DELETE", f"{ENDPOINT_PATH}?{query}", headers=bearer(make_token(query)))
            if lost:
                with pytest.raises(httpx.RemoteProtocolError):
                    client.send(request)
            else:
                assert client.send(request).status_code == 200
    assert book.order("a").state == book.order("b").state == "cancel"  # carried out, answer or not


def test_the_lost_answer_fault_closes_the_loopback_connection_without_an_answer() -> None:
    book = SandboxExchange(drop_answer_every=1)
    order = book.add_order("a")
    query = wire_query("uuids", [order.uuid])
    with running_server(book) as url, httpx.Client(base_url=url) as client, pytest.raises(httpx.RemoteProtocolError):
        client.delete(f"{ENDPOINT_PATH}?{query}", headers=bearer(make_token(query)))
    assert book.order("a").state == "cancel"


def test_the_command_takes_the_fault_and_unknown_field_options() -> None:
    args = _parse_args(["--drop-answer-every", "5", "--unknown-fields", "absent"])
    assert (args.drop_answer_every, args.unknown_fields) == (5, "absent")
    assert _parse_args([]).unknown_fields == "null"
    with pytest.raises(SystemExit):
        _parse_args(["--drop-answer-every", "-1"])

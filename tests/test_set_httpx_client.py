"""``set_httpx_client`` on a ``connect()`` client keeps signing and the one request path, or refuses clearly.

Rule under test (docs/hooks.md, "A custom httpx client"): the generated ``Client.set_httpx_client`` swaps the
httpx client in silence, and a plain ``httpx.Client`` neither signs (no ``UpbitAuth``) nor goes through
``connect()``'s bounded, paced transport. So a ``connect()`` client takes only an httpx client that
``connect()`` built (another ``connect()`` client's own) and refuses any other with a ``ConfigurationError``
saying what to do instead; nothing is sent, and the client keeps its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from upbit_cancel import ConfigurationError, Event, RequestAnswered, connect, reset_pacing
from upbit_cancel.transport import transport_of
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange


@pytest.fixture(autouse=True)
def no_pacing_left() -> Iterator[None]:
    reset_pacing()
    yield
    reset_pacing()


def sandbox() -> SandboxExchange:
    exchange = SandboxExchange()
    exchange.seed_demo_orders()
    return exchange


def connected(exchange: SandboxExchange, events: list[Event] | None = None) -> Client:
    return connect(
        "https://api.upbit.com",
        access_key=DEMO_ACCESS_KEY,
        secret_key=DEMO_SECRET_KEY,
        httpx_args={"transport": exchange.transport()},
        on_event=None if events is None else events.append,
    )


def test_a_plain_httpx_client_is_refused_with_what_to_do_instead_and_the_client_keeps_signing() -> None:
    exchange = sandbox()
    plain = httpx.Client(base_url="https://api.upbit.com", transport=exchange.transport())
    with connected(exchange) as client:
        with pytest.raises(ConfigurationError, match=r"set_httpx_client\(\).*httpx_args") as refused:
            client.set_httpx_client(plain)
        assert "unsigned" in str(refused.value)
        response = cancel_orders_by_ids.sync_detailed(client=client, identifiers=["demo-0001"])
    plain.close()
    assert response.status_code == 200  # still signed: the sandbox checks the JWT
    assert len(exchange.requests) == 1


def test_a_plain_async_httpx_client_is_refused_too() -> None:
    exchange = sandbox()
    client = connected(exchange)
    with pytest.raises(ConfigurationError, match=r"set_async_httpx_client\(\)"):
        client.set_async_httpx_client(httpx.AsyncClient(base_url="https://api.upbit.com"))
    assert exchange.requests == []


def test_another_connect_clients_httpx_client_is_taken_and_its_requests_stay_signed_and_bounded() -> None:
    exchange, events = sandbox(), []
    donor = connected(exchange, events)
    with connected(exchange) as client:
        client.set_httpx_client(donor.get_httpx_client())
        assert transport_of(client.get_httpx_client()) is not None
        response = cancel_orders_by_ids.sync_detailed(client=client, identifiers=["demo-0002"])
    assert response.status_code == 200
    assert [event.status for event in events if isinstance(event, RequestAnswered)] == [200]


def test_the_derived_clients_of_with_headers_refuse_a_plain_client_as_well() -> None:
    client = connected(sandbox()).with_headers({"X-Team": "bots"})
    with pytest.raises(ConfigurationError):
        client.set_httpx_client(httpx.Client())

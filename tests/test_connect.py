"""``connect()``: one precedence for server, keys and timeout; a typed answer or a typed error per call."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import Recorder
from tests.keys import OTHER_SECRET, TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_cancel import (
    AuthenticationError,
    BatchResult,
    ConfigurationError,
    MissingCredentials,
    UpbitAPIError,
    UpbitClientError,
    cancel_orders,
    cancel_orders_async,
    connect,
    unwrap,
)
from upbit_cancel.cli import build_parser
from upbit_cancel.client import PRECEDENCE, default_limits
from upbit_cancel.transport import Network, transport_of
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.models import CancelOrdersResult
from upbit_client.registry import SERVERS
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, running_server
from upbit_sandbox.server import SandboxServer

KEYS = {"UPBIT_OPEN_API_ACCESS_KEY": TEST_ACCESS_KEY, "UPBIT_OPEN_API_SECRET_KEY": TEST_SECRET_KEY}


def url_called(environ: dict[str, str], **kwargs: Any) -> str:
    recorder = Recorder()
    with connect(environ=environ, httpx_args={"transport": recorder.transport()}, **kwargs) as client:
        cancel_orders_by_ids.sync_detailed(client=client, uuids=["u"])
    (request,) = recorder.requests
    return str(request.url).split("/v1/")[0]


@pytest.mark.parametrize(
    ("kwargs", "variables", "expected"),
    [
        ({}, {}, SERVERS["kr"]),
        ({"region": "sg"}, {}, SERVERS["sg"]),
        ({"region": "TH"}, {}, SERVERS["th"]),
        ({"region": "sg"}, {"UPBIT_BASE_URL": "http://127.0.0.1:2"}, "http://127.0.0.1:2"),
        ({}, {"UPBIT_BASE_URL": "http://127.0.0.1:2", "UPBIT_OPEN_API_SERVER_URL": "http://127.0.0.1:1"}, "http://127.0.0.1:1"),
        ({"base_url": "http://127.0.0.1:3/"}, {"UPBIT_OPEN_API_SERVER_URL": "http://127.0.0.1:1"}, "http://127.0.0.1:3"),
    ],
)  # fmt: skip
def test_connect_picks_the_server_by_one_precedence(
    kwargs: dict[str, Any], variables: dict[str, str], expected: str
) -> None:
    assert url_called(KEYS | variables, **kwargs) == expected


def test_the_command_states_the_same_precedence_as_the_library() -> None:
    assert " ".join(PRECEDENCE.split()) in " ".join(build_parser().format_help().split())


def test_connect_sets_a_finite_timeout_by_default() -> None:
    client = connect(environ=KEYS)
    timeout = client.get_httpx_client().timeout
    assert timeout.read is not None and 0 < timeout.read < 60
    assert timeout.connect is not None and timeout.connect < 60


def test_connect_passes_a_given_timeout_to_the_client() -> None:
    assert connect(environ=KEYS, timeout=2.5).get_httpx_client().timeout == httpx.Timeout(2.5)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"region": "jp"}, ConfigurationError, "region must be one of id, kr, sg, th; given: 'jp'"),
        ({"base_url": "x.com"}, ConfigurationError, "base URL must look like https://host[:port]; given: 'x.com'"),
        ({"base_url": "https://x/v1"}, ConfigurationError, "must not have a path"),
        ({"timeout": 0}, ConfigurationError, "timeout must be a finite number of seconds above 0; given: 0"),
        ({"timeout": float("inf")}, ConfigurationError, "given: inf"),
        ({"timeout": "5"}, ConfigurationError, "timeout must be a number of seconds or an httpx.Timeout; given: '5'"),
        ({"httpx_args": {"auth": None}}, ConfigurationError, "httpx_args must not hold 'auth'"),
        ({"access_key": "ak"}, MissingCredentials, "secret_key is missing"),
        ({"secret_key": "sk"}, MissingCredentials, "access_key is missing"),
    ],
)  # fmt: skip
def test_connect_refuses_bad_settings_before_sending(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(
        error, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")
    ):
        connect(environ=KEYS, **kwargs)
    assert issubclass(error, UpbitClientError)


def test_connect_with_mixed_environment_keys_names_what_it_found() -> None:
    with pytest.raises(MissingCredentials, match="found only UPBIT_OPEN_API_ACCESS_KEY, UPBIT_SECRET_KEY"):
        connect(environ={"UPBIT_OPEN_API_ACCESS_KEY": "a", "UPBIT_SECRET_KEY": "b"})


# PyJWT's own decode, the independent check here, warns about the short test key; the SDK's signing and the
# sandbox do not (tests/test_warnings_as_errors.py).
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_connect_takes_explicit_keys_over_the_environment() -> None:
    recorder = Recorder()
    with connect(
        access_key="explicit-key", secret_key="explicit-secret", environ=KEYS,
        httpx_args={"transport": recorder.transport()},
    ) as client:  # fmt: skip
        cancel_orders_by_ids.sync_detailed(client=client, uuids=["u"])
    token = recorder.requests[0].headers["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, "explicit-secret", algorithms=["HS512"])["access_key"] == "explicit-key"


def test_unwrap_gives_the_typed_result_of_a_single_call() -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    order = exchange.add_order()
    with connect(environ=KEYS, httpx_args={"transport": exchange.transport()}) as client:
        result = unwrap(cancel_orders_by_ids.sync_detailed(client=client, uuids=[order.uuid]))
    assert isinstance(result, CancelOrdersResult)
    assert exchange.order(order.uuid).state == "cancel"


def test_unwrap_raises_a_typed_api_error_on_an_error_answer() -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    keys = KEYS | {"UPBIT_OPEN_API_SECRET_KEY": OTHER_SECRET}
    with connect(environ=keys, httpx_args={"transport": exchange.transport()}) as client:
        response = cancel_orders_by_ids.sync_detailed(client=client, uuids=["x"])
        with pytest.raises(AuthenticationError) as caught:
            unwrap(response)
    assert isinstance(caught.value, UpbitAPIError)
    assert (caught.value.status, caught.value.name) == (401, "jwt_verification")
    assert OTHER_SECRET not in str(caught.value)


def test_clients_from_connect_share_one_verifying_tls_context_unless_told_otherwise() -> None:
    def context_of(client: Client) -> ssl.SSLContext:
        # The TLS context lives in the client's one transport (its network), the same for sync and async.
        transport = transport_of(client.get_httpx_client())
        assert transport is not None and transport is transport_of(client.get_async_httpx_client())
        assert isinstance(transport.inner, Network)
        return transport.inner.ssl_context

    context = context_of(connect(environ=KEYS))
    assert context is context_of(connect(environ=KEYS))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    unverified = context_of(connect(environ=KEYS, httpx_args={"verify": False}))
    assert unverified.verify_mode == ssl.CERT_NONE and not unverified.check_hostname


def test_a_batch_keeps_alive_every_connection_it_keeps_busy_instead_of_reconnecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A warm batch (the limiter knows the exchange's phase) sends a whole window's budget at once, each
    # request on its own connection. With httpx's default of 20 kept-alive connections (and httpcore
    # counting every connection against it) the async batch closed answered connections and opened new
    # ones: 40 for 75 requests with 30 in flight. Each is a TCP and TLS handshake on the real exchange.
    rate_limit = cancel_orders_by_ids.OPERATION.rate_limit
    assert rate_limit is not None
    budget, per_request = rate_limit.per_second, cancel_orders_by_ids.OPERATION.parameter("uuids").max_items or 1
    opened: list[object] = []
    track = SandboxServer.track_connection

    def counting(self: SandboxServer, connection: socket.socket, *, open_: bool) -> None:
        if open_:
            opened.append(connection)
        track(self, connection, open_=open_)

    monkeypatch.setattr(SandboxServer, "track_connection", counting)
    exchange = SandboxExchange(latency=0.1)
    warm_up = [exchange.add_order(f"warm-up-{n}").uuid for n in range(budget * per_request)]
    ids = [exchange.add_order(f"keep-alive-{n}").uuid for n in range(budget * per_request * 5 // 2)]

    async def batch(url: str) -> BatchResult:
        async with connect(url, access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY) as client:
            return await cancel_orders_async(client, uuids=ids, confirm=False)

    with running_server(exchange) as url:
        with connect(url, access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY) as client:
            assert cancel_orders(client, uuids=warm_up, confirm=False).all_cancelled  # the phase is known now
        opened.clear()
        result = asyncio.run(batch(url))
    assert len(result.success) == len(ids)
    assert len(opened) <= budget + 2, f"{len(opened)} connections for a budget of {budget} in flight"


def test_connection_limits_given_in_httpx_args_win_over_the_default() -> None:
    mine = httpx.Limits(max_connections=7, max_keepalive_connections=3)
    assert default_limits().max_keepalive_connections >= 20
    client = connect("https://api.upbit.com", access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY,
                     httpx_args={"limits": mine})  # fmt: skip
    transport = transport_of(client.get_httpx_client())
    assert transport is not None and isinstance(transport.inner, Network)
    assert transport.inner.limits == mine

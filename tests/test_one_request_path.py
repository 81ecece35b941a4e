"""Every request of a ``connect()`` client goes through one bounded path (issue 22, steps a and b).

Single generated calls and listing calls were never bounded on ``main``: a dripped answer, a gzip
bomb, a 100 MB body or 100,000 informational answers held a call for as long as the server liked, in
as much memory as it sent; a redirect loop sent the same JWT again and again (with
``follow_redirects``); a 418 did not stop the next single call; single calls were not paced unless
the caller built a ``PacedTransport`` in. Each test here failed there (the hostile rows ran for the
server's whole script or took the memory; ``RedirectRefused``, ``transport_of`` and the pacing of
single calls did not exist).
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults import Action, Drip, Flood, Raw, Reply, always, error_reply, gzip_bomb, http_response
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.test_hostile_exchange import MAX_RSS, run_child
from upbit_cancel import KeyBlocked, RedirectRefused, connect, reading, reset_pacing
from upbit_cancel.errors import ConfigurationError, TransportError
from upbit_cancel.ratelimit import limiter_for
from upbit_cancel.transport import Network, transport_of
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids, list_open_orders
from upbit_sandbox import SandboxExchange, running_server

MODES = ["sync", "async"]
TIMEOUT = 2.0
# The promise is the timeout plus one second; a loaded 2-core machine may add as much again.
SLACK = 1.0 + 2.0


@pytest.fixture(autouse=True)
def fresh_pacing() -> Iterator[None]:
    reset_pacing()
    yield
    reset_pacing()


def early_hints(count: int = 100_000) -> Raw:
    hint = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    return Raw(hint * count + http_response(200, b"[]"))


HOSTILE: dict[str, Any] = {
    "drip-1-byte-a-second": lambda: Drip(interval=1.0),
    "gzip-bomb-1MB-to-1GiB": lambda: gzip_bomb(1024 * 1024 * 1024),
    "body-of-100MB": lambda: Flood(size=100 * 1024 * 1024),
    "100000-early-hints": early_hints,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["single", "listing"])
@pytest.mark.parametrize("fault", sorted(HOSTILE))
def test_a_hostile_answer_to_a_single_or_listing_call_ends_within_the_timeout_in_bounded_memory(
    fault: str, kind: str, mode: str, serve: Any, tmp_path: Path
) -> None:
    action: Action = HOSTILE[fault]()
    server = serve(always(action))
    argv = [sys.executable, "-m", "tests.single_call_client", mode, kind, server.url, str(TIMEOUT)]
    run = run_child(argv, tmp_path, limit=60.0)
    assert run.status == 0 and run.report is not None, run.stderr[-2000:]
    assert run.report["error"] is not None, "the call returned"
    assert "upbit_cancel.errors.TransportError" in run.report["error"], run.report
    assert run.report["elapsed"] <= TIMEOUT + SLACK, run.report
    assert 0 < run.report["peak_rss"] <= MAX_RSS, f"peak RSS {run.report['peak_rss'] / 2**20:.0f} MB"


def client_for(url: str) -> Client:
    return connect(url, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, timeout=TIMEOUT)


def call(mode: str, client: Client, *, listing: bool = False) -> Any:
    ids = [str(uuid.uuid4())]
    if mode == "sync":
        with client:
            if listing:
                return list_open_orders.sync_detailed(client=client)
            return cancel_orders_by_ids.sync_detailed(client=client, uuids=ids)

    async def go() -> Any:
        async with client:
            if listing:
                return await list_open_orders.asyncio_detailed(client=client)
            return await cancel_orders_by_ids.asyncio_detailed(client=client, uuids=ids)

    return asyncio.run(go())


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_loop_sends_one_request_and_raises_a_clear_error(mode: str, serve: Any) -> None:
    server = serve(always(Reply(302, b"", headers={"Location": "/v1/orders/uuids"})))
    with pytest.raises(RedirectRefused, match=r"answered 302 .*'/v1/orders/uuids'.*never followed") as caught:
        call(mode, client_for(server.url))
    assert server.count == 1
    assert isinstance(caught.value, TransportError) and isinstance(caught.value, httpx.HTTPError)


@pytest.mark.parametrize("mode", MODES)
def test_a_single_call_after_a_418_raises_key_blocked_and_sends_nothing(mode: str, serve: Any) -> None:
    server = serve(always(error_reply(418, "blocked", "Blocked for 60 seconds.")))
    call(mode, client_for(server.url))  # the 418 itself is an answer
    with pytest.raises(KeyBlocked):
        call(mode, client_for(server.url))
    with pytest.raises(KeyBlocked):
        call(mode, client_for(server.url), listing=True)  # the pocket's block holds for every group
    assert server.count == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_single_call_is_paced_by_its_pockets_limiter_and_a_bounded_one_is_left_to_its_caller(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rate_limit = cancel_orders_by_ids.OPERATION.rate_limit
    assert rate_limit is not None
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    limiter = limiter_for(TEST_ACCESS_KEY, rate_limit)
    heard: list[object] = []
    record = limiter.record

    def spy(permit: Any, remaining: Any, **options: Any) -> None:
        heard.append(remaining)
        record(permit, remaining, **options)

    monkeypatch.setattr(limiter, "record", spy)
    with running_server(exchange) as url:
        with reading.bounded(5.0):
            call(mode, client_for(url))
        assert heard == [], "a request inside reading.bounded is its caller's to pace"
        call(mode, client_for(url))
    assert len(heard) == 1 and heard[0] is not None, "the limiter did not see the single call's answer"
    assert limiter.in_flight == 0


# --- proxies go through the same bounded path --------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_proxy_from_the_environment_is_used_and_its_answers_are_bounded_too(mode: str, serve: Any) -> None:
    proxy = serve(always(Drip(interval=1.0)))
    environ = {"http_proxy": proxy.url}  # lower case, as curl and httpx read it first
    client = connect(
        "http://api.upbit.invalid", access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY,
        timeout=TIMEOUT, environ=environ,
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(TransportError):
        call(mode, client)
    assert time.monotonic() - started <= TIMEOUT + SLACK
    assert proxy.count == 1 and proxy.requests[0].target.startswith("http://api.upbit.invalid/v1/orders")


def test_no_proxy_naming_the_host_goes_direct_and_trust_env_false_ignores_the_environment(serve: Any) -> None:
    proxy = serve(always(Reply(200, {"success": {"count": 0, "orders": []}, "failed": {"count": 0, "orders": []}})))
    server = serve(always(Reply(200, {"success": {"count": 0, "orders": []}, "failed": {"count": 0, "orders": []}})))
    environ = {"HTTP_PROXY": proxy.url, "NO_PROXY": "example.com, 127.0.0.1"}
    call("sync", connect(server.url, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, environ=environ))
    untrusting = {"trust_env": False}
    call("sync", connect(server.url, access_key="k", secret_key="s" * 40, environ=environ, httpx_args=untrusting))
    assert (proxy.count, server.count) == (0, 2)


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"HTTPS_PROXY": "ftp://proxy.example:21"}, "HTTPS_PROXY must look like"),
        ({"all_proxy": "http://[::1"}, "all_proxy is not a valid proxy URL"),
        ({"HTTPS_PROXY": "socks5://proxy.example:1080"}, "HTTPS_PROXY names a SOCKS proxy, which needs socksio"),
    ],
)
def test_a_proxy_setting_that_cannot_work_is_refused_at_connect_naming_the_variable(
    environ: dict[str, str], says: str
) -> None:
    if "socks" in says and importlib.util.find_spec("socksio") is not None:
        pytest.skip("socksio is installed here: a SOCKS proxy can work")
    with pytest.raises(ConfigurationError, match=re.escape(says)) as caught:
        connect("https://api.upbit.com", access_key="k", secret_key="s" * 40, environ=environ)
    assert "proxy.example" not in str(caught.value), "a proxy URL may hold a password: never repeated"


def test_httpx_arguments_that_would_bypass_the_bounded_path_are_refused() -> None:
    for name, value in [("mounts", {}), ("proxies", "http://proxy.example:3128")]:
        with pytest.raises(ConfigurationError, match=name):
            connect("https://api.upbit.com", access_key="k", secret_key="s" * 40, httpx_args={name: value})


def test_http2_limits_and_tls_reach_the_one_transport_and_a_call_works_on_it() -> None:
    if importlib.util.find_spec("h2") is None:
        pytest.skip("h2 is not installed")
    limits = httpx.Limits(max_connections=5, max_keepalive_connections=2)
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    with running_server(exchange) as url:
        client = connect(
            url, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, httpx_args={"http2": True, "limits": limits}
        )
        transport = transport_of(client.get_httpx_client())
        assert transport is not None and isinstance(transport.inner, Network) and transport.inner.limits == limits
        assert call("sync", client).status_code == 200  # plain http: HTTP/1.1, as httpx does without TLS


def test_a_connect_client_sends_bounded_and_single_calls_under_trio_too() -> None:
    trio = pytest.importorskip("trio")  # the transport's async network is httpcore's AnyIO backend
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    touched: list[str] = []

    async def main() -> list[int]:
        async with client_for(url) as client:
            with reading.bounded(5.0, on_wire=lambda: touched.append("wire")):
                bounded = await cancel_orders_by_ids.asyncio_detailed(client=client, uuids=[str(uuid.uuid4())])
            single = await list_open_orders.asyncio_detailed(client=client)
        return [bounded.status_code, single.status_code]

    with running_server(exchange) as url:
        assert trio.run(main) == [200, 200]
    assert touched == ["wire"]


def test_install_reports_a_connect_client_over_a_mock_as_not_on_the_network_and_adds_no_hooks() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json=[]))
    client = connect("https://api.upbit.com", access_key="k", secret_key="s" * 40, httpx_args={"transport": mock})
    http = client.get_httpx_client()
    hooks = {name: list(found) for name, found in http.event_hooks.items()}
    assert not reading.install(http)
    assert {name: list(found) for name, found in http.event_hooks.items()} == hooks
    on_network = connect("https://api.upbit.com", access_key="k", secret_key="s" * 40).get_async_httpx_client()
    assert reading.install(on_network)

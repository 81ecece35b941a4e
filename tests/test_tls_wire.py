"""The sandbox over TLS and HTTP/2, the delaying link, and the one request path's limits on those wires (issue 26).

Upbit is reached only over TLS; every figure and hostile-answer test before issue 26 ran over plain
HTTP. Here the sandbox serves HTTPS with a CA made on the spot (``--tls``), HTTP/2 through ALPN
(``--http2``, hypercorn), behind a link delaying every packet (``--link-latency-ms``), and the
caps of the one request path (deadline, byte cap after decompression, refused redirects, 418 blocks)
are checked over HTTP/1.1-over-TLS and HTTP/2. None of it existed on ``main`` (``--tls``, ``SandboxTLS``,
``Http2Server``, ``DelayLink`` and the fixtures are new), so each test here fails there at its first line.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults import Drip, FaultServer, Flood, always, gzip_bomb
from tests.h2_hostile import HostileApp
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.test_hostile_exchange import MAX_RSS, run_child
from upbit_cancel import KeyBlocked, RedirectRefused, cancel_orders_async, connect, reset_pacing
from upbit_cancel.client import KEEPALIVE_EXPIRY
from upbit_cancel.errors import TransportError
from upbit_cancel.transport import Network, transport_of
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import SandboxExchange, start_server
from upbit_sandbox.delay_link import DelayLink
from upbit_sandbox.h2_server import Http2Server
from upbit_sandbox.tls import SandboxTLS

pytest.importorskip("trustme")
pytest.importorskip("hypercorn")

TIMEOUT = 2.0
SLACK = 1.0 + 2.0  # as in tests/test_one_request_path.py: the promise, and a loaded machine's as much again


@pytest.fixture(autouse=True)
def fresh_pacing() -> Iterator[None]:
    reset_pacing()
    yield
    reset_pacing()


@pytest.fixture
def tls() -> Iterator[SandboxTLS]:
    made = SandboxTLS()
    yield made
    made.close()


def exchange_of(orders: int = 0) -> tuple[SandboxExchange, list[str]]:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    return exchange, [exchange.add_order(str(uuid.uuid4())).uuid for _ in range(orders)]


def client_for(url: str, ca_file: object = None, *, http2: bool = False, timeout: float = TIMEOUT) -> Client:
    httpx_args: dict[str, Any] = {"http2": http2}
    if ca_file is not None:
        httpx_args["verify"] = str(ca_file)
    return connect(url, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, timeout=timeout, httpx_args=httpx_args)


def raw_call(client: Client) -> httpx.Response:
    """A signed lookup through the connect() client's own httpx client (its answer tells the HTTP version)."""
    with client:
        return client.get_httpx_client().get("/v1/orders/uuids", params={"uuids[]": str(uuid.uuid4())})


@pytest.fixture
def h2_server() -> Iterator[Any]:
    servers: list[Http2Server] = []

    def start(exchange: SandboxExchange | None = None, app: Any = None) -> Http2Server:
        server = Http2Server(exchange or exchange_of()[0], app=app)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# --- the sandbox over TLS -------------------------------------------------------------------------------------


def test_the_https_sandbox_is_trusted_through_its_ca_file_and_refused_without_it(tls: SandboxTLS) -> None:
    exchange, ids = exchange_of(3)
    server, url = start_server(exchange, tls=tls.server_context())
    try:
        assert url.startswith("https://127.0.0.1:")
        with client_for(url, tls.ca_file) as client:
            answer = cancel_orders_by_ids.sync_detailed(client=client, uuids=ids)
        assert answer.status_code == 200 and exchange.order(ids[0]).state == "cancel"
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            raw_call(client_for(url))  # the machine's CAs do not know the sandbox's
    finally:
        server.stop()


def test_ssl_cert_file_naming_the_sandbox_ca_is_trusted_by_a_new_process(
    tls: SandboxTLS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange, _ = exchange_of()
    server, url = start_server(exchange, tls=tls.server_context())
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
        run = run_child([sys.executable, "-m", "tests.single_call_client", "sync", "single", url, "5"], tmp_path, 60)
        assert run.report is not None and run.report["error"] is None, (run.report, run.stderr[-2000:])
        assert [record.status for record in exchange.requests] == [200]
    finally:
        server.stop()


@pytest.mark.parametrize("wire", ["--tls", "--http2"])
def test_the_sandbox_command_serves_https_writes_the_ca_file_and_speaks_what_it_says(wire: str, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    command = [sys.executable, "-m", "upbit_sandbox", wire, "--ca-file", str(ca_file), "--link-latency-ms", "10"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as sandbox:
        try:
            assert sandbox.stdout is not None
            banner = "".join(sandbox.stdout.readline() for _ in range(5))
            found = re.search(r"listening on (https://127\.0\.0\.1:\d+)", banner)
            assert found is not None, banner
            assert f"CA certificate to trust: {ca_file}" in banner and "round trip 10 ms" in banner
            with httpx.Client(verify=ssl.create_default_context(cafile=ca_file), http2=True) as http:
                answer = http.get(f"{found[1]}/v1/orders/uuids")
            assert answer.status_code == 401  # unsigned: the exchange answered it
            assert answer.http_version == ("HTTP/2" if wire == "--http2" else "HTTP/1.1")
        finally:
            sandbox.terminate()
    assert ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")  # the CA file stays for its reader


def test_the_sandbox_command_refuses_a_ca_file_without_tls() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "upbit_sandbox", "--ca-file", "ca.pem"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "--ca-file needs --tls or --http2" in done.stderr


# --- HTTP/2, only where ALPN offers it ---------------------------------------------------------------------------


def test_a_client_asking_for_http2_gets_it_only_where_the_server_offers_it(tls: SandboxTLS, h2_server: Any) -> None:
    h2 = h2_server()
    assert raw_call(client_for(h2.url, h2.tls.ca_file, http2=True)).http_version == "HTTP/2"
    assert raw_call(client_for(h2.url, h2.tls.ca_file)).http_version == "HTTP/1.1"
    exchange, _ = exchange_of()
    server, url = start_server(exchange, tls=tls.server_context())  # offers http/1.1 only
    try:
        assert raw_call(client_for(url, tls.ca_file, http2=True)).http_version == "HTTP/1.1"
    finally:
        server.stop()


def test_an_async_batch_over_http2_carries_every_request_on_one_connection(h2_server: Any) -> None:
    exchange, ids = exchange_of(200)
    h2 = h2_server(exchange)
    link = DelayLink(h2.port, 0.0).start()
    try:
        client = client_for(link.url("https"), h2.tls.ca_file, http2=True, timeout=10.0)

        async def run() -> Any:
            async with client:
                return await cancel_orders_async(client, uuids=ids)

        report = asyncio.run(run())
        assert sorted(order.uuid for order in report.success) == sorted(ids)
        assert link.connections == 1
    finally:
        link.stop()


# --- the delaying link -------------------------------------------------------------------------------------------


def test_the_delay_link_charges_tcp_and_tls_handshakes_a_round_trip_each(tls: SandboxTLS) -> None:
    rtt = 0.2
    exchange, _ = exchange_of()
    plain = start_server(exchange)[0]
    secure = start_server(exchange, tls=tls.server_context())[0]
    links = [DelayLink(server.port, rtt).start() for server in (plain, secure)]
    try:
        for link, scheme, first_trips in ((links[0], "http", 2), (links[1], "https", 3)):
            with httpx.Client(verify=tls.client_context()) as http:
                times = []
                for _ in range(2):
                    began = time.monotonic()
                    assert http.get(f"{link.url(scheme)}/v1/orders/uuids").status_code == 401
                    times.append(time.monotonic() - began)
            assert times[0] >= first_trips * rtt, (scheme, times)  # TCP (+ TLS) + the request
            assert rtt <= times[1] < times[0], (scheme, times)  # the kept connection: one round trip
            assert link.connections == 1
    finally:
        for link in links:
            link.stop()
        plain.stop()
        secure.stop()


# --- the one request path's limits over TLS and HTTP/2 ----------------------------------------------------------

CAPPED = {
    "drip-1-byte-a-second": lambda: Drip(interval=1.0),
    "body-of-100MB": lambda: Flood(size=100 * 1024 * 1024),
    "gzip-bomb-1MB-to-1GiB": lambda: gzip_bomb(1024 * 1024 * 1024),
}


@pytest.mark.parametrize(
    ("wire", "mode"), [("https", "async"), ("h2", "sync"), ("h2", "async")], ids=["https-async", "h2-sync", "h2-async"]
)
@pytest.mark.parametrize("fault", sorted(CAPPED))
def test_a_hostile_answer_over_tls_or_http2_ends_within_the_timeout_in_bounded_memory(
    fault: str, wire: str, mode: str, h2_server: Any, tls: SandboxTLS, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    if wire == "h2":
        server = h2_server(app=HostileApp(fault))
        url, ca_file = server.url, server.tls.ca_file
    else:
        hostile = FaultServer(always(CAPPED[fault]()), tls=tls.server_context()).start()
        request.addfinalizer(hostile.stop)
        url, ca_file = hostile.url, tls.ca_file
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    argv = [sys.executable, "-m", "tests.single_call_client", mode, "single", url, str(TIMEOUT)]
    run = run_child([*argv, "http2"] if wire == "h2" else argv, tmp_path, limit=60.0)
    assert run.status == 0 and run.report is not None, run.stderr[-2000:]
    assert run.report["error"] is not None, "the call returned"
    assert "upbit_cancel.errors.TransportError" in run.report["error"], run.report
    assert "CERTIFICATE" not in run.report["message"], run.report  # the hostile answer was reached
    assert run.report["elapsed"] <= TIMEOUT + SLACK, run.report
    assert 0 < run.report["peak_rss"] <= MAX_RSS, f"peak RSS {run.report['peak_rss'] / 2**20:.0f} MB"


def test_a_redirect_over_http2_is_refused_after_one_request(h2_server: Any) -> None:
    app = HostileApp("redirect-loop")
    server = h2_server(app=app)
    with pytest.raises(RedirectRefused, match="answered 302"):
        raw_call(client_for(server.url, server.tls.ca_file, http2=True))
    assert app.count == 1


def test_json_nested_too_deep_over_http2_is_a_transport_error_not_a_crash(h2_server: Any) -> None:
    server = h2_server(app=HostileApp("json-100000-deep"))
    client = client_for(server.url, server.tls.ca_file, http2=True)

    async def run() -> Any:
        async with client:
            return await cancel_orders_async(client, uuids=[str(uuid.uuid4())])

    report = asyncio.run(run())
    assert not report.success and len(report.failed) + len(report.unconfirmed) + len(report.not_sent) == 1


def test_a_418_over_http2_blocks_the_next_single_calls_and_nothing_more_is_sent(h2_server: Any) -> None:
    exchange, ids = exchange_of(2)
    server = h2_server(exchange)
    exchange.faults.blocked(seconds=60)
    with client_for(server.url, server.tls.ca_file, http2=True) as client:
        assert cancel_orders_by_ids.sync_detailed(client=client, uuids=ids[:1]).status_code == 418
        with pytest.raises(KeyBlocked):
            cancel_orders_by_ids.sync_detailed(client=client, uuids=ids[1:])
    assert len(exchange.requests) == 1


# --- the pytest plugin ----------------------------------------------------------------------------------------

pytest_plugins = ("pytester",)

HTTPS_CONSUMER = """\
from upbit_cancel import cancel_orders, connect
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, demo_uuid
from upbit_sandbox.pytest_plugin import ServedSandbox

def cancel(server: ServedSandbox, http2: bool) -> object:
    client = connect(server.url, access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY,
                     httpx_args={"verify": server.ca_file, "http2": http2})
    with client:
        return cancel_orders(client, identifiers=["demo-0001", "demo-0002"])

def test_https(upbit_https_server: ServedSandbox) -> None:
    assert upbit_https_server.url.startswith("https://") and cancel(upbit_https_server, False).all_cancelled

def test_http2(upbit_h2_server: ServedSandbox) -> None:
    assert cancel(upbit_h2_server, True).all_cancelled
    assert upbit_h2_server.exchange.order(demo_uuid("demo-0001")).state == "cancel"
"""


def test_the_plugin_serves_the_exchange_over_https_and_http2_to_a_consumers_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_consumer=HTTPS_CONSUMER)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-q")
    result.assert_outcomes(passed=2)


# --- keep-alive ---------------------------------------------------------------------------------------------


def test_a_connect_client_keeps_idle_http1_connections_55_s_and_http2_ones_httpx_5_s() -> None:
    for http2, expiry in ((False, KEEPALIVE_EXPIRY), (True, httpx.Limits().keepalive_expiry)):
        client = client_for("https://api.upbit.com", http2=http2)
        transport = transport_of(client.get_httpx_client())
        assert transport is not None and isinstance(transport.inner, Network)
        assert transport.inner.limits.keepalive_expiry == expiry
    assert 5 * httpx.Limits().keepalive_expiry < KEEPALIVE_EXPIRY


@pytest.mark.parametrize("wire", ["http", "https"])
def test_connections_the_server_cut_while_idle_are_not_reused_and_every_order_is_cancelled(
    wire: str, tls: SandboxTLS
) -> None:
    exchange, ids = exchange_of(200)
    server = start_server(exchange, tls=tls.server_context() if wire == "https" else None)[0]
    link = DelayLink(server.port, 0.02).start()
    try:
        client = client_for(link.url(wire), tls.ca_file, timeout=10.0)

        async def run() -> tuple[Any, Any]:
            async with client:
                before = await cancel_orders_async(client, uuids=ids[:100])
                link.drop_connections()  # as a server whose keep-alive ran out
                await asyncio.sleep(0.3)
                return before, await cancel_orders_async(client, uuids=ids[100:])

        before, after = asyncio.run(run())
        assert before.all_cancelled and after.all_cancelled, (after.failed, after.unconfirmed)
        assert after.requests_sent == before.requests_sent  # nothing sent twice, nothing lost
        assert link.connections > 1
    finally:
        link.stop()
        server.stop()

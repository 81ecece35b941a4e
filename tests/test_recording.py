"""``upbit_sandbox.vcr_config()``: a cassette recorded with it holds no token (``eyJ``) and no key, and replays.

Recorded for real: the SDK sends over HTTP to the loopback sandbox while vcrpy records into a fresh
cassette; then the cassette's text is searched for anything secret, and replayed with the server gone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import get_type_hints

import httpx
import vcr

from upbit_auth import KEY_PAIRS
from upbit_cancel import cancel_orders, cancel_orders_async, connect
from upbit_sandbox import REDACTED, SandboxExchange, VcrConfig, demo_uuid, running_server, vcr_config
from upbit_sandbox.recording import KEY_VARIABLES, MATCH_ON

ACCESS_KEY = "recording-access-key-7f3a91"
SECRET_KEY = "recording-secret-key-that-must-never-reach-a-cassette-0123456789abcdef0123456789abcdef"
IDS = ["demo-0001", "demo-0002", "demo-filled-0001"]


def exchange_with_keys() -> SandboxExchange:
    exchange = SandboxExchange(credentials={ACCESS_KEY: SECRET_KEY})
    exchange.seed_demo_orders(open_orders=5)
    return exchange


def record(cassette: Path, url: str) -> list[tuple[str | None, str | None]]:
    recorder = vcr.VCR(**vcr_config(ACCESS_KEY, SECRET_KEY))
    with (
        recorder.use_cassette(str(cassette), record_mode="all"),
        connect(url, access_key=ACCESS_KEY, secret_key=SECRET_KEY) as client,
    ):
        report = cancel_orders(client, identifiers=IDS)
    return [(order.identifier, order.reason) for order in (*report.success, *report.failed)]


def test_a_cassette_recorded_with_the_shipped_config_holds_no_token_and_no_key_and_replays(tmp_path: Path) -> None:
    cassette = tmp_path / "cancel.yaml"
    with running_server(exchange_with_keys()) as url:
        recorded = record(cassette, url)
    assert recorded == [("demo-0001", None), ("demo-0002", None), ("demo-filled-0001", "filled")]
    text = cassette.read_text(encoding="utf-8")
    assert "/v1/orders/uuids" in text and "demo-filled-0001" in text  # it did record the exchange
    for secret in ("eyJ", ACCESS_KEY, SECRET_KEY, "Bearer", "uthorization"):
        assert secret not in text, f"{secret!r} is in the cassette"
    # Replayed with nothing listening: the same report, from the cassette alone.
    replayer = vcr.VCR(**vcr_config(ACCESS_KEY, SECRET_KEY))
    with (
        replayer.use_cassette(str(cassette), record_mode="none"),
        connect(url, access_key=ACCESS_KEY, secret_key=SECRET_KEY) as client,
    ):
        report = cancel_orders(client, identifiers=IDS)
    assert [(order.identifier, order.reason) for order in (*report.success, *report.failed)] == recorded


def test_a_token_or_key_anywhere_in_a_request_or_answer_is_replaced(tmp_path: Path) -> None:
    cassette = tmp_path / "odd.yaml"
    token = "eyJhbGciOiJIUzUxMiJ9.eyJhY2Nlc3Nfa2V5IjoieCJ9.c2lnbmF0dXJl"

    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"seen": request.headers["x-debug"]}, headers={"x-echo": ACCESS_KEY})

    exchange = SandboxExchange()
    with running_server(exchange) as url, vcr.VCR(**vcr_config(ACCESS_KEY)).use_cassette(str(cassette)):
        with httpx.Client() as http:
            http.get(f"{url}/v1/orders/uuids?note={ACCESS_KEY}", headers={"X-Debug": f"{token} {ACCESS_KEY}"})
        httpx.Client(transport=httpx.MockTransport(echo)).get("https://x.invalid/", headers={"X-Debug": token})
    text = cassette.read_text(encoding="utf-8")
    assert "eyJ" not in text and ACCESS_KEY not in text
    assert REDACTED in text


def test_the_keys_of_the_environment_are_scrubbed_without_being_named(tmp_path: Path) -> None:
    config = vcr_config(environ={"UPBIT_ACCESS_KEY": ACCESS_KEY, "UPBIT_SECRET_KEY": SECRET_KEY})
    scrub_request = config["before_record_request"]
    assert callable(scrub_request)
    request = vcr.request.Request("GET", f"https://api.upbit.com/v1/x?k={ACCESS_KEY}", f"s={SECRET_KEY}", {})
    scrubbed = scrub_request(request)
    assert (scrubbed.uri, scrubbed.body) == (f"https://api.upbit.com/v1/x?k={REDACTED}", f"s={REDACTED}".encode())


def test_the_config_knows_the_same_key_variables_as_upbit_auth() -> None:
    assert tuple(name for pair in KEY_PAIRS for name in pair) == KEY_VARIABLES


def test_an_async_batch_records_as_cleanly(tmp_path: Path) -> None:
    cassette = tmp_path / "async.yaml"

    async def run(url: str) -> int:
        async with connect(url, access_key=ACCESS_KEY, secret_key=SECRET_KEY) as client:
            return len((await cancel_orders_async(client, uuids=[demo_uuid("demo-0003")])).success)

    with running_server(exchange_with_keys()) as url, vcr.VCR(**vcr_config(ACCESS_KEY)).use_cassette(str(cassette)):
        assert asyncio.run(run(url)) == 1
    text = cassette.read_text(encoding="utf-8")
    assert "eyJ" not in text and ACCESS_KEY not in text and demo_uuid("demo-0003") in text


def test_a_cassette_recorded_on_one_port_replays_on_another_port_or_with_no_sandbox(tmp_path: Path) -> None:
    """Matching leaves host and port out: the sandbox takes a free port each run, and a replay must not
    depend on it. The second sandbox's book differs (its orders are filled), so an answer that came from it
    and not from the cassette would change the report; its request log proves nothing reached it."""
    cassette = tmp_path / "ports.yaml"
    elsewhere = SandboxExchange(credentials={ACCESS_KEY: SECRET_KEY})
    elsewhere.seed_demo_orders(open_orders=0, filled=5)
    # The first sandbox stays up while the second starts, so the second cannot be given the port the
    # first just freed (the system may hand a freed port out again at once).
    with running_server(exchange_with_keys()) as first:
        recorded = record(cassette, first)
        with running_server(elsewhere) as second:
            assert httpx.URL(second).port != httpx.URL(first).port
            assert replay(cassette, second) == recorded
    assert elsewhere.requests == []
    assert replay(cassette, "http://127.0.0.1:9") == recorded  # discard: nothing listens


def replay(cassette: Path, url: str) -> list[tuple[str | None, str | None]]:
    replayer = vcr.VCR(**vcr_config(ACCESS_KEY, SECRET_KEY))
    with (
        replayer.use_cassette(str(cassette), record_mode="none"),
        connect(url, access_key=ACCESS_KEY, secret_key=SECRET_KEY) as client,
    ):
        report = cancel_orders(client, identifiers=IDS)
    return [(order.identifier, order.reason) for order in (*report.success, *report.failed)]


def test_the_config_is_typed_as_the_keys_it_holds_and_matches_neither_host_nor_port() -> None:
    config = vcr_config()
    assert get_type_hints(vcr_config)["return"] is VcrConfig
    assert set(config) == VcrConfig.__required_keys__
    assert set(get_type_hints(VcrConfig)) == set(config)
    assert config["match_on"] == MATCH_ON
    assert not {"host", "port", "headers"} & set(MATCH_ON)
    assert {"method", "path", "query"} <= set(MATCH_ON)

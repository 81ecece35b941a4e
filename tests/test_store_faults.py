"""The store-fault table: every kind of answer a broken single-server store gives, through every way in.

Each row is a loopback server speaking RESP (``tests/fake_resp.py``) that answers the store's commands
with one fault: replies of the wrong type, the error replies ``-OOM``, ``-READONLY``, ``-MOVED``,
``-NOAUTH``, ``-LOADING``, ``-NOSCRIPT``, garbage, silence, slowness (late, or trickled a byte at a
time), a closed connection. Each is run through ``cancel_orders`` (sync), ``cancel_orders_async`` and
``upbit-cancel --rate-limit-store URL`` against the sandbox. Every run must end the same way: the batch
paces in-process after exactly one warning naming the store with its password redacted, every order is
cancelled, and the report names every id exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.fake_resp import FAULTS, PASSWORD, fake_store
from tests.faults import assert_every_id_once
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.test_faults_cli import assert_report_has_every_id_once
from upbit_auth import UpbitAuth
from upbit_cancel import cli
from upbit_cancel.batch import cancel_orders, cancel_orders_async
from upbit_cancel.redis_store import SharedBudget
from upbit_cancel.store import Send, StoreUnavailable
from upbit_client import Client
from upbit_sandbox import SandboxExchange

ORDERS = 45
"""Three chunks: the store is asked more than once, after it failed."""


def exchange_with_orders() -> tuple[SandboxExchange, list[str]]:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    return exchange, [exchange.add_order().uuid for _ in range(ORDERS)]


def client_args(exchange: SandboxExchange) -> dict[str, object]:
    return {"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY), "transport": exchange.transport()}


def one_store_warning(records: list[logging.LogRecord]) -> str:
    """The one warning of the run: the store, password-redacted, and local pacing."""
    texts = [record.getMessage() for record in records]
    assert all(PASSWORD not in text for text in texts), texts
    warnings = [r.getMessage() for r in records if r.levelno >= logging.WARNING and r.name.startswith("upbit")]
    assert len(warnings) == 1, warnings
    assert "in this process only" in warnings[0] and "redis://***@127.0.0.1" in warnings[0]
    return warnings[0]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_broken_store_never_raises_from_the_redis_store_only_store_unavailable(fault: str) -> None:
    with fake_store(fault) as url:
        store = SharedBudget(url, "pocket", "default", 30)
        try:
            with pytest.raises(StoreUnavailable) as raised:
                store.take(Send(None, [1, 2]))
        finally:
            store.close()
    assert PASSWORD not in str(raised.value) and "redis://***@127.0.0.1" in str(raised.value)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_broken_store_costs_a_sync_batch_only_the_sharing(
    fault: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange, orders = exchange_with_orders()
    with (
        fake_store(fault) as url,
        caplog.at_level(logging.DEBUG),
        Client(base_url="https://api.upbit.com", httpx_args=client_args(exchange)) as client,
    ):
        result = cancel_orders(client, uuids=orders, rate_limit_store=url)
    assert_every_id_once(result, orders)
    assert len(result.success) == ORDERS and not exchange.orders("wait")
    one_store_warning(caplog.records)
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("fault", FAULTS)
def test_a_broken_store_costs_an_async_batch_only_the_sharing(
    fault: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange, orders = exchange_with_orders()

    async def run() -> object:
        async with Client(base_url="https://api.upbit.com", httpx_args=client_args(exchange)) as c:
            return await cancel_orders_async(c, uuids=orders, rate_limit_store=url)

    with fake_store(fault) as url, caplog.at_level(logging.DEBUG):
        result = asyncio.run(run())
    assert_every_id_once(result, orders)
    assert not exchange.orders("wait")
    one_store_warning(caplog.records)
    assert "Traceback" not in capsys.readouterr().err
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_broken_store_costs_upbit_cancel_only_the_sharing(
    fault: str, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange, orders = exchange_with_orders()
    with fake_store(fault) as url:
        status = cli.main(["--json", "--rate-limit-store", url, "--uuid", *orders], transport=exchange.transport())
    out, err = capsys.readouterr()
    assert status == 0, err
    assert_report_has_every_id_once(json.loads(out), orders)
    assert not exchange.orders("wait")
    warnings = [line for line in err.splitlines() if line.startswith("upbit-cancel: warning:")]
    assert len(warnings) == 1 and "in this process only" in warnings[0], err
    assert "redis://***@127.0.0.1" in warnings[0]
    assert PASSWORD not in out + err and TEST_SECRET_KEY not in out + err
    assert "Traceback" not in err and "unexpected" not in err

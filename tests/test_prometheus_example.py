"""``examples/prometheus_metrics.py`` exports the per-request events as Prometheus metrics, counted right.

Rule under test (docs/hooks.md, "Metrics with Prometheus"): the example's ``UpbitMetrics`` hook, given to
``connect(on_event=...)``, counts every request, answer, 429, 418, failure, retry and confirmed id of a
batch against the sandbox; run as a script, it prints them as Prometheus scrapes them.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client import CollectorRegistry

from tests.limits import CANCEL, IDENTIFIERS_PER_CANCEL
from upbit_cancel import cancel_orders, cancel_orders_async, connect, reset_pacing
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "prometheus_metrics.py"
GROUP = CANCEL.rate_limit.group if CANCEL.rate_limit is not None else "none"
OPERATION = "cancel_orders_by_ids"


@pytest.fixture(autouse=True)
def no_pacing_left() -> Iterator[None]:
    reset_pacing()
    yield
    reset_pacing()


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("prometheus_metrics_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def total(registry: CollectorRegistry, sample: str) -> float:
    """The sum of ``sample`` over all its labels (0 if it has none yet)."""
    return sum(s.value for metric in registry.collect() for s in metric.samples if s.name == sample)


def faulty_exchange() -> tuple[SandboxExchange, list[str]]:
    """Two chunks one after the other: a lost answer, a 429, an answer; then a 418 (nothing more sent)."""
    exchange = SandboxExchange()
    exchange.seed_demo_orders()
    exchange.faults.lose_answer(only=OPERATION)
    exchange.faults.too_many_requests(only=OPERATION)
    exchange.faults.latency(0.0, only=OPERATION)  # holds the third request's place: answered as usual
    exchange.faults.blocked(seconds=60, only=OPERATION)
    return exchange, [f"demo-{number:04d}" for number in range(1, IDENTIFIERS_PER_CANCEL + 2)]


def assert_counted(registry: CollectorRegistry, started: float) -> None:
    value = registry.get_sample_value
    assert value("upbit_requests_total", {"operation": OPERATION}) == 4
    assert [value("upbit_answers_total", {"operation": OPERATION, "status": s}) for s in ("429", "200", "418")] == [
        1,
        1,
        1,
    ]
    assert value("upbit_rate_limited_total", {"group": GROUP}) == 1
    assert value("upbit_blocked_total", {"group": GROUP}) == 1
    assert (value("upbit_blocked_until_seconds") or 0) >= started + 60
    assert total(registry, "upbit_failed_total") == 1
    assert value("upbit_retries_total", {"operation": OPERATION, "reason": "transport_error"}) == 1
    assert value("upbit_retries_total", {"operation": OPERATION, "reason": "too_many_requests"}) == 1
    assert value("upbit_answer_seconds_count", {"operation": OPERATION}) == 3
    assert total(registry, "upbit_confirmed_ids_total") == 0  # the 418 stops the batch before any lookup


def test_the_example_counts_a_batch_with_one_429_one_418_and_one_lost_answer() -> None:
    registry, (exchange, ids), started = CollectorRegistry(), faulty_exchange(), time.time()
    metrics = example().UpbitMetrics(registry)
    with connect(
        "https://api.upbit.com",
        access_key=DEMO_ACCESS_KEY,
        secret_key=DEMO_SECRET_KEY,
        httpx_args={"transport": exchange.transport()},
        on_event=metrics,
    ) as client:
        cancel_orders(client, identifiers=ids, max_in_flight=1)
    assert_counted(registry, started)


@pytest.mark.anyio
async def test_the_example_counts_the_same_for_an_async_batch(anyio_backend: str) -> None:
    registry, (exchange, ids), started = CollectorRegistry(), faulty_exchange(), time.time()
    async with connect(
        "https://api.upbit.com",
        access_key=DEMO_ACCESS_KEY,
        secret_key=DEMO_SECRET_KEY,
        httpx_args={"transport": exchange.transport()},
        on_event=example().UpbitMetrics(registry),
    ) as client:
        await cancel_orders_async(client, identifiers=ids, max_in_flight=1)
    assert_counted(registry, started)


def test_the_example_run_as_a_script_prints_the_metrics_of_its_batch() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == "cancelled 3 of 3"
    assert f'upbit_requests_total{{operation="{OPERATION}"}} 3.0' in lines  # lost, 429, answered
    assert f'upbit_rate_limited_total{{group="{GROUP}"}} 1.0' in lines
    assert 'upbit_confirmed_ids_total{outcome="cancelled"} 3.0' in lines  # the lost answer, settled by a lookup

"""The sandbox's pytest plugin, used from the outside: a consumer's test files run by ``pytester``.

The consumer files hold no conftest and no import of the plugin: pytest finds it through the
``pytest11`` entry point of the installed sandbox distribution, as it would in another team's project.
Each run is a pytest process of its own, as a consumer's would be (and this process's modules and
limiters stay untouched).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from upbit_sandbox import DEMO_ACCESS_KEY

pytest_plugins = ("pytester",)
TESTING_MD = Path(__file__).resolve().parent.parent / "docs" / "testing.md"


def documented(marker: str) -> str:
    """The one python block of docs/testing.md holding ``marker``: the test runs what the page shows."""
    found = [
        block
        for block in re.findall(r"^```python\n(.*?)^```", TESTING_MD.read_text(encoding="utf-8"), re.M | re.S)
        if marker in block
    ]
    assert len(found) == 1, f"{len(found)} blocks of docs/testing.md hold {marker!r}"
    return str(found[0])


# The promise of issue 17: at most 10 lines, cancels orders, a 418 in one test, not blocked in the next.
CONSUMER = """\
from upbit_cancel import cancel_orders
from upbit_client import Client
from upbit_sandbox import SandboxExchange

def test_a_418_blocks_this_test(upbit_exchange: SandboxExchange, upbit_client: Client) -> None:
    upbit_exchange.faults.blocked(seconds=600)
    assert cancel_orders(upbit_client, identifiers=["demo-0001"]).blocked is not None

def test_the_next_test_is_not_blocked(upbit_client: Client) -> None:
    assert cancel_orders(upbit_client, identifiers=["demo-0001", "demo-0002"]).all_cancelled
"""

# The same two tests with clients of their own and no reset: the leak the fixtures close.
WITHOUT_THE_FIXTURES = """\
from upbit_cancel import cancel_orders, connect
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange

def run(blocked: bool) -> bool:
    exchange = SandboxExchange()
    exchange.seed_demo_orders()
    if blocked:
        exchange.faults.blocked(seconds=600)
    client = connect("https://api.upbit.com", access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY,
                     httpx_args={"transport": exchange.transport()})
    return cancel_orders(client, identifiers=["demo-0001"]).all_cancelled

def test_a_418_blocks_this_test() -> None:
    assert not run(blocked=True)

def test_the_next_test_is_not_blocked() -> None:
    assert run(blocked=False)
"""

ASYNC_CONSUMER = """\
import pytest
from upbit_cancel import cancel_orders_async
from upbit_client import Client
from upbit_sandbox import SandboxExchange

@pytest.mark.asyncio
async def test_async_code_cancels_on_the_sandbox(upbit_exchange: SandboxExchange, upbit_async_client: Client) -> None:
    upbit_exchange.faults.lose_answer()
    report = await cancel_orders_async(upbit_async_client, identifiers=["demo-0003", "demo-0004"])
    assert [order.confirmed_by for order in report.success] == ["lookup", "lookup"]
    assert upbit_exchange.order(report.success[0].uuid or "").state == "cancel"

def test_each_test_gets_a_fresh_exchange(upbit_exchange: SandboxExchange) -> None:
    assert upbit_exchange.requests == [] and len(upbit_exchange.orders("wait")) == 40
"""

OPENS_ITS_OWN = """\
import pytest
from upbit_cancel import cancel_orders, cancel_orders_async
from upbit_client import Client

def test_a_with_block_of_its_own(upbit_client: Client) -> None:
    with upbit_client as client:
        assert cancel_orders(client, identifiers=["demo-0001"]).all_cancelled

@pytest.mark.asyncio
async def test_an_async_with_block_of_its_own(upbit_async_client: Client) -> None:
    async with upbit_async_client as client:
        assert (await cancel_orders_async(client, identifiers=["demo-0001"])).all_cancelled
"""


# anyio's pytest plugin, both of its backends, beside pytest-asyncio in its default (strict) mode; a single
# generated call on the async fixture, with the sandbox's latency fault, and the client left open for the
# fixture to close. The backend check keeps the trio run honest: a plugin that ran it on asyncio would fail.
ANYIO_CONSUMER = """\
import pytest
import sniffio
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import SandboxExchange

@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)

@pytest.mark.anyio
async def test_a_call_on_either_loop(
    upbit_exchange: SandboxExchange, upbit_async_client: Client, anyio_backend: str
) -> None:
    assert sniffio.current_async_library() == anyio_backend
    upbit_exchange.faults.latency(0.05)
    response = await cancel_orders_by_ids.asyncio_detailed(client=upbit_async_client, identifiers=["demo-0001"])
    assert response.status_code == 200
    assert [(record.status, record.fault) for record in upbit_exchange.requests] == [(200, "latency")]
"""


# Faults queued and never taken: the first test queues two the single call never reaches, the second one a
# fault for an operation it never calls; the third opts out with the marker; the fourth failed already.
UNUSED_FAULTS = """\
import pytest
from upbit_cancel import cancel_orders
from upbit_client import Client
from upbit_sandbox import SandboxExchange

def test_two_faults_left(upbit_exchange: SandboxExchange, upbit_client: Client) -> None:
    upbit_exchange.faults.latency(0.01)
    upbit_exchange.faults.blocked(seconds=60, times=2)
    assert cancel_orders(upbit_client, identifiers=["demo-0001"], confirm=False).all_cancelled

def test_a_fault_for_another_operation(upbit_exchange: SandboxExchange, upbit_client: Client) -> None:
    upbit_exchange.faults.server_error(only="list_open_orders")
    assert cancel_orders(upbit_client, identifiers=["demo-0001"]).all_cancelled

@pytest.mark.upbit_allow_unused_faults(reason="the fault is there in case the bot retries")
def test_opted_out(upbit_exchange: SandboxExchange, upbit_client: Client) -> None:
    upbit_exchange.faults.reset()
    assert upbit_exchange.faults.pending

def test_failed_already(upbit_exchange: SandboxExchange) -> None:
    upbit_exchange.faults.reset()
    assert False, "the test's own failure"

def test_cleared(upbit_exchange: SandboxExchange) -> None:
    upbit_exchange.faults.reset()
    upbit_exchange.faults.clear()
"""


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A consumer project: no conftest, only the ini line pytest-asyncio asks every project for."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


def test_the_consumer_file_promised_by_issue_17_is_at_most_ten_lines() -> None:
    assert len(CONSUMER.splitlines()) <= 10


def test_a_consumer_test_injects_a_418_and_the_next_test_is_not_blocked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bot=CONSUMER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=2)


def test_without_the_fixtures_the_418_of_one_test_leaks_into_the_next(pytester: pytest.Pytester) -> None:
    """The control: what the fixtures' pacing reset is for (the bug reported in issue 17)."""
    pytester.makepyfile(test_bot=WITHOUT_THE_FIXTURES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_the_next_test_is_not_blocked*"])


def test_the_async_fixture_and_the_fault_api_work_for_async_code(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_async_bot=ASYNC_CONSUMER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_async_fixture_works_under_anyios_plugin_on_asyncio_and_trio(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_any_loop=ANYIO_CONSUMER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "-W", "error")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*test_a_call_on_either_loop?asyncio? PASSED*", "*test_a_call_on_either_loop?trio? PASSED*"]
    )


def test_a_consumer_may_open_and_close_the_fixtures_clients_itself(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_own_blocks=OPENS_ITS_OWN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_fixtures_are_listed_by_pytest_with_their_docs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing() -> None: pass\n")
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    # pytest lists a plugin's fixtures in no promised order: each is looked for on its own.
    for fixture, doc in (
        ("upbit_exchange", "*fresh verifying exchange*"),
        ("upbit_client", "*for sync code*"),
        ("upbit_async_client", "*for async code*"),
        ("upbit_https_server", "*over HTTPS (HTTP/1.1)*"),
        ("upbit_h2_server", "*HTTP/2 and HTTP/1.1 through ALPN*"),
    ):
        result.stdout.fnmatch_lines([f"{fixture} -- *", doc], consecutive=True)


def test_faults_a_test_never_used_fail_it_at_teardown_naming_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_faults=UNUSED_FAULTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "--strict-markers", "-rA")
    result.assert_outcomes(passed=4, failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_two_faults_left*",
            "*upbit_exchange: 2 queued faults never used: 2 x blocked(seconds=60).*upbit_allow_unused_faults*",
            "*ERROR at teardown of test_a_fault_for_another_operation*",
            "*1 queued fault never used: server_error(only='list_open_orders')*",
        ],
        consecutive=False,
    )
    # The opted-out test, the test that failed on its own and the one that cleared its faults are not flagged.
    for quiet in ("test_opted_out", "test_failed_already", "test_cleared"):
        assert f"ERROR at teardown of {quiet}" not in result.stdout.str()
    result.stdout.fnmatch_lines(["FAILED *test_failed_already - AssertionError*"])


def test_the_unused_faults_marker_is_registered_and_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["@pytest.mark.upbit_allow_unused_faults(reason)*no request took*"])


def test_the_documented_record_and_replay_setup_records_on_the_sandbox_and_replays_without_one(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_bot=documented("def recorded_client"))
    recorded = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--record-mode=once")
    recorded.assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_bot" / "test_my_bot_cancels_two_orders.yaml"
    text = cassette.read_text(encoding="utf-8")
    assert "/v1/orders/uuids" in text and "demo-0002" in text
    assert "eyJ" not in text and DEMO_ACCESS_KEY not in text
    # Replayed (pytest-recording's default mode, none) with no sandbox and every socket refused.
    replayed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--block-network")
    replayed.assert_outcomes(passed=1)


def test_the_documented_unused_faults_opt_out_passes_under_strict_markers_and_fails_without_it(
    pytester: pytest.Pytester,
) -> None:
    source = documented("@pytest.mark.upbit_allow_unused_faults")
    marker_line = next(line for line in source.splitlines() if "upbit_allow_unused_faults" in line)
    pytester.makepyfile(test_marked=source, test_unmarked=source.replace(marker_line + "\n", ""))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers", "-rA")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["ERROR test_unmarked.py::test_a_500_then_maybe_another - Failed: upbit_exchang*"])
    assert "ERROR test_marked.py" not in result.stdout.str()

"""Several pockets at once: the sandbox's pockets, the library's sweep over pockets, and the command.

Guarantees under test (docs/guarantees.md, "Several pockets"): in the sandbox a pocket's key lists and
cancels only its own pocket's orders (another pocket's uuid is answered as an order that does not exist),
each pocket has its own budget and its own 418; ``sweep_pockets`` (sync) and ``sweep_pockets_async`` cancel
each pocket's orders with that pocket's key only, side by side, and report each pocket apart;
``upbit-cancel --open --pocket a --pocket b --keys-file F`` does the same from the command line and refuses
a keys file others may read; a single ``--pocket`` with the usual variables works as before.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio
import pytest

from tests.conftest import set_upbit_env
from tests.faults import assert_every_id_once
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import CANCEL_PER_SECOND
from upbit_auth import UpbitAuth
from upbit_cancel import (
    PocketsCancelled,
    PocketsInterrupted,
    PocketsResult,
    cli,
    connect,
    connect_pockets,
    sweep_pockets,
    sweep_pockets_async,
)
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids, list_open_orders, list_orders_by_ids
from upbit_client.models import CancelOrdersResult
from upbit_sandbox import DEMO_ACCESS_KEY, Order, SandboxExchange, demo_uuid, pocket_access_key, pocket_secret_key
from upbit_sandbox.book import seed_open_orders
from upbit_sandbox.server import main as sandbox_main

SERVER = "https://api.upbit.com"


def pockets_book(names: tuple[str, ...] = ("a", "b", "c"), count: int = 60, **options: Any) -> SandboxExchange:
    exchange = SandboxExchange(credentials={}, **options)
    for name in names:
        exchange.add_pocket(name)
        seed_open_orders(exchange, count, pocket=name)
    return exchange


def raw_client(exchange: SandboxExchange, pocket: str) -> Client:
    auth = UpbitAuth(pocket_access_key(pocket), pocket_secret_key(pocket), pocket=pocket)
    return Client(base_url=SERVER, httpx_args={"auth": auth, "transport": exchange.transport()})


def clients(exchange: SandboxExchange, names: tuple[str, ...]) -> dict[str, Any]:
    transport = {"transport": exchange.transport()}
    return {
        name: connect(SERVER, access_key=pocket_access_key(name), secret_key=pocket_secret_key(name), pocket=name,
                      httpx_args=transport)
        for name in names
    }  # fmt: skip


def open_of(exchange: SandboxExchange, pocket: str) -> set[str]:
    return {o.uuid for o in exchange.orders() if o.pocket == pocket and o.state in ("wait", "watch")}


def cancelled_by(exchange: SandboxExchange) -> dict[str, str]:
    """Each uuid a cancel request named, with the pocket of the key that signed it."""
    named: dict[str, str] = {}
    for record in exchange.requests:
        if record.method == "DELETE" and record.access_key is not None:
            owner = exchange.owner_of(record.access_key)
            for key, value in parse_qsl(urlsplit(record.target).query):
                if key == "uuids[]":
                    named[value] = owner or "-"
    return named


# --- the sandbox ---------------------------------------------------------------------------------------


def test_a_pockets_key_lists_only_its_own_pockets_orders() -> None:
    exchange = pockets_book(("a", "b"), count=30)
    listed = list_open_orders.sync(client=raw_client(exchange, "a"), states=["wait", "watch"], limit=100)
    assert isinstance(listed, list)
    assert {order.uuid for order in listed} == open_of(exchange, "a")


def test_another_pockets_uuid_is_answered_as_an_order_that_does_not_exist() -> None:
    exchange = pockets_book(("a", "b"), count=4)
    theirs = next(iter(open_of(exchange, "b")))
    unknown = "00000000-0000-4000-8000-000000000000"
    answer = cancel_orders_by_ids.sync(client=raw_client(exchange, "a"), uuids=[theirs, unknown])
    assert isinstance(answer, CancelOrdersResult) and answer.failed is not None and answer.success is not None
    entries = {entry.uuid: entry.to_dict() for entry in answer.failed.orders or []}
    assert answer.success.count == 0
    assert entries[theirs] == {**entries[unknown], "uuid": theirs}  # the very answer an unknown uuid gets
    assert exchange.order(theirs).state in ("wait", "watch")
    looked_up = list_orders_by_ids.sync(client=raw_client(exchange, "a"), uuids=[theirs])
    assert looked_up == []


def test_each_pocket_has_a_budget_of_its_own() -> None:
    exchange = pockets_book(("a", "b"), count=4, rate_limit_per_second=2, clock=lambda: 100.5)
    statuses = {
        pocket: [list_open_orders.sync_detailed(client=raw_client(exchange, pocket)).status_code for _ in range(3)]
        for pocket in ("a", "b")
    }
    assert statuses == {"a": [200, 200, 429], "b": [200, 200, 429]}


def test_a_418_aimed_at_one_pocket_blocks_that_pocket_alone() -> None:
    exchange = pockets_book(("a", "b"), count=4)
    exchange.faults.blocked(seconds=60, pocket="b")
    assert list_open_orders.sync_detailed(client=raw_client(exchange, "a")).status_code == 200
    assert list_open_orders.sync_detailed(client=raw_client(exchange, "b")).status_code == 418


def test_the_shared_book_of_the_single_pocket_sandbox_is_seen_by_every_key() -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    exchange.add_credentials("second-key-0123456789", pocket_secret_key("x"), pocket="main")
    shared = seed_open_orders(exchange, 5)
    auth = UpbitAuth("second-key-0123456789", pocket_secret_key("x"))
    client = Client(base_url=SERVER, httpx_args={"auth": auth, "transport": exchange.transport()})
    listed = list_open_orders.sync(client=client, states=["wait", "watch"])
    assert isinstance(listed, list) and {o.uuid for o in listed} == {o.uuid for o in shared}


def test_pocket_demo_orders_carry_the_pockets_name() -> None:
    exchange = SandboxExchange(credentials={})
    orders = exchange.seed_demo_orders(open_orders=2, filled=1, cancelled=0, pocket="bot")
    assert [(o.identifier, o.pocket) for o in orders] == [("bot-0001", "bot"), ("bot-0002", "bot"),
                                                          ("bot-filled-0001", "bot")]  # fmt: skip


def test_the_sandbox_command_seeds_each_pocket_and_prints_its_keys_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import upbit_sandbox.server as server

    seen: list[SandboxExchange] = []

    def start(exchange: SandboxExchange, port: int = 0, tls: Any = None) -> Any:
        seen.append(exchange)
        raise OSError("not listening in this test")

    monkeypatch.setattr(server, "start_server", start)
    assert sandbox_main(["--pocket", "a", "--pocket", "b", "--orders", "3"]) == 1
    exchange = seen[0]
    assert Counter(o.pocket for o in exchange.orders("wait")) == {"demo": 3, "a": 3, "b": 3}
    assert exchange.owner_of(DEMO_ACCESS_KEY) == "demo"  # beside pockets, the demo orders are the demo key's
    assert exchange.owner_of(pocket_access_key("b")) == "b"
    assert sandbox_main(["--pocket", "demo-x"]) == 2
    assert "--pocket wants a name" in capsys.readouterr().err


# --- the library ---------------------------------------------------------------------------------------


def assert_own_keys_only(exchange: SandboxExchange, result: PocketsResult, names: tuple[str, ...]) -> None:
    by = cancelled_by(exchange)
    for name in names:
        report = result.reports[name]
        mine = {o.uuid for o in exchange.orders() if o.pocket == name}
        assert {order.uuid for order in report.success} == mine  # each pocket's report: its orders, all of them
        assert_every_id_once(report, sorted(mine))
        assert {by[uuid] for uuid in mine} == {name}  # each cancelled with its own pocket's key
        assert report.rate_limited == 0


def test_sweep_pockets_cancels_each_pockets_orders_with_its_own_key_only() -> None:
    names = ("a", "b", "c")
    exchange = pockets_book(names, count=120)
    result = sweep_pockets(clients(exchange, names))
    assert result.all_cancelled and not result.errors and list(result.reports) == list(names)
    assert_own_keys_only(exchange, result, names)
    assert set(result.to_dict()["pockets"]) == set(names)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
def test_sweep_pockets_async_cancels_each_pockets_orders_with_its_own_key_only(anyio_backend: str) -> None:
    names = ("a", "b")
    exchange = pockets_book(names, count=90)
    progress: list[tuple[int, int]] = []
    result = anyio.run(
        lambda: sweep_pockets_async(clients(exchange, names), on_progress=lambda *c: progress.append(c)),
        backend=anyio_backend,
    )
    assert result.all_cancelled
    assert_own_keys_only(exchange, result, names)
    assert progress[-1] == (180, 180)


def test_a_report_to_over_pockets_that_raises_costs_nothing_but_a_logged_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchange = pockets_book(("a",), count=10)

    def broken(report: PocketsResult) -> None:
        raise RuntimeError("a broken sink")

    result = anyio.run(lambda: sweep_pockets_async(clients(exchange, ("a",)), report_to=broken))
    assert result.all_cancelled and len(result.reports["a"].success) == 10
    assert "report_to callback raised; ignored" in caplog.text


def test_a_pocket_whose_key_is_refused_is_reported_and_the_others_are_swept() -> None:
    exchange = pockets_book(("a",), count=20)
    refused = connect(SERVER, access_key="not-issued-0123456789", secret_key=pocket_secret_key("zz"), pocket="zz",
                      httpx_args={"transport": exchange.transport()})  # fmt: skip
    result = sweep_pockets({**clients(exchange, ("a",)), "zz": refused})
    assert result.errors["zz"].name == "invalid_access_key" and not result.all_cancelled
    assert len(result.reports["a"].success) == 20


def test_three_pockets_are_swept_side_by_side_not_one_after_another() -> None:
    """Each pocket has its own budget, so their sweeps run at once: every pocket's first cancel reaches the
    exchange before any pocket's last (one after another, a pocket would start after the one before ended).
    How long that takes against one pocket is ``make bench`` section 16's to measure, not a unit test's."""
    count = CANCEL_PER_SECOND * 20 * 2  # two seconds of one pocket's budget
    three = pockets_book(("a", "b", "c"), count=count)
    assert sweep_pockets(clients(three, ("a", "b", "c"))).all_cancelled
    owners = [three.owner_of(r.access_key) for r in three.requests if r.method == "DELETE" and r.access_key]
    first = {name: owners.index(name) for name in ("a", "b", "c")}
    last = {name: len(owners) - 1 - owners[::-1].index(name) for name in ("a", "b", "c")}
    assert max(first.values()) < min(last.values()), f"first cancels {first}, last cancels {last}"


def test_a_cancelled_async_sweep_over_pockets_hands_every_pockets_report() -> None:
    import asyncio

    # Three seconds of each pocket's budget: no pocket is done by the cancel at 0.4 s. With 600 orders (one
    # window's worth) a pocket that learned the phase early was done in 2 of 25 runs, its report not interrupted.
    exchange = pockets_book(("a", "b"), count=CANCEL_PER_SECOND * 20 * 3, latency=0.02)
    handed: list[PocketsResult] = []

    async def run() -> PocketsResult:
        task = asyncio.ensure_future(sweep_pockets_async(clients(exchange, ("a", "b")), report_to=handed.append))
        await asyncio.sleep(0.4)
        task.cancel()
        with pytest.raises(PocketsCancelled) as cancelled:
            await task
        return cancelled.value.report

    report = asyncio.run(run())
    assert report.interrupted and handed == [report]
    assert set(report.reports) == {"a", "b"}
    for name, result in report.reports.items():
        mine = {o.uuid for o in exchange.orders() if o.pocket == name}
        reported = Counter(o.uuid for o in [*result.success, *result.failed]) + Counter(
            o.id for o in [*result.unconfirmed, *result.not_sent]
        )
        assert set(reported) <= mine and set(reported.values()) <= {1}  # its own orders, each once
        cancelled = {o.uuid for o in exchange.orders("cancel") if o.pocket == name}
        assert cancelled <= {o.uuid for o in result.success} | {o.id for o in result.unconfirmed}
        assert result.interrupted


def test_connect_pockets_signs_each_pocket_with_its_keys_file_table(tmp_path: Path) -> None:
    exchange = pockets_book(("a", "b"), count=10)
    path = write_keys_file(tmp_path, ("a", "b"))
    made = connect_pockets(
        ["a", "b"], SERVER, keys_file=path, environ={}, httpx_args={"transport": exchange.transport()}
    )
    assert {name: c.get_httpx_client().auth.access_key for name, c in made.items()} == {  # type: ignore[union-attr]
        "a": pocket_access_key("a"),
        "b": pocket_access_key("b"),
    }


# --- the command ---------------------------------------------------------------------------------------


def write_keys_file(tmp_path: Path, names: tuple[str, ...], mode: int = 0o600) -> str:
    path = tmp_path / "pockets.toml"
    path.write_text(
        "".join(f'[{n}]\naccess_key = "{pocket_access_key(n)}"\nsecret_key = "{pocket_secret_key(n)}"\n' for n in names)
    )
    path.chmod(mode)
    return str(path)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, TEST_SECRET_KEY)
    return monkeypatch


def test_the_command_sweeps_several_pockets_and_reports_each_apart(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = pockets_book(("a", "b"), count=50)
    path = write_keys_file(tmp_path, ("a", "b"))
    argv = ["--server-url", SERVER, "--open", "--pocket", "a", "--pocket", "b", "--keys-file", path, "--json"]
    assert cli.main(argv, transport=exchange.transport()) == cli.EXIT_OK
    out, err = capsys.readouterr()
    report = json.loads(out)
    for name in ("a", "b"):
        mine = {o.uuid for o in exchange.orders() if o.pocket == name}
        assert {o["uuid"] for o in report["pockets"][name]["success"]["orders"]} == mine
    assert set(cancelled_by(exchange).values()) == {"a", "b"}
    assert pocket_secret_key("a") not in out + err


def test_the_commands_table_puts_each_pocket_under_its_own_heading(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = pockets_book(("a", "b"), count=5)
    env.setenv("UPBIT_KEYS_FILE", write_keys_file(tmp_path, ("a", "b")))
    assert cli.main(["--server-url", SERVER, "--open", "--pocket", "a", "--pocket", "b"],
                    transport=exchange.transport()) == cli.EXIT_OK  # fmt: skip
    out = capsys.readouterr().out
    first, second = out.index("pocket a:"), out.index("pocket b:")
    a_uuid = next(iter(o.uuid for o in exchange.orders() if o.pocket == "a"))
    assert first < out.index(a_uuid) < second


def test_the_command_refuses_a_keys_file_others_may_read_and_sends_nothing(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = pockets_book(("a", "b"), count=5)
    path = write_keys_file(tmp_path, ("a", "b"), mode=0o644)
    argv = ["--server-url", SERVER, "--open", "--pocket", "a", "--pocket", "b", "--keys-file", path]
    assert cli.main(argv, transport=exchange.transport()) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "mode 0644" in err and "0600 or 0400" in err and exchange.requests == []


def test_several_pockets_without_their_keys_do_nothing_and_name_what_to_set(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = pockets_book(("a", "b"), count=5)
    argv = ["--server-url", SERVER, "--open", "--pocket", "a", "--pocket", "b"]
    assert cli.main(argv, transport=exchange.transport()) == cli.EXIT_NOTHING_DONE
    assert "UPBIT_POCKET_A_ACCESS_KEY" in capsys.readouterr().err and exchange.requests == []


def test_several_pockets_cancel_by_open_only(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    exchange = pockets_book(("a", "b"), count=5)
    argv = ["--server-url", SERVER, "--uuid", "x", "--pocket", "a", "--pocket", "b"]
    assert cli.main(argv, transport=exchange.transport()) == cli.EXIT_USAGE
    assert "add --open" in capsys.readouterr().err


def test_a_single_pocket_with_the_usual_variables_works_as_before(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = SandboxExchange(credentials={})
    exchange.add_credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY, pocket="main")
    orders: list[Order] = seed_open_orders(exchange, 30)
    argv = ["--server-url", SERVER, "--open", "--pocket", "main", "--json"]
    assert cli.main(argv, transport=exchange.transport()) == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert "pockets" not in report and report["success"]["count"] == len(orders)
    assert {r.access_key for r in exchange.requests} == {TEST_ACCESS_KEY}


def test_a_keys_file_without_a_pocket_is_a_usage_error(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = pockets_book(("a",), count=5)
    argv = ["--server-url", SERVER, "--open", "--keys-file", write_keys_file(tmp_path, ("a",))]
    assert cli.main(argv, transport=exchange.transport()) == cli.EXIT_USAGE
    assert "--pocket NAME" in capsys.readouterr().err


def test_a_single_pocket_takes_its_keys_file_table_over_the_usual_pair(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = pockets_book(("a",), count=5)
    argv = ["--server-url", SERVER, "--open", "--pocket", "a", "--keys-file", write_keys_file(tmp_path, ("a",))]
    assert cli.main(argv, transport=exchange.transport()) == cli.EXIT_OK
    assert {r.access_key for r in exchange.requests} == {pocket_access_key("a")}
    assert pocket_secret_key("a") not in "".join(capsys.readouterr())


def test_ctrl_c_during_a_sync_sweep_over_pockets_stops_every_pocket_and_raises_the_whole_report() -> None:
    count = CANCEL_PER_SECOND * 20 * 3  # three seconds of each pocket's budget: Ctrl-C lands well before the end
    exchange = pockets_book(("a", "b"), count=count)

    def progress(done: int, total: int) -> None:
        if done > 0:
            raise KeyboardInterrupt  # what Ctrl-C does in the calling thread

    with pytest.raises(PocketsInterrupted) as interrupted:
        sweep_pockets(clients(exchange, ("a", "b")), on_progress=progress)
    report = interrupted.value.report
    assert report.interrupted and set(report.reports) == {"a", "b"}
    for name, result in report.reports.items():
        assert result.interrupted and result.not_sent, name  # each pocket stopped, with orders left unsent
        cancelled = {o.uuid for o in exchange.orders("cancel") if o.pocket == name}
        assert cancelled <= {o.uuid for o in result.success} | {o.id for o in result.unconfirmed}


def test_a_single_pockets_keys_file_open_to_others_is_refused_too(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = pockets_book(("a",), count=5)
    path = write_keys_file(tmp_path, ("a",), mode=0o640)
    argv = ["--server-url", SERVER, "--open", "--pocket", "a", "--keys-file", path]
    assert cli.main(argv, transport=exchange.transport()) == cli.EXIT_USAGE
    assert "mode 0640" in capsys.readouterr().err and exchange.requests == []


def test_sigint_during_a_sweep_over_pockets_prints_every_pockets_report_and_exits_130(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from upbit_sandbox import start_server

    # 10 requests a second per pocket: 600 orders each (6 listings + 30 cancels) take about 4 s.
    exchange = pockets_book(("a", "b"), count=600, rate_limit_per_second=10)
    server, url = start_server(exchange)
    env = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}
    env["UPBIT_KEYS_FILE"] = write_keys_file(tmp_path, ("a", "b"))
    try:
        argv = [str(Path(sys.executable).parent / "upbit-cancel"), "--open", "--json", "--server-url", url]
        child = subprocess.Popen([*argv, "--pocket", "a", "--pocket", "b"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
        deadline = time.monotonic() + 20
        while len(exchange.requests) < 24 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        server.stop()
    assert child.returncode == cli.EXIT_INTERRUPTED, err
    report = json.loads(out)
    assert report["interrupted"] is True and set(report["pockets"]) == {"a", "b"}
    groups = ("success", "failed", "unconfirmed", "not_sent")
    for name, pocket in report["pockets"].items():
        reported = [order["uuid"] for group in groups for order in pocket[group]["orders"]]
        mine = {o.uuid for o in exchange.orders() if o.pocket == name}
        assert len(reported) == len(set(reported)) and set(reported) <= mine  # its own orders, each once
        cancelled = {o.uuid for o in exchange.orders("cancel") if o.pocket == name}
        assert cancelled <= {o["uuid"] for g in ("success", "unconfirmed") for o in pocket[g]["orders"]}
    assert len(exchange.orders("cancel")) < 1200 and "Traceback" not in err
    assert pocket_secret_key("a") not in out + err


def test_the_pytest_plugins_pockets_fixture_gives_each_pocket_its_book_and_client(upbit_pockets: Any) -> None:
    upbit_pockets.add("a", orders=10)
    upbit_pockets.add("b", orders=5)
    result = sweep_pockets(upbit_pockets.clients)
    assert {name: len(r.success) for name, r in result.reports.items()} == {"a": 10, "b": 5}
    by = cancelled_by(upbit_pockets.exchange)
    for name, count in (("a", 10), ("b", 5)):
        labels = {demo_uuid(f"{name}-{n:04d}") for n in range(1, count + 1)}
        assert {o.uuid for o in result.reports[name].success} == labels  # its open demo orders, all of them
        assert {by[uuid] for uuid in labels} == {name}  # cancelled with its own key


def test_a_pocket_whose_key_is_refused_leaves_the_others_swept_and_the_command_exits_1(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = pockets_book(("a",), count=5)
    path = Path(write_keys_file(tmp_path, ("a",)))
    path.write_text(
        path.read_text() + '[zz]\naccess_key = "not-issued-0123456789"\nsecret_key = "x-0123456789abcdef"\n'
    )
    argv = ["--server-url", SERVER, "--open", "--pocket", "a", "--pocket", "zz", "--keys-file", str(path), "--json"]
    assert cli.main(argv, transport=exchange.transport()) == cli.EXIT_INCOMPLETE
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["pockets"]["a"]["success"]["count"] == 5
    assert report["pockets"]["zz"]["error"]["name"] == "invalid_access_key"
    assert "pocket zz: nothing could be done" in err and "x-0123456789abcdef" not in out + err
    only_bad = ["--server-url", SERVER, "--open", "--pocket", "zz", "--pocket", "a", "--keys-file", str(path)]
    assert cli.main(only_bad, transport=SandboxExchange(credentials={}).transport()) == cli.EXIT_NOTHING_DONE


def test_a_stdout_that_cannot_take_the_pockets_report_keeps_the_cancels_and_counts_each_pocket(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    from upbit_sandbox import start_server

    exchange = pockets_book(("a", "b"), count=30)
    server, url = start_server(exchange)
    env = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}
    env["UPBIT_KEYS_FILE"] = write_keys_file(tmp_path, ("a", "b"))
    command = str(Path(sys.executable).parent / "upbit-cancel")
    argv = ["sh", "-c", 'exec >&-; exec "$0" "$@"', command, "--open", "--server-url", url, "--pocket", "a",
            "--pocket", "b"]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    finally:
        server.stop()
    assert done.returncode == cli.EXIT_REPORT_LOST, done.stderr
    assert {order.state for order in exchange.orders()} == {"cancel"}  # the cancels stand
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "the report could not be written to stdout" in done.stderr
    for name in ("a", "b"):
        assert f"pocket {name}: 30 cancelled, 0 failed, 0 unconfirmed, 0 not sent" in done.stderr

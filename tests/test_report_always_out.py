"""``upbit-cancel`` always writes its report once ids were read: signals and broken stdouts cannot lose it.

Guarantees under test (docs/guarantees.md, "The report always comes out"), each with the installed
command against the loopback sandbox:

- each signal of ``INTERRUPT_SIGNALS`` (HUP, INT, TERM, QUIT, USR1, USR2, ALRM), sent mid-batch or while
  the report is written to a slow reader, ends in the whole report and exit 128 + its number (the
  signal table below);
- a signal at any moment after the ids were read ends in the report with every id once, exit 128 + n:
  the test holds the child at a known point (an import hook from a ``sitecustomize.py`` of its own,
  as ``tests/test_startup_interrupt.py`` does) and signals it there, so no timing guess decides
  which window is tried;
- signals while the report is written to a slow reader do not cut it: the whole report, then 128 + the
  first signal's number;
- a stdout that is closed or full: the cancels stand, one line on stderr with the counts, exit 4.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_cancel import BatchCancelled, cancel_orders, cancel_orders_async, connect
from upbit_cancel.cli import EXIT_REPORT_LOST
from upbit_cancel.interrupts import INTERRUPT_SIGNALS, REPORT_GRACE_SECONDS
from upbit_client import Client
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, start_server

UPBIT_CANCEL = Path(sys.executable).parent / "upbit-cancel"
GROUPS = ("success", "failed", "unconfirmed", "not_sent")

# The child's sitecustomize: once HOLD_AT's module ("module:function") is loaded, its function writes
# HOLD_MARKER when called and waits for HOLD_RELEASE before running (HOLD_WHEN=after: after it returned).
HOLD_A_FUNCTION = textwrap.dedent(
    """
    import importlib.util, os, sys, time

    MODULE, FUNCTION = os.environ["HOLD_AT"].split(":")

    class Hold:
        def find_spec(self, name, path=None, target=None):
            if name != MODULE:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            run_module = spec.loader.exec_module

            def exec_module(module):
                run_module(module)
                original = getattr(module, FUNCTION)

                def hold():
                    open(os.environ["HOLD_MARKER"], "w").close()
                    deadline = time.monotonic() + 60
                    while not os.path.exists(os.environ["HOLD_RELEASE"]) and time.monotonic() < deadline:
                        time.sleep(0.01)

                def held(*args, **kwargs):
                    if os.environ.get("HOLD_WHEN") == "after":
                        result = original(*args, **kwargs)
                        hold()
                        return result
                    hold()
                    return original(*args, **kwargs)

                setattr(module, FUNCTION, held)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Hold())
    """
)


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxExchange, str]]:
    exchange = SandboxExchange(rate_limit_per_second=None)
    server, url = start_server(exchange)
    try:
        yield exchange, url
    finally:
        server.stop()


def command_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}
    return env | {"UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY, "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY} | extra


def ids_file(tmp_path: Path, exchange: SandboxExchange, count: int) -> tuple[Path, list[str]]:
    ids = [exchange.add_order(f"o-{n:05d}").uuid for n in range(count)]
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(ids) + "\n", encoding="utf-8")
    return path, ids


def reported(report: dict[str, Any]) -> list[str]:
    return sorted(order["uuid"] for group in GROUPS for order in report[group]["orders"])


def wait_for(path: Path, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60  # a loaded machine may take seconds to start Python
    while not path.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            out, err = child.communicate()
            pytest.fail(f"upbit-cancel never reached the hold (status {child.returncode}):\n{out}\n{err}")
        time.sleep(0.01)


def run_held(
    tmp_path: Path, url: str, path: Path, hold_at: str, signum: int, when: str = "before"
) -> tuple[int, str, str]:
    """Run the command on ``path``'s ids, held at ``hold_at``; signal it there, release it, return its outcome."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOLD_A_FUNCTION, encoding="utf-8")
    marker, release = tmp_path / "held", tmp_path / "release"
    env = command_env(
        PYTHONPATH=os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
        HOLD_AT=hold_at,
        HOLD_WHEN=when,
        HOLD_MARKER=str(marker),
        HOLD_RELEASE=str(release),
    )
    argv = [str(UPBIT_CANCEL), "--uuids-from", str(path), "--json", "--server-url", url]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wait_for(marker, child)
    # The signal is pending in the child before the release exists: the child, polling in its hold,
    # runs the handler before it can see the release.
    child.send_signal(signum)
    release.touch()
    out, err = child.communicate(timeout=60)
    return child.returncode, out, err


@pytest.mark.parametrize(
    "hold_at",
    [
        "upbit_cancel.client:connect",  # ids read, the client not yet built, the event loop not started
        "upbit_cancel.batch:_prepare",  # inside the batch, before its first request
    ],
    ids=["before-the-loop", "as-sending-starts"],
)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_as_sending_starts_still_reports_every_id_and_exits_128_plus_its_number(
    tmp_path: Path, sandbox: tuple[SandboxExchange, str], hold_at: str, signum: int
) -> None:
    exchange, url = sandbox
    path, ids = ids_file(tmp_path, exchange, 100)
    status, out, err = run_held(tmp_path, url, path, hold_at, signum)
    assert status == 128 + signum, err
    assert "Traceback" not in err and err.count("\n") == 1
    report = json.loads(out)
    assert reported(report) == sorted(ids)  # every id exactly once
    not_sent = {order["uuid"] for order in report["not_sent"]["orders"]}
    open_now = {order.uuid for order in exchange.orders() if order.state == "wait"}
    assert not_sent <= open_now  # what is called not sent is still open
    # The signal came before the first request: nothing goes out, not even the requests queued to start.
    assert exchange.requests == [] and not_sent == set(ids)


# --- the signal table: every signal that would kill the command, mid-batch and mid-write --------------

# Written out, not read from the code: the table is what the issue and the README promise.
SIGNAL_NAMES = ("SIGHUP", "SIGINT", "SIGTERM", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")
SIGNAL_TABLE = [pytest.param(getattr(signal, name), id=name) for name in SIGNAL_NAMES]


def test_the_command_takes_every_signal_of_the_table_and_no_other() -> None:
    assert {signal.Signals(signum).name for signum in INTERRUPT_SIGNALS} == set(SIGNAL_NAMES)


@pytest.mark.parametrize("signum", SIGNAL_TABLE)
def test_each_signal_mid_batch_leaves_the_whole_report_and_exits_128_plus_its_number(
    tmp_path: Path, signum: int
) -> None:
    # Every answer 0.2 s late: when the first answers are in, more requests are in flight and more wait.
    exchange = SandboxExchange(rate_limit_per_second=None, latency=0.2)
    server, url = start_server(exchange)
    try:
        path, ids = ids_file(tmp_path, exchange, 1000)
        argv = [str(UPBIT_CANCEL), "--uuids-from", str(path), "--json", "--server-url", url]
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=command_env())
        deadline = time.monotonic() + 60
        while len(exchange.requests) < 2 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        child.send_signal(signum)
        out, err = child.communicate(timeout=60)
    finally:
        server.stop()
    assert child.returncode == 128 + signum, err
    assert "Traceback" not in err and err.count("\n") == 1 and "interrupted" in err
    report = json.loads(out)
    assert reported(report) == sorted(ids)  # every id exactly once
    not_sent = {order["uuid"] for order in report["not_sent"]["orders"]}
    success = {order["uuid"] for order in report["success"]["orders"]}
    assert success and not_sent, "the signal came mid-batch: some answered, some never sent"
    assert not_sent <= {order.uuid for order in exchange.orders("wait")}  # what is called not sent is still open


@pytest.mark.parametrize("signum", SIGNAL_TABLE)
def test_each_signal_mid_write_leaves_the_whole_report_and_exits_128_plus_its_number(
    tmp_path: Path, sandbox: tuple[SandboxExchange, str], signum: int
) -> None:
    exchange, url = sandbox
    path, ids = ids_file(tmp_path, exchange, 1000)  # a JSON report of ~100 KB: more than a pipe holds
    argv = [str(UPBIT_CANCEL), "--uuids-from", str(path), "--json", "--server-url", url, "--no-confirm"]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=command_env(), bufsize=0)
    assert child.stdout is not None
    first = child.stdout.read(1)  # the child is writing the report now, and blocked on the full pipe
    child.send_signal(signum)
    rest, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signum, err
    report = json.loads(first + rest)
    assert reported(report) == sorted(ids) and report["success"]["count"] == len(ids)
    assert err.decode().count("\n") == 1 and "report above is complete" in err.decode()


@pytest.mark.parametrize(
    "signals",
    [[signal.SIGTERM], [signal.SIGINT], [signal.SIGTERM] * 5, [signal.SIGINT, signal.SIGTERM, signal.SIGINT]],
    ids=["SIGTERM", "SIGINT", "5xSIGTERM", "mixed"],
)
def test_signals_while_the_report_is_written_to_a_slow_reader_do_not_cut_it(
    tmp_path: Path, sandbox: tuple[SandboxExchange, str], signals: list[int]
) -> None:
    exchange, url = sandbox
    path, ids = ids_file(tmp_path, exchange, 2000)  # a JSON report of ~200 KB: more than a pipe holds
    argv = [str(UPBIT_CANCEL), "--uuids-from", str(path), "--json", "--server-url", url, "--no-confirm"]
    # Unbuffered: what this test reads first is one byte, and the rest is left for communicate().
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=command_env(), bufsize=0)
    assert child.stdout is not None
    first = child.stdout.read(1)  # the child is writing the report now, and blocked on the full pipe
    for signum in signals:
        child.send_signal(signum)
        time.sleep(0.02)
    rest, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signals[0], err  # the first signal's number
    report = json.loads(first + rest)
    assert reported(report) == sorted(ids) and report["success"]["count"] == len(ids)
    assert err.decode().count("\n") == 1 and "report above is complete" in err.decode()


@pytest.mark.parametrize("redirect", ["exec >&-", "exec >/dev/full"], ids=["stdout-closed", "stdout-full"])
@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_a_stdout_that_cannot_take_the_report_keeps_the_cancels_and_says_so_in_one_line(
    tmp_path: Path, sandbox: tuple[SandboxExchange, str], redirect: str, as_json: bool
) -> None:
    if redirect.endswith("/dev/full") and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    exchange, url = sandbox
    path, _ = ids_file(tmp_path, exchange, 37)
    script = f'{redirect}; exec "$0" "$@"'
    argv = ["sh", "-c", script, str(UPBIT_CANCEL), "--uuids-from", str(path), "--server-url", url]
    done = subprocess.run(
        argv + (["--json"] if as_json else []), capture_output=True, text=True, env=command_env(), timeout=60
    )
    assert done.returncode == EXIT_REPORT_LOST, done.stderr
    assert {order.state for order in exchange.orders()} == {"cancel"}  # the cancels stand
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("upbit-cancel: error: the report could not be written to stdout: ")
    assert "37 cancelled, 0 failed, 0 unconfirmed, 0 not sent" in done.stderr


@pytest.mark.slow
def test_a_reader_that_stops_reading_after_a_signal_cannot_hold_the_command(
    tmp_path: Path, sandbox: tuple[SandboxExchange, str]
) -> None:
    exchange, url = sandbox
    path, _ = ids_file(tmp_path, exchange, 2000)
    argv = [str(UPBIT_CANCEL), "--uuids-from", str(path), "--json", "--server-url", url, "--no-confirm"]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=command_env(), bufsize=0)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.read(1)  # writing now; this reader takes nothing more
    child.send_signal(signal.SIGTERM)
    status = child.wait(timeout=REPORT_GRACE_SECONDS + 30)
    err = child.stderr.read().decode()
    child.stdout.close()
    child.stderr.close()
    assert status == EXIT_REPORT_LOST, err
    assert err.count("\n") == 1 and "the report could not be written to stdout" in err
    assert "2000 cancelled" in err and {order.state for order in exchange.orders()} == {"cancel"}


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGUSR1], ids=["SIGINT", "SIGTERM", "SIGUSR1"]
)
def test_a_signal_after_the_report_while_the_command_exits_keeps_the_status(
    tmp_path: Path, sandbox: tuple[SandboxExchange, str], signum: int
) -> None:
    # Held after ``cli.main`` returned, before the process exits: the signal must not kill it.
    exchange, url = sandbox
    path, ids = ids_file(tmp_path, exchange, 5)
    status, out, err = run_held(tmp_path, url, path, "upbit_cancel.cli:main", signum, when="after")
    assert status == 0, err  # all cancelled, as the report says: the late signal changes nothing
    assert reported(json.loads(out)) == sorted(ids) and err == ""


async def test_the_async_batch_cancelled_as_it_starts_sends_nothing_and_reports_every_id() -> None:
    # As a signal handler on the event loop (``loop.add_signal_handler``) or the command's own handler
    # (``loop.call_soon_threadsafe``) does: the cancel is a callback, queued just before the workers start.
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    ids = [exchange.add_order().uuid for _ in range(100)]

    def cancel_as_it_starts(done: int, total: int) -> None:
        task = asyncio.current_task()
        if done == 0 and task is not None:  # called once the ids are checked, before any request
            asyncio.get_running_loop().call_soon(task.cancel)

    client = connect(
        "https://api.upbit.com",
        access_key=TEST_ACCESS_KEY,
        secret_key=TEST_SECRET_KEY,
        httpx_args={"transport": exchange.transport()},
    )
    async with client:
        with pytest.raises(BatchCancelled) as cancelled:
            await cancel_orders_async(client, uuids=ids, on_progress=cancel_as_it_starts)
        asyncio.current_task().uncancel()  # type: ignore[union-attr]
    assert exchange.requests == []
    assert sorted(order.id for order in cancelled.value.report.not_sent) == sorted(ids)


def current_handlers() -> dict[str, object]:
    return {name: signal.getsignal(getattr(signal, name)) for name in SIGNAL_NAMES}


def test_the_library_installs_no_signal_handler_of_its_own_sync_or_async() -> None:
    # Only the command takes the signals: a program calling the library keeps its own, during the batch too.
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    ids = [exchange.add_order().uuid for _ in range(45)]
    seen: list[tuple[dict[str, object], dict[str, object]]] = []  # (the caller's handlers, during the batch)
    caller: dict[str, object] = {}

    def on_progress(done: int, total: int) -> None:
        seen.append((caller, current_handlers()))

    def client() -> Client:
        return connect(
            "https://api.upbit.com",
            access_key=TEST_ACCESS_KEY,
            secret_key=TEST_SECRET_KEY,
            httpx_args={"transport": exchange.transport()},
        )

    async def run_async() -> None:
        nonlocal caller
        caller = current_handlers()  # asyncio.run's own SIGINT handler is the caller's, not the library's
        async with client() as async_client:
            await cancel_orders_async(async_client, uuids=ids[20:], on_progress=on_progress)

    before = caller = current_handlers()
    with client() as sync_client:
        cancel_orders(sync_client, uuids=ids[:20], on_progress=on_progress)
    asyncio.run(run_async())
    assert len({id(handlers) for handlers, _ in seen}) == 2  # both the sync and the async batch reported
    assert all(during == handlers for handlers, during in seen)
    assert current_handlers() == before

"""The secret key and the signed token never leak: logs at DEBUG, exceptions, reprs, CLI output, cassettes, bench.

Every scenario runs with a known, unmistakable secret and then scans everything a user or a log
shipper could see for it, and the logs also for any ``Authorization``/``Bearer`` value or JWT.
What httpx and httpcore log at DEBUG was checked here: httpx logs the request line and status,
httpcore the connection events and the *response* headers; neither logs request headers, so the
library installs no redaction filter (this test would catch a change in that).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import set_upbit_env
from tests.faults import (
    Delegate,
    FaultServer,
    LoseAnswer,
    Reply,
    ResetBeforeAnswer,
    error_reply,
    first,
    html_reply,
    refused_url,
)
from upbit_auth import UpbitAuth
from upbit_cancel.batch import cancel_orders, cancel_orders_async
from upbit_cancel.cli import main
from upbit_cancel.errors import unwrap
from upbit_cancel.ratelimit import RateLimiter
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import DEMO_SECRET_KEY, SandboxExchange

ROOT = Path(__file__).resolve().parent.parent
ACCESS = "leak-test-access-key-000000000000000000"
SECRET = "LEAK-CANARY-" + "7f3c9e1a5b2d4f6081a3c5e7092b4d6f"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
LOGGERS = ("", "httpx", "httpcore", "h11", "upbit_auth", "upbit_cancel", "upbit_client", "asyncio")


class Capture(logging.Handler):
    """Keeps every record, rendered fully: message, args, exception text and stack."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(f"{self.format(record)} {record.args!r} {record.__dict__!r}" for record in self.records)


@pytest.fixture
def logs() -> Iterator[Capture]:
    capture = Capture()
    saved = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger().addHandler(capture)
    yield capture
    logging.getLogger().removeHandler(capture)
    for name, (level, propagate) in saved.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).propagate = propagate


def assert_clean(text: str, where: str, *, tokens: bool = True) -> None:
    assert SECRET not in text, f"the secret key leaked into {where}"
    if tokens:
        assert "Bearer " not in text, f"an Authorization value leaked into {where}"
        assert JWT.search(text) is None, f"a signed JWT leaked into {where}: {JWT.search(text)}"


def exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(getattr(exc, "__dict__", {}))


def test_library_paths_leak_nothing_into_debug_logs_exceptions_or_reprs(logs: Capture) -> None:
    exchange = SandboxExchange(credentials={ACCESS: SECRET}, rate_limit_per_second=None)
    ids = [exchange.add_order(str(uuid.uuid4())).uuid for _ in range(45)]
    auth = UpbitAuth(ACCESS, SECRET)
    seen: list[str] = [repr(auth), str(auth), repr(auth._secret)]
    scripts = [
        first(0, Delegate()),
        first(1, LoseAnswer()),
        first(1, ResetBeforeAnswer()),
        first(1, html_reply(502)),
        first(2, Reply(200, "not json")),
        first(1, error_reply(401, "jwt_verification", "bad token")),
        first(1, error_reply(418, "blocked", "Blocked for 60 seconds.")),
    ]
    for script in scripts:
        with FaultServer(script, backend=exchange) as server:
            client = Client(base_url=server.url, timeout=httpx.Timeout(0.5), httpx_args={"auth": auth})
            seen.append(repr(client))
            with client:
                try:
                    unwrap(cancel_orders_by_ids.sync_detailed(client=client, uuids=ids[:3]))
                except Exception as exc:
                    seen.append(exception_text(exc))
                result = cancel_orders(client, uuids=ids, limiter=RateLimiter("default", None), max_tries=2)
                seen.append(repr(result) + repr(result.to_dict()))

            async def go(url: str) -> None:
                async with Client(base_url=url, timeout=httpx.Timeout(0.5), httpx_args={"auth": auth}) as client:
                    result = await cancel_orders_async(
                        client, uuids=ids, limiter=RateLimiter("default", None), max_tries=2
                    )
                    seen.append(repr(result))

            asyncio.run(go(server.url))
            # The server did receive the token (proof the scan would see one if the client leaked it).
            assert JWT.search(server.requests[0].headers["authorization"])
    with Client(base_url=refused_url(), httpx_args={"auth": auth}) as client:
        try:
            cancel_orders_by_ids.sync_detailed(client=client, uuids=ids[:1])
        except httpx.TransportError as exc:
            seen.append(exception_text(exc))
            assert exc.request is not None
            seen.append(repr(exc.request) + repr(exc.request.headers))
    assert len(logs.records) > 20, "the scenario should have produced DEBUG records from httpx/httpcore/upbit_cancel"
    assert {record.name.split(".")[0] for record in logs.records} >= {"httpx", "httpcore", "upbit_cancel"}
    assert_clean(logs.text(), "log records")
    for number, text in enumerate(seen):
        assert_clean(text, f"exception/repr #{number}")


def test_the_request_really_carries_the_token_the_scan_looks_for() -> None:
    """Guards the scan itself: the JWT pattern matches what UpbitAuth puts on the wire."""
    request = httpx.Request("DELETE", "https://api.upbit.com/v1/orders/uuids", params={"uuids[]": ["a"]})
    signed = next(UpbitAuth(ACCESS, SECRET).auth_flow(request))
    assert JWT.fullmatch(signed.headers["Authorization"].removeprefix("Bearer "))
    with pytest.raises(AssertionError):
        assert_clean(signed.headers["Authorization"], "a header")
    assert "[secure]" in repr(signed.headers)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Like the shared ``cli_env``, with this module's canary secret."""
    set_upbit_env(monkeypatch, ACCESS, SECRET)
    yield


def test_cli_output_and_logs_never_show_the_secret(
    cli_env: None, logs: Capture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    exchange = SandboxExchange(credentials={ACCESS: SECRET}, rate_limit_per_second=None)
    ids = [exchange.add_order(str(uuid.uuid4())).uuid for _ in range(25)]
    outputs: list[str] = []
    for script in (first(0, Delegate()), first(1, LoseAnswer()), first(9, error_reply(401, "jwt_verification", "no"))):
        with FaultServer(script, backend=exchange) as server:
            for extra in ([], ["--json"]):
                main(["--server-url", server.url, "--timeout", "2", *extra, "--uuid", *ids])
                outputs.append("".join(capsys.readouterr()))
    bad_inputs = [
        ["--uuid", SECRET + "\x01"],  # an id containing the secret: echoed redacted, never verbatim
        ["--server-url", f"http://{SECRET}@127.0.0.1:1", "--uuid", "a"],
        ["--uuids-from", str(tmp_path / "missing.txt")],
        ["--server-url", refused_url(), "--timeout", "1", "--uuid", "a"],
    ]
    for argv in bad_inputs:
        main(argv)
        outputs.append("".join(capsys.readouterr()))
    assert any("cancelled" in text for text in outputs)
    for number, text in enumerate(outputs):
        assert_clean(text, f"CLI output #{number}")
    assert_clean(logs.text(), "log records of the CLI runs")


def test_cassettes_hold_no_secret_and_no_token() -> None:
    """Every recorded cassette (if any are committed) is scanned for known secrets, bearer values and JWTs."""
    cassettes = sorted((ROOT / "tests" / "cassettes").rglob("*")) if (ROOT / "tests" / "cassettes").exists() else []
    for path in (p for p in cassettes if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        for secret in (SECRET, DEMO_SECRET_KEY, "test-secret-KEEP-OUT-OF-LOGS"):
            assert secret not in text, f"{path} holds a secret key"
        assert JWT.search(text) is None, f"{path} holds a signed token"


BENCH_QUICK_LIMIT = 200.0
"""Seconds ``bench/run.py --quick`` may take: 25-40 s on a quiet machine, over 100 s at a load of 9 on 2 cores
(it starts sandboxes, Redis and several interpreters); under the test's own pytest-timeout of 240 s."""


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_bench_quick_output_has_no_secret() -> None:
    bench = ROOT / "bench" / "run.py"
    assert bench.exists()
    # In a session of its own, so that a run that hangs is stopped with its sandboxes, workers and
    # redis-server; -X faulthandler makes the SIGABRT print where each of its threads was.
    with subprocess.Popen(
        [sys.executable, "-X", "faulthandler", str(bench), "--quick"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
    ) as process:  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=BENCH_QUICK_LIMIT)
            hung = False
        except subprocess.TimeoutExpired:
            hung = True
            process.send_signal(signal.SIGABRT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
    if hung:
        pytest.fail(f"bench --quick ran over {BENCH_QUICK_LIMIT:.0f} s; it printed:\n{stdout}\n{stderr[-4000:]}")
    output: Any = stdout + stderr
    assert process.returncode == 0, output[-2000:]
    assert DEMO_SECRET_KEY not in output
    assert JWT.search(output) is None
    assert "Bearer " not in output

"""Shared fixtures: a recording MockTransport and a generated client signed by UpbitAuth."""

from __future__ import annotations

import fcntl
import inspect
import json
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults import FaultServer
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel.ratelimit import reset_limiters
from upbit_client import Client
from upbit_sandbox import SandboxExchange


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Iterator[None]:
    """Async tests run on asyncio (pytest-asyncio), except those marked ``anyio``: anyio's plugin runs them
    on the backend of their ``anyio_backend`` fixture (asyncio and trio, below).

    Why not pytest-asyncio's auto mode: it claims every ``async def`` test, ``anyio``-marked ones included,
    and runs them on asyncio whatever ``anyio_backend`` says (a trio case passed without trio running).
    In strict mode it takes only tests marked ``asyncio``; this hook, inside pytest-asyncio's own (trylast),
    marks every other async test so before pytest-asyncio looks.
    """
    outcome = yield
    found = outcome.get_result()
    for item in found if isinstance(found, list) else [found]:
        is_async = isinstance(item, pytest.Function) and inspect.iscoroutinefunction(getattr(item, "obj", None))
        if is_async and item.get_closest_marker("anyio") is None and item.get_closest_marker("asyncio") is None:
            item.add_marker(pytest.mark.asyncio)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The event loops an ``anyio``-marked test runs on: each such test runs once on each."""
    return str(request.param)


def _trust_the_system_ca_directory() -> None:
    """No test speaks TLS (every server here is plain HTTP on loopback), yet every httpx client builds an
    SSL context, and with ``SSL_CERT_FILE`` set it parses that whole CA bundle: ~50 ms of CPU for each of
    the hundreds of clients of a run (the CLI's processes included, which inherit this environment).
    A CA directory (``SSL_CERT_DIR``, which httpx honours next; the system's own by default) is read
    only when a certificate is verified, so the tests keep a verifying context and skip the parsing.
    """
    capath = os.environ.get("SSL_CERT_DIR") or ssl.get_default_verify_paths().capath
    if capath and os.path.isdir(capath):
        os.environ.pop("SSL_CERT_FILE", None)
        os.environ["SSL_CERT_DIR"] = capath


_trust_the_system_ca_directory()

OK_BODY = {"success": {"count": 0, "orders": []}, "failed": {"count": 0, "orders": []}}


@dataclass
class Recorder:
    """An httpx MockTransport handler that records every request and answers with ``reply``."""

    requests: list[httpx.Request] = field(default_factory=list)
    reply: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(200, json=OK_BODY)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


@pytest.fixture(autouse=True)
def fresh_limiters() -> Iterator[None]:
    """Every test starts and ends with no shared limiter: budgets and blocks never leak between tests."""
    reset_limiters()
    yield
    reset_limiters()


@dataclass(frozen=True)
class Mypy:
    """``mypy --strict`` with one cache for the whole test run (see the ``mypy`` fixture)."""

    cache: Path
    lock: Path

    def strict(self, *arguments: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(self.cache), *arguments]
        with self.lock.open("w") as turn:
            fcntl.flock(turn, fcntl.LOCK_EX)  # released when the file closes
            return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="session")
def mypy(tmp_path_factory: pytest.TempPathFactory) -> Mypy:
    """The test run's ``mypy --strict``: one cache, made fresh for the run and shared by the xdist workers.

    Most of a cold run is spent on typeshed, httpx and attrs; each later run checks only what it brings.
    mypy keeps a module's errors with it in the cache and reports them again, so sharing cannot hide one.
    The runs take turns (a file lock): concurrent mypy processes are not promised a consistent cache.
    """
    run_folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_folder = run_folder.parent  # above each worker's own basetemp: the same for every worker
    cache = run_folder / "mypy-cache"
    cache.mkdir(exist_ok=True)
    return Mypy(cache, run_folder / "mypy-cache.lock")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def auth() -> UpbitAuth:
    return UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)


@pytest.fixture
def client(recorder: Recorder, auth: UpbitAuth) -> Iterator[Client]:
    with Client(
        base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": recorder.transport()}
    ) as client:
        yield client


UPBIT_VARIABLES = (
    "UPBIT_OPEN_API_ACCESS_KEY",
    "UPBIT_OPEN_API_SECRET_KEY",
    "UPBIT_OPEN_API_SERVER_URL",
    "UPBIT_ACCESS_KEY",
    "UPBIT_SECRET_KEY",
    "UPBIT_BASE_URL",
    "UPBIT_KEYS_FILE",
)


def set_upbit_env(monkeypatch: pytest.MonkeyPatch, access_key: str, secret_key: str) -> None:
    """Only these keys in the environment: none of the developer's own Upbit variables leak into a test."""
    for name in UPBIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UPBIT_OPEN_API_ACCESS_KEY", access_key)
    monkeypatch.setenv("UPBIT_OPEN_API_SECRET_KEY", secret_key)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The test keys in the environment, for tests of the command."""
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, TEST_SECRET_KEY)
    yield monkeypatch


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(script, backend)`` starts a loopback ``FaultServer``; every one is stopped after the test."""
    servers: list[FaultServer] = []

    def start(script: Any, backend: SandboxExchange | None = None) -> FaultServer:
        server = FaultServer(script, backend=backend).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def new_exchange(count: int) -> tuple[SandboxExchange, list[str]]:
    """A sandbox that knows the test keys, with no rate limit, holding ``count`` open orders."""
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    return exchange, [exchange.add_order(str(uuid.uuid4())).uuid for _ in range(count)]


def json_body(request: httpx.Request) -> object:
    return json.loads(request.content) if request.content else None


# --- scheduling on pytest-xdist workers (``make test`` runs the suite on three) ---------------------

ONE_WORKER_MODULES = frozenset(
    {
        "tests/test_examples.py",  # one sandbox process serves every block, in document order
        "tests/test_golden.py",  # two generated clients, each generated once
        "tests/test_packaging.py",  # the wheels, built once
        "tests/test_spec_rules.py",  # one generated client
    }
)
"""Modules whose tests share an expensive module fixture: each runs whole on one worker."""


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``: the ``ONE_WORKER_MODULES`` stay together, every other test goes out on its own.

    xdist's own loadgroup reads the groups from node ids it rewrites, which pytest 9 no longer lets it
    do (the groups were silently ignored), so the grouping is done here from the module's path.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class OneWorkerModules(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return OneWorkerModules(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run first, so that no worker is handed one of them at the end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)

"""What start-up loads: the command's ``--version`` and the batch path stay light (issue 26, item 5).

Each check runs in a fresh interpreter, since this process has imported everything already.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

COMMAND = str(Path(sys.executable).parent / "upbit-cancel")


def _modules_after(code: str, *, env: dict[str, str] | None = None) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    return set(done.stdout.split("\n")[-2].split())


def test_the_commands_version_line_loads_neither_httpx_nor_the_cli() -> None:
    loaded = _modules_after("from upbit_cancel.entry import main\nassert main(['--version']) == 0")
    assert not {"httpx", "httpcore", "jwt", "upbit_cancel.cli", "importlib.metadata"} & loaded


def test_the_commands_version_line_names_the_installed_version_and_the_spec() -> None:
    from upbit_client.spec import SPEC_SHA256, SPEC_VERSION

    done = subprocess.run([COMMAND, "--version"], capture_output=True, text=True, timeout=60)
    expected = f"upbit-cancel {version('upbit-order-cancel')} (openapi.yaml {SPEC_VERSION}, sha256 {SPEC_SHA256})"
    assert (done.returncode, done.stdout.strip()) == (0, expected)


def test_the_version_beside_other_arguments_answers_as_the_whole_parser_does() -> None:
    alone = subprocess.run([COMMAND, "--version"], capture_output=True, text=True, timeout=60)
    beside = subprocess.run([COMMAND, "--version", "--no-such-option"], capture_output=True, text=True, timeout=60)
    assert (beside.returncode, beside.stdout) == (alone.returncode, alone.stdout) == (0, beside.stdout)
    assert beside.stdout.startswith("upbit-cancel ")


def test_importing_the_batch_path_leaves_httpcore_to_the_first_client() -> None:
    loaded = _modules_after("import upbit_auth, upbit_client, upbit_cancel.batch, upbit_client.api.order")
    assert "httpcore" not in loaded and "importlib.metadata" not in loaded
    connected = _modules_after("import upbit_cancel\nupbit_cancel.connect(access_key='a', secret_key='s')")
    assert "httpcore" in connected  # the transport is built from httpcore's pool when a client is made


def test_the_generated_packages_spec_and_rules_load_without_httpx() -> None:
    loaded = _modules_after("import upbit_client.spec, upbit_client.registry")
    assert "httpx" not in loaded


def test_an_editable_installs_version_is_read_without_importlib_metadata() -> None:
    from upbit_cancel import _version

    assert _version._installed_version() == version("upbit-order-cancel")
    loaded = _modules_after("import upbit_cancel._version")
    assert "importlib.metadata" not in loaded


def test_the_commands_help_loads_neither_httpx_nor_jwt_nor_the_cli() -> None:
    for flag in ("--help", "-h"):
        loaded = _modules_after(f"from upbit_cancel.entry import main\nassert main([{flag!r}]) == 0")
        assert not {"httpx", "httpcore", "jwt", "attrs", "upbit_cancel.cli", "upbit_cancel.batch"} & loaded, flag


def test_the_commands_help_is_the_text_and_status_of_the_whole_parser() -> None:
    full = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom upbit_cancel import cli\nsys.exit(cli.main(['--help']))"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "100"},
    )  # fmt: skip
    assert full.returncode == 0 and "--open" in full.stdout and "Exit status: 0 all cancelled" in full.stdout
    for flag in ("--help", "-h"):
        alone = subprocess.run(
            [COMMAND, flag], capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "100"}
        )
        assert (alone.returncode, alone.stdout, alone.stderr) == (0, full.stdout, ""), flag


# Loaded only by what runs on an event loop: the async batch and sweep, ``BatchCancelled``, the store's loop.
EVENT_LOOP_MODULES = {"asyncio", "anyio", "sniffio", "concurrent.futures"}
# Loaded only with a shared store (``rate_limit_store``, ``UPBIT_RATE_LIMIT_STORE``).
STORE_MODULES = {"upbit_cancel.store", "upbit_cancel.redis_connect", "redis"}
NO_STORE = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}


def test_the_sync_batch_and_sweeps_import_path_loads_neither_asyncio_nor_anyio() -> None:
    # asyncio alone is 25-45 ms of a fresh process; a sync batch never runs on it (issue 26, "Import").
    loaded = _modules_after(
        "import upbit_auth, upbit_client, upbit_cancel.batch, upbit_client.api.order\n"
        "from upbit_cancel import BatchInterrupted, BatchResult, cancel_open_orders, cancel_orders, errors",
        env=NO_STORE,
    )
    assert not EVENT_LOOP_MODULES & loaded
    assert not STORE_MODULES & loaded


def test_a_sync_batch_and_sweep_run_to_their_report_without_asyncio() -> None:
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, start_server
    from upbit_sandbox.book import seed_open_orders

    exchange = SandboxExchange()
    seed_open_orders(exchange, 30, watch_every=10)
    server, url = start_server(exchange)
    try:
        loaded = _modules_after(
            "import upbit_cancel\n"
            f"client = upbit_cancel.connect({url!r}, access_key={DEMO_ACCESS_KEY!r}, secret_key={DEMO_SECRET_KEY!r})\n"
            "swept = upbit_cancel.cancel_open_orders(client, markets=['KRW-BTC'], timeout_total=20)\n"
            "assert len(swept.success) == 8 and not swept.failed, swept\n"
            "report = upbit_cancel.cancel_orders(client, uuids=[swept.success[0].uuid], timeout_total=20)\n"
            "assert len(report.failed) == 1 and report.requests_sent == 1, report",
            env=NO_STORE,
        )
    finally:
        server.stop()
    assert "asyncio" not in loaded  # (httpcore loads anyio's lazy package itself, with a client)
    assert not STORE_MODULES & loaded  # not needed without a store: not moved to the first request either


def test_a_store_setting_loads_the_stores_modules_and_is_checked() -> None:
    code = (
        "from upbit_cancel import ConfigurationError\nfrom upbit_cancel.batch import BatchOptions\n"
        "try:\n    BatchOptions(rate_limit_store='mysql://nowhere')\nexcept ConfigurationError:\n    pass\n"
        "else:\n    raise AssertionError('accepted')"
    )
    assert "upbit_cancel.store" in _modules_after(code, env=NO_STORE)
    unset = _modules_after("from upbit_cancel.batch import BatchOptions\nBatchOptions()", env=NO_STORE)
    assert not STORE_MODULES & unset
    from_env = {**NO_STORE, "UPBIT_RATE_LIMIT_STORE": "mysql://nowhere"}
    done = subprocess.run(
        [sys.executable, "-c", "from upbit_cancel.batch import BatchOptions\nBatchOptions()"],
        capture_output=True, text=True, timeout=60, env=from_env,
    )  # fmt: skip
    assert done.returncode == 1 and "UPBIT_RATE_LIMIT_STORE" in done.stderr


def test_batch_cancelled_is_made_on_first_use_as_asyncios_cancellation_carrying_the_report() -> None:
    loaded = _modules_after(
        "import asyncio\n"
        "from upbit_cancel import BatchCancelled, BatchResult, errors\n"
        "assert errors.BatchCancelled is BatchCancelled and issubclass(BatchCancelled, asyncio.CancelledError)\n"
        "assert repr(BatchCancelled).endswith(\"'upbit_cancel.errors.BatchCancelled'>\")\n"
        "report = BatchResult(id_kind='uuids')\n"
        "try:\n    raise BatchCancelled(report)\n"
        "except asyncio.CancelledError as exc:\n    assert exc.report is report\n"
        "import pickle\nassert type(pickle.loads(pickle.dumps(BatchCancelled))) is type"
    )
    assert "upbit_cancel.cancelled" in loaded


def test_no_collection_runs_while_the_cli_loads_and_the_collector_is_left_as_it_was() -> None:
    import gc

    from upbit_cancel.entry import collector_paused

    started: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(note)
    try:
        with collector_paused():
            made = [[] for _ in range(50_000)]  # far past the 700 allocations that start a collection
        assert (started, len(made), gc.isenabled()) == ([], 50_000, True)
        gc.disable()
        with collector_paused():
            pass
        assert not gc.isenabled()  # the caller's choice stands
    finally:
        gc.callbacks.remove(note)
        gc.enable()
        gc.unfreeze()


def test_the_command_freezes_what_its_import_made_and_turns_the_collector_on_again() -> None:
    # Issue 26's first request: the objects the CLI's import made (entry.collector_paused) are left out of
    # every later collection, and the collector runs again for what the command makes after.
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, start_server
    from upbit_sandbox.book import seed_open_orders

    exchange = SandboxExchange()
    seed_open_orders(exchange, 30, watch_every=10)
    server, url = start_server(exchange)
    keys = {**NO_STORE, "UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY, "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY}
    probe = (
        "import gc\n"
        "from upbit_cancel.entry import main\n"
        f"assert main(['--open', '--dry-run', '--server-url', {url!r}]) == 0\n"
        "print(gc.get_freeze_count() > 1000, gc.isenabled())"
    )
    try:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=keys)
    finally:
        server.stop()
    assert (done.returncode, done.stdout.split("\n")[-2]) == (0, "True True"), done.stderr
    assert len(exchange.requests) >= 1  # it did list the open orders

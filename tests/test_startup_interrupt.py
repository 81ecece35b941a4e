"""A signal while ``upbit-cancel`` is still starting up is one line and exit 128 + its number, never a traceback.

Guarantee under test (docs/guarantees.md, "Interruption"): a signal of ``INTERRUPT_SIGNALS`` (HUP, INT,
TERM, QUIT, USR1, USR2, ALRM) while the command is
loading (``upbit_cancel.entry`` importing ``upbit_cancel.cli``: argparse, asyncio, httpx, the
generated client, the batch) prints ``upbit-cancel: error: interrupted while starting up; nothing
was sent`` on stderr and exits 128 + the signal's number; no request reaches the exchange.

How the signal is made to land during start-up, whatever the machine's speed: the test puts a
``sitecustomize.py`` of its own on the child's ``PYTHONPATH`` (``site`` imports it before the console
script runs). It adds an import hook that, when the entry asks for ``upbit_cancel.cli``, writes a
marker file and then sleeps. The test waits for the marker and only then sends the signal, so the
signal always arrives inside the real import statement of the real entry point, with no timing
guess and no test switch in the shipped code. A VM that stalls the child for 300 ms only delays the
marker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.test_report_always_out import SIGNAL_NAMES
from upbit_cancel.interrupts import interrupted_status
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, start_server

UPBIT_CANCEL = Path(sys.executable).parent / "upbit-cancel"
STARTUP_LINE = "upbit-cancel: error: interrupted while starting up; nothing was sent\n"

# The child's sitecustomize: stall the import of the CLI until a signal interrupts the sleep.
STALL_THE_CLI_IMPORT = textwrap.dedent(
    """
    import os, sys, time

    class StallCliImport:
        def find_spec(self, name, path=None, target=None):
            if name == "upbit_cancel.cli":
                with open(os.environ["STARTUP_MARKER"], "w") as marker:
                    marker.write("importing upbit_cancel.cli")
                time.sleep(60)  # interrupted by the test's signal; the test fails long before this ends
            return None  # let the ordinary finders find the module

    sys.meta_path.insert(0, StallCliImport())
    """
)


def start_stalled(tmp_path: Path, url: str) -> subprocess.Popen[str]:
    """``upbit-cancel`` on a real order, held inside the import of the CLI; returns once it is there."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(STALL_THE_CLI_IMPORT, encoding="utf-8")
    marker = tmp_path / "importing-cli"
    env = {name: value for name, value in os.environ.items() if not name.startswith("UPBIT_")}
    env |= {
        "UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY,
        "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH")])),
        "STARTUP_MARKER": str(marker),
    }
    argv = [str(UPBIT_CANCEL), "--uuid", "6c1eac69-b9bc-4fbf-9982-e9c4641c453f", "--server-url", url]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60  # generous: a loaded machine may take seconds to start Python
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            out, err = child.communicate()
            pytest.fail(f"upbit-cancel never reached the import of the CLI (status {child.returncode}):\n{out}\n{err}")
        time.sleep(0.01)
    return child


@pytest.mark.parametrize("signum", [pytest.param(getattr(signal, name), id=name) for name in SIGNAL_NAMES])
def test_a_signal_during_start_up_prints_one_line_and_exits_128_plus_its_number_without_a_traceback(
    tmp_path: Path, signum: int
) -> None:
    exchange = SandboxExchange()
    server, url = start_server(exchange)
    try:
        child = start_stalled(tmp_path, url)
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    finally:
        server.stop()
    assert "Traceback" not in err
    assert err == STARTUP_LINE
    assert child.returncode == 128 + signum
    assert out == ""
    assert exchange.requests == []  # nothing was sent, as the line says


def test_the_console_script_runs_the_entry_that_guards_start_up() -> None:
    script = UPBIT_CANCEL.read_text(encoding="utf-8")
    assert "from upbit_cancel.entry import main" in script


def test_the_entry_reports_with_the_clis_name_and_interrupt_status() -> None:
    # The entry writes the name out rather than import it from the CLI, whose import it guards.
    from upbit_cancel import cli, entry

    assert entry.PROG == cli.PROG and interrupted_status(signal.SIGINT) == cli.EXIT_INTERRUPTED
    assert entry.STARTUP_INTERRUPTED == STARTUP_LINE


def test_the_entry_imports_nothing_heavy_before_its_guard_is_in_place() -> None:
    # Everything the interpreter loads before ``entry.main`` runs is a window the guard cannot cover.
    code = "import sys, upbit_cancel.entry; print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("'httpx'", "'jwt'", "'asyncio'", "'argparse'", "'upbit_client'", "'upbit_cancel.cli'"):
        assert heavy not in loaded

"""The ``upbit-cancel`` console script: interrupts during start-up end quietly, then the CLI runs.

Importing the CLI (argparse, asyncio, httpx, the generated client, the batch) takes a good part of
a second, more on a busy machine. A Ctrl-C in that window used to print a traceback. Rules:

- This module imports nothing heavy: only ``signal``, ``sys`` and the lazy package face. Its
  interrupt handling is in place before ``upbit_cancel.cli`` is imported.
- SIGINT or SIGTERM while the CLI is loading prints one line, ``upbit-cancel: error: interrupted
  while starting up; nothing was sent``, and exits 130 for either signal, as an interrupted batch
  does (``upbit_cancel.cli``, exit 130). Nothing can have been sent: no argument has been read yet.
- Once the CLI is loaded, the signals are as they were (Python's ``KeyboardInterrupt`` for SIGINT,
  the default for SIGTERM) until ``upbit_cancel.cli.main`` takes them (``cli.Interrupts``): before
  the ids are read, one line and exit 130; after, the report with every id and exit 130. They stay
  the CLI's (counted, ignored) until the process has exited, so the status is the one the report gave.

The window left is what runs before ``main``: the interpreter's own start and the console script's
import of this module and of the package face (tens of milliseconds together); a signal there is
Python's to report. A SIGINT or SIGTERM the parent process set to be ignored stays ignored.
``tests/test_startup_interrupt.py`` holds the promise.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

PROG = "upbit-cancel"
# ``upbit_cancel.cli.EXIT_INTERRUPTED``, written out: importing the CLI is the slow part this module guards.
EXIT_INTERRUPTED = 130
STARTUP_INTERRUPTED = f"{PROG}: error: interrupted while starting up; nothing was sent\n"


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM during start-up: raise ``KeyboardInterrupt`` like SIGINT, so one handler reports both."""
    raise KeyboardInterrupt


def _quiet_exit() -> int:
    """Report the start-up interrupt once; a second Ctrl-C while reporting must not cut the line short."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    try:
        sys.stderr.write(STARTUP_INTERRUPTED)
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: the status still tells
        pass
    return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    """Load the CLI with interrupts reported as one line, then run it and return its exit status."""
    # Only where the default is in force: a SIGTERM the parent made us ignore stays ignored.
    takes_sigterm = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    try:
        if takes_sigterm:
            signal.signal(signal.SIGTERM, _terminate_as_interrupt)
        from . import cli  # the slow part

        if takes_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except KeyboardInterrupt:
        return _quiet_exit()
    # The process ends right after: a signal while it exits must not replace the status the report gave.
    # The CLI's handler stays until its status is known, then the signals are ignored outright: the
    # interpreter puts back the default action of any Python handler while it finalizes, not of SIG_IGN.
    status = cli.main(argv, restore_signals=False)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    return status

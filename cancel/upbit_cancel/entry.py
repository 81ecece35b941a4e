"""The ``upbit-cancel`` console script: interrupts during start-up end quietly, then the CLI runs.

Importing the CLI (argparse, asyncio, httpx, the generated client, the batch) takes a good part of
a second, more on a busy machine. A Ctrl-C in that window used to print a traceback. Rules:

- This module imports nothing heavy: only ``signal``, ``sys`` and the lazy package face. Its
  interrupt handling is in place before ``upbit_cancel.cli`` is imported.
- A signal of ``interrupts.INTERRUPT_SIGNALS`` (SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2,
  SIGALRM) while the CLI is loading prints one line, ``upbit-cancel: error: interrupted while starting
  up; nothing was sent``, and exits 128 + the signal's number, as an interrupted batch does
  (``upbit_cancel.cli``). Nothing can have been sent: no argument has been read yet.
- Once the CLI is loaded, the signals are as they were (Python's ``KeyboardInterrupt`` for SIGINT,
  the default for the others) until ``upbit_cancel.cli.main`` takes them (``cli.Interrupts``): before
  the ids are read, one line and exit 128 + N; after, the report with every id and exit 128 + N. They
  stay the CLI's (counted, ignored) until the process has exited, so the status is the one the report gave.

The window left is what runs before ``main``: the interpreter's own start and the console script's
import of this module, of the package face and of ``upbit_cancel.interrupts`` (standard library only;
tens of milliseconds together); a signal there is Python's to report. A signal the parent process
set to be ignored stays ignored. ``tests/test_startup_interrupt.py`` holds the promise.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

from .interrupts import INTERRUPT_SIGNALS, interrupted_status

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

PROG = "upbit-cancel"
# The one spelling of ``--version`` taken before the CLI loads: any other command line goes to argparse.
VERSION_ONLY = ["--version"]
# Likewise the help, asked alone: built from the parser's own module (``cli_parser``), without httpx.
HELP_ONLY = (["--help"], ["-h"])
STARTUP_INTERRUPTED = f"{PROG}: error: interrupted while starting up; nothing was sent\n"


class _StartUp:
    """The start-up handler: records the first signal and raises ``KeyboardInterrupt`` so one handler reports all."""

    def __init__(self) -> None:
        self.signum = int(signal.SIGINT)  # a KeyboardInterrupt of Python's own handler is a SIGINT

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        raise KeyboardInterrupt


def _ignore_all() -> None:
    for signum in INTERRUPT_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, signal.SIG_IGN)


def _quiet_exit(signum: int) -> int:
    """Report the start-up interrupt once; a second signal while reporting must not cut the line short."""
    _ignore_all()
    try:
        sys.stderr.write(STARTUP_INTERRUPTED)
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: the status still tells
        pass
    return interrupted_status(signum)


def version_line() -> str:
    """What ``--version`` prints: the installed version and the spec the client was generated from.

    Light on purpose (the package's version module and the generated ``spec.py``, neither of which loads
    httpx): ``upbit-cancel --version`` answers before the CLI is imported.
    """
    from upbit_client.spec import SPEC_SHA256, SPEC_VERSION

    from ._version import __version__

    return f"{PROG} {__version__} (openapi.yaml {SPEC_VERSION}, sha256 {SPEC_SHA256})"


def _help(argv: list[str]) -> int:
    """argparse's own help and exit status, as ``cli.main`` returns them."""
    from .cli_parser import build_parser, parse

    status = parse(build_parser(), argv)
    return status if isinstance(status, int) else 0  # not a Namespace: argparse exits after printing the help


def main(argv: Sequence[str] | None = None) -> int:
    """Load the CLI with interrupts reported as one line, then run it and return its exit status.

    ``upbit-cancel --version`` or ``--help`` (``-h``) alone is answered here, without loading the CLI
    (httpx, the batch): the help by the very parser the CLI builds, so its text is the same.
    """
    given = list(sys.argv[1:] if argv is None else argv)
    if given == VERSION_ONLY:
        sys.stdout.write(version_line() + "\n")
        return 0
    if given in HELP_ONLY:
        return _help(given)
    # Only where the default is in force: a signal the parent made us ignore stays ignored.
    taken = [signum for signum in INTERRUPT_SIGNALS if signal.getsignal(signum) is signal.SIG_DFL]
    start_up = _StartUp()
    try:
        for signum in taken:
            signal.signal(signum, start_up)
        from . import cli  # the slow part

        for signum in taken:
            signal.signal(signum, signal.SIG_DFL)
    except KeyboardInterrupt:
        return _quiet_exit(start_up.signum)
    # The process ends right after: a signal while it exits must not replace the status the report gave.
    # The CLI's handler stays until its status is known, then the signals are ignored outright: the
    # interpreter puts back the default action of any Python handler while it finalizes, not of SIG_IGN.
    status = cli.main(argv, restore_signals=False)
    _ignore_all()
    return status

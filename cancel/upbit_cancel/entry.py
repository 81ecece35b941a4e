"""The ``upbit-cancel`` console script: interrupts during start-up end quietly, then the CLI runs.

Importing the CLI (argparse, asyncio, httpx, the generated client, the batch) takes a good part of a
second, more on a busy machine, and a Ctrl-C in that window used to print a traceback. So this module
imports nothing heavy (``signal``, ``sys``, ``gc``, the lazy package face, ``interrupts``: standard library only)
and takes the signals of ``interrupts.INTERRUPT_SIGNALS`` (``Interrupts``, before the ids are read)
before ``upbit_cancel.cli`` is imported: one line, exit 128 + N, nothing sent (docs/guarantees.md,
"Interruption"; ``tests/test_startup_interrupt.py``). Once the CLI is loaded the signals are as they
were until ``upbit_cancel.cli.main`` takes them. The window left is the interpreter's own start and the
import of this module; a signal there is Python's to report.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
from typing import TYPE_CHECKING

from .interrupts import INTERRUPT_SIGNALS, Interrupts

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

PROG = "upbit-cancel"
# The one spelling of ``--version`` taken before the CLI loads: any other command line goes to argparse.
VERSION_ONLY = ["--version"]
# Likewise the help, asked alone: built from the parser's own module (``cli_parser``), without httpx.
HELP_ONLY = (["--help"], ["-h"])
STARTUP_INTERRUPTED = f"{PROG}: error: interrupted while starting up; nothing was sent\n"


def _ignore_all() -> None:
    for signum in INTERRUPT_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection while the CLI loads, and what it loaded kept out of every later collection.

    Loading the CLI makes some 44,000 objects the collector tracks (functions, classes, their dicts), nearly
    all living as long as the process, and the collector, started every 700 allocations, walked them again
    and again: 66 collections, 11-16 ms of CPU before the first request (docs/benchmarks.md, "First request
    after the import"). Frozen once loaded (``gc.freeze``), they are never walked again; what the run makes
    afterwards is collected as usual. A collector the caller had turned off stays off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()


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
    interrupts = Interrupts()  # before the ids are read: the first signal is a KeyboardInterrupt, its number kept
    try:
        with interrupts.installed(), collector_paused():  # a signal the parent made us ignore stays ignored
            from . import cli  # the slow part
    except KeyboardInterrupt:
        _ignore_all()  # reported once: a second signal while the line is written must not cut it short
        with contextlib.suppress(OSError, ValueError):  # stderr closed: the status still tells
            sys.stderr.write(STARTUP_INTERRUPTED)
            sys.stderr.flush()
        return interrupts.status
    # The process ends right after: a signal while it exits must not replace the status the report gave.
    # The CLI's handler stays until its status is known, then the signals are ignored outright: the
    # interpreter puts back the default action of any Python handler while it finalizes, not of SIG_IGN.
    status = cli.main(argv, restore_signals=False)
    _ignore_all()
    return status

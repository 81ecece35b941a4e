"""``upbit-cancel``'s signal handling and its report writer: once the ids are read, the report comes out.

Each rule is said where it is defined; the promises are docs/guarantees.md's ("The report always comes
out"), held by ``tests/test_report_always_out.py``. Only the command installs this: the library installs none.
"""

from __future__ import annotations

import contextlib
import enum
import io
import os
import select
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import asyncio

REPORT_GRACE_SECONDS = 10.0
"""Once a signal has come while the report is written, the reader has this long to take the rest."""

_NAMES = ("SIGHUP", "SIGINT", "SIGTERM", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")
INTERRUPT_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name)
    for name in _NAMES
    if hasattr(signal, name)  # Windows has only INT and TERM
)
"""The signals that stop ``upbit-cancel`` with its report: every one whose default action would kill it."""

SIGNAL_EXIT_BASE = 128
"""The exit status after a signal is this plus the signal's number, as shells report a death by signal."""


def interrupted_status(signum: int) -> int:
    """The exit status of a run stopped by ``signum``: 128 + its number (130 for SIGINT, 143 for SIGTERM)."""
    return SIGNAL_EXIT_BASE + signum


class OnSignal(enum.Enum):
    """What the signals of ``INTERRUPT_SIGNALS`` do, by the stage the command is in."""

    RAISE = "raise"
    """Before the ids are read: ``KeyboardInterrupt``; nothing was sent and there is nothing to report."""
    CANCEL = "cancel"
    """Ids read: the first signal stops the batch (or keeps it from starting); the report lists every id."""
    DEFER = "defer"
    """The report is being written: signals are counted, the report is written whole, then exit 128 + n."""


class Interrupts:
    """The command's handler of ``INTERRUPT_SIGNALS`` (main thread only): the console script's while the CLI loads
    (``entry``), then ``cli.main``'s for the whole run, and the guard's while it watches (``guard_cli``).

    Python handlers (``signal.signal``), not the event loop's: they hold in every stage, before,
    during and after ``asyncio.run``, so no window is left where a signal kills the process or
    escapes as an exception before the report is written.
    """

    def __init__(self) -> None:
        self.stage: OnSignal = OnSignal.RAISE
        self.count: int = 0
        self.first: int | None = None
        """The number of the first signal that came: the exit status is 128 + it."""
        self._stop: Callable[[], object] | None = None

    @property
    def status(self) -> int:
        """The exit status the first signal gives (130, SIGINT's, if none came: a ``KeyboardInterrupt``)."""
        return interrupted_status(signal.SIGINT if self.first is None else self.first)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.first is None:
            self.first = signum
        if self.stage is OnSignal.RAISE:
            raise KeyboardInterrupt
        self.count += 1
        if self.stage is OnSignal.CANCEL and self.count == 1 and self._stop is not None:
            self._stop()

    @contextlib.contextmanager
    def installed(self, restore: bool = True) -> Iterator[None]:
        """Handle ``INTERRUPT_SIGNALS`` while the block runs, but for those the parent set to be ignored.

        ``restore=False`` (the console script, whose process ends next) keeps the handler after the
        block, counting signals only: one arriving while the interpreter exits cannot turn the exit
        status into a death by signal once the report is out.
        """
        previous: dict[signal.Signals, Any] = {}
        for signum in INTERRUPT_SIGNALS:
            try:
                current = signal.getsignal(signum)
                if current is signal.SIG_IGN:
                    continue
                signal.signal(signum, self)
            except (ValueError, OSError):  # not the main thread: the signals are not ours to take
                continue
            previous[signum] = current
        try:
            yield
        finally:
            if restore:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
            else:
                self.stage = OnSignal.DEFER

    @contextlib.contextmanager
    def cancelling(self, task: asyncio.Task[Any]) -> Iterator[None]:
        """While the block runs, the first signal cancels ``task`` (the caller checks ``count`` for one before).

        Through asyncio's ``call_soon_threadsafe``, the one door to the loop that is safe from a handler running
        between any two bytecodes (the loop's own included) and wakes the loop from its ``select``; anyio has
        none for a handler on the loop's own thread (``from_thread`` is for other threads, and
        ``CancelScope.cancel`` would not wake a sleeping loop). Cancelling the task is the library's asyncio
        contract: sending stops at once, the answers in flight are awaited, and ``BatchCancelled``
        (``PocketsCancelled``) carries the report.
        """
        loop = task.get_loop()
        self._stop = lambda: loop.call_soon_threadsafe(task.cancel)
        try:
            yield
        finally:
            self._stop = None


class ReportNotWritten(Exception):
    """stdout is closed, full or not taking the report (the reader stalled after an interrupt)."""


WRITE_CHUNK = 1 << 16
"""Characters of the report gathered into one piece before it is encoded and written."""


def gathered(pieces: Iterable[str], size: int = WRITE_CHUNK) -> Iterator[str]:
    """``pieces`` joined into strings of about ``size`` characters: a report of a million small pieces is
    written in a few hundred writes, and never held whole."""
    buffer: list[str] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer)
            buffer.clear()
            length = 0
    if buffer:
        yield "".join(buffer)


def write_whole(
    stream: TextIO | None, chunks: Iterable[str], interrupts: Interrupts, fallback: Callable[[TextIO, str], None]
) -> None:
    """Write the whole report, given as ``chunks`` (``gathered``; consumed as it goes: the report is never held
    whole), to stdout through any number of signals; raises ``ReportNotWritten``.

    Written on the file descriptor, in pieces no larger than the pipe's atomic write, each when ``select``
    says the descriptor can take it: a signal only adds to ``interrupts.count``, and once one has come the
    reader has ``REPORT_GRACE_SECONDS`` to take the rest (a reader that never reads cannot hold the process).
    A stream without a descriptor (a test's ``StringIO``) is written by ``fallback``.
    """
    if stream is None:
        raise ReportNotWritten("stdout is closed")
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        for text in chunks:
            fallback(stream, text)
        return
    stream.flush()
    encoding = getattr(stream, "encoding", None) or "utf-8"
    deadline: float | None = None
    for text in chunks:
        data = memoryview(text.encode(encoding, "backslashreplace"))
        while data:
            if interrupts.count and deadline is None:
                deadline = time.monotonic() + REPORT_GRACE_SECONDS
            if deadline is not None and time.monotonic() > deadline:
                raise ReportNotWritten(
                    f"the reader took no more of it for {REPORT_GRACE_SECONDS:g} s after the interrupt"
                )
            try:
                _, ready, _ = select.select([], [fd], [], 0.1)
            except (OSError, ValueError):  # a descriptor select cannot watch: write and let it block
                ready = [fd]
            if ready:
                with contextlib.suppress(BlockingIOError):  # a descriptor left non-blocking: ask select again
                    data = data[os.write(fd, data[: select.PIPE_BUF]) :]

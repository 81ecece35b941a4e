"""Run the jobs of a sync batch on worker threads, as many at once as the rate-limit budget allows.

Why threads: one request at a time spends a round trip per chunk (seconds more than the budget requires
at 50-100 ms from the exchange). The workers share the caller's one ``httpx.Client`` and the batch's
limiter, and each runs in a copy of the caller's context (``contextvars``: docs/thread-safety.md). They are
daemon threads that stop taking jobs once ``stopping()`` is true. The calling thread only waits, so a
Ctrl-C reaches it at once (Python delivers signals to the main thread), and it calls ``on_progress`` with
what the workers noted, in order (``ProgressRelay``): the callback runs in the thread that called the batch
(a UI need not be thread-safe) and may itself stop the batch with ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence

__all__ = ["ProgressRelay", "call_progress", "run_in_threads"]

log: logging.Logger = logging.getLogger("upbit_cancel.batch")

# How often the waiting thread looks up even when nothing happened (a Ctrl-C interrupts the wait anyway).
_WAKE_EVERY = 0.1


class ProgressRelay:
    """``(done, total)`` counts noted by worker threads, handed to ``callback`` by the thread that delivers."""

    def __init__(self, callback: Callable[[int, int], None] | None) -> None:
        self.callback = callback
        self._pending: deque[tuple[int, int]] = deque()
        self._wake = threading.Condition()

    def note(self, done: int, total: int) -> None:
        """Called by a worker (the batch's ``on_progress`` while it runs on threads); never raises."""
        with self._wake:
            self._pending.append((done, total))
            self._wake.notify_all()

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def wait(self, seconds: float) -> None:
        with self._wake:
            if not self._pending:
                self._wake.wait(seconds)

    def deliver(self) -> None:
        """Call the callback for every count noted so far, in order (a ``KeyboardInterrupt`` from it propagates)."""
        while True:
            with self._wake:
                if not self._pending:
                    return
                done, total = self._pending.popleft()
            call_progress(self.callback, done, total, log)


def call_progress(callback: Callable[[int, int], None] | None, done: int, total: int, logger: logging.Logger) -> None:
    """``callback(done, total)``, if any; an exception from it is logged on ``logger`` and ignored (a broken
    progress display must not cost the report of orders already cancelled)."""
    if callback is not None:
        try:
            callback(done, total)
        except Exception:
            logger.warning("on_progress callback raised; ignored", exc_info=True)


def _work(
    queue: deque[Callable[[], None]],
    taking: threading.Lock,
    errors: list[BaseException],
    stopping: Callable[[], bool],
    relay: ProgressRelay,
) -> None:
    """One worker thread: take jobs until none is left, one failed, or ``stopping()``; hand any error over."""
    try:
        while True:
            with taking:
                if not queue or errors or stopping():
                    return
                job = queue.popleft()
            job()
    except BaseException as exc:  # handed to the calling thread, which raises it
        with taking:
            errors.append(exc)
    finally:
        relay.wake()


def run_in_threads(
    jobs: Sequence[Callable[[], None]], width: int, *, stopping: Callable[[], bool], relay: ProgressRelay
) -> None:
    """Run ``jobs`` on ``width`` worker threads (in order taken), the calling thread delivering progress.

    Returns when every job has run or been skipped because ``stopping()`` became true. A
    ``BaseException`` in the calling thread (Ctrl-C) propagates at once, workers still running: the
    caller makes ``stopping()`` true, and the workers send nothing more. An exception in a worker (a
    bug) stops the others from taking new jobs and is raised here once they are done; a
    ``KeyboardInterrupt`` in a worker is raised here at once, like one in the calling thread.
    """
    queue, errors = deque(jobs), list[BaseException]()
    taking = threading.Lock()
    worker = functools.partial(_work, queue, taking, errors, stopping, relay)
    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(worker,), name=f"upbit-cancel-{n}", daemon=True)
        for n in range(max(1, min(width, len(jobs))))
    ]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        relay.deliver()
        with taking:
            stop = next((error for error in errors if not isinstance(error, Exception)), None)
        if stop is not None:
            raise stop  # a KeyboardInterrupt raised in a worker (by a hook or transport) stops the batch at once
        relay.wait(_WAKE_EVERY)
    relay.deliver()
    if errors:
        raise errors[0]

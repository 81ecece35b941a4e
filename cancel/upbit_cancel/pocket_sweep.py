"""Sweep several pockets at once: each pocket's open orders with its own key, budget and 418 block.

Upbit counts the rate budget and the 418 block per pocket, and a key sees only its pocket's orders, so
pockets swept side by side take about as long as the slowest one alone. Each pocket's sweep is the
ordinary ``cancel_open_orders`` (sync: on a thread of its own) or ``cancel_open_orders_async`` (a task) on
that pocket's own client (built by ``pockets.connect_pockets`` from the pocket's keys, or by the caller with
``connect(pocket=...)``), paced by that pocket's own limiter; nothing is shared between them but the report,
which keeps each pocket's groups apart (``PocketsResult``). A pocket whose first listing fails (a refused
key, the exchange unreachable) is reported in ``PocketsResult.errors``; the other pockets' sweeps go on.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Unpack

import anyio

from .batch import AnyClient, BatchOptions, ProgressCallback, hand_over
from .errors import BatchInterrupted, ConfigurationError, UpbitAPIError, UpbitClientError
from .results import BatchResult, ErrorInfo
from .sweep import SweepKeywords, SweepOptions, cancel_open_orders, cancel_open_orders_async, chosen_options
from .workers import call_progress

__all__ = [
    "PocketsCancelled",
    "PocketsInterrupted",
    "PocketsResult",
    "PocketsSink",
    "sweep_pockets",
    "sweep_pockets_async",
]

log: logging.Logger = logging.getLogger("upbit_cancel.sweep")


@dataclass(slots=True)
class PocketsResult:
    """The report of a sweep over several pockets: each pocket's own ``BatchResult``, never merged.

    ``reports`` by pocket name, in the order given; ``errors``: the pockets whose sweep could not begin
    (their first listing failed: nothing of theirs was cancelled). ``interrupted``: Ctrl-C or a cancellation
    stopped the run (each stopped pocket's report says so too)."""

    reports: dict[str, BatchResult] = field(default_factory=dict)
    errors: dict[str, ErrorInfo] = field(default_factory=dict)
    interrupted: bool = False
    elapsed: float = 0.0

    @property
    def all_cancelled(self) -> bool:
        """True when no pocket failed to begin and every pocket's orders were all cancelled."""
        return not self.errors and all(report.all_cancelled for report in self.reports.values())

    def to_dict(self) -> dict[str, Any]:
        """``{"pockets": {name: report or {"error": ...}}, "interrupted": ..., "elapsed": ...}``, as JSON takes it."""
        pockets: dict[str, Any] = {name: report.to_dict() for name, report in self.reports.items()}
        pockets.update({name: {"error": error.to_dict()} for name, error in self.errors.items()})
        return {"pockets": pockets, "interrupted": self.interrupted, "elapsed": round(self.elapsed, 3)}


PocketsSink = Callable[[PocketsResult], None]
"""Where the async sweep hands its report (``report_to``): called once, on cancellation too."""


class PocketsInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sync sweep over pockets; ``report`` holds every pocket's report so far."""

    def __init__(self, report: PocketsResult) -> None:
        super().__init__(f"sweep over pockets interrupted: {', '.join(report.reports) or 'none'} (see .report)")
        self.report = report


class PocketsCancelled(asyncio.CancelledError):
    """An async sweep over pockets was cancelled under asyncio; ``report`` holds every pocket's report so far."""

    def __init__(self, report: PocketsResult) -> None:
        super().__init__(f"sweep over pockets cancelled: {', '.join(report.reports) or 'none'} (see .report)")
        self.report = report


@dataclass(slots=True)
class _Run:
    """What the pockets' sweeps share: the clients and options, the report so far, and the summed progress."""

    clients: dict[str, AnyClient]
    which: SweepOptions
    batch: BatchOptions
    on_progress: ProgressCallback | None
    result: PocketsResult = field(default_factory=PocketsResult)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def progress_of(self, name: str, stop: threading.Event | None = None) -> ProgressCallback:
        """Pocket ``name``'s ``on_progress``: its counts noted, then, async, the sum handed on at once; on a
        worker thread (``stop`` given), the pocket stops at its next step once ``stop`` is set."""

        def progress(done: int, total: int) -> None:
            with self.lock:
                self.counts[name] = (done, total)
            if stop is None:
                self.progress()
            elif stop.is_set():
                raise KeyboardInterrupt  # the sweep's own Ctrl-C path: it stops and raises BatchInterrupted

        return progress

    def progress(self) -> None:
        """Hand the sum over pockets to ``on_progress`` (in the caller's thread)."""
        with self.lock:
            done, total = sum(c[0] for c in self.counts.values()), sum(c[1] for c in self.counts.values())
        call_progress(self.on_progress, done, total, log)

    def ended(self, name: str, outcome: BatchResult | UpbitClientError) -> None:
        """A pocket's report, or the error that kept its sweep from beginning."""
        with self.lock:
            if isinstance(outcome, BatchResult):
                self.result.reports[name] = outcome
            elif isinstance(outcome, UpbitAPIError):
                self.result.errors[name] = ErrorInfo(outcome.name, outcome.message, outcome.status)
            else:
                self.result.errors[name] = ErrorInfo(type(outcome).__name__, str(outcome))

    def finish(self, interrupted: bool = False) -> PocketsResult:
        """The report: pockets in the order given, every pocket that reported once."""
        with self.lock:
            self.result.reports = {n: self.result.reports[n] for n in self.clients if n in self.result.reports}
            self.result.interrupted = self.result.interrupted or interrupted
            self.result.elapsed = time.monotonic() - self.started
            return self.result

    def one_sync(self, name: str, stop: threading.Event) -> None:
        """One pocket's sweep on its worker thread; ``stop`` stops it at its next step, as Ctrl-C would."""
        client, progress = self.clients[name], self.progress_of(name, stop)
        try:
            if not stop.is_set():
                self.ended(name, cancel_open_orders(client, sweep=self.which, options=self.batch, on_progress=progress))
        except BatchInterrupted as interrupted:
            self.ended(name, interrupted.report)
        except UpbitClientError as error:
            self.ended(name, error)

    async def one_async(self, name: str) -> None:
        """One pocket's sweep as a task: its report reaches ``ended`` through ``report_to``, final or cancelled."""
        progress, ended = self.progress_of(name), functools.partial(self.ended, name)
        try:
            await cancel_open_orders_async(
                self.clients[name], sweep=self.which, options=self.batch, on_progress=progress, report_to=ended
            )
        except UpbitClientError as error:
            self.ended(name, error)


def _run(
    clients: Mapping[str, AnyClient],
    sweep: SweepOptions | None,
    options: BatchOptions | None,
    keywords: Mapping[str, Any],
    on_progress: ProgressCallback | None,
) -> _Run:
    """The run of a call, its options checked once for every pocket; nothing is sent."""
    if not isinstance(clients, Mapping) or not clients:
        raise ConfigurationError(f"clients must map pocket names to clients, at least one; given: {clients!r}")
    which, batch = chosen_options(sweep, options, keywords)
    if batch.limiter is not None:
        raise ConfigurationError("options.limiter paces one pocket: each pocket is paced by its own limiter here")
    return _Run(dict(clients), which, batch, on_progress)


def sweep_pockets(
    clients: Mapping[str, AnyClient],
    *,
    sweep: SweepOptions | None = None,
    options: BatchOptions | None = None,
    on_progress: ProgressCallback | None = None,
    **keywords: Unpack[SweepKeywords],
) -> PocketsResult:
    """``cancel_open_orders`` in every pocket of ``clients`` (pocket name -> its own client) side by side.

    The same filter (``sweep``) and batch options for each; ``options.timeout_total`` bounds each pocket's
    sweep and so the whole call. ``on_progress(done, total)``, summed over pockets, runs in this thread.
    Ctrl-C raises ``PocketsInterrupted`` with every pocket's report so far."""
    run, stop = _run(clients, sweep, options, keywords, on_progress), threading.Event()
    with ThreadPoolExecutor(len(run.clients), thread_name_prefix="upbit-pocket") as pool:
        futures = [pool.submit(contextvars.copy_context().run, run.one_sync, name, stop) for name in run.clients]
        try:
            while wait(futures, timeout=0.1).not_done:
                run.progress()
        except KeyboardInterrupt:
            stop.set()
            wait(futures)
            raise PocketsInterrupted(run.finish(interrupted=True)) from None
    for future in futures:
        future.result()  # an unexpected error of a pocket's sweep is raised, not hidden
    run.progress()
    return run.finish()


async def sweep_pockets_async(
    clients: Mapping[str, AnyClient],
    *,
    sweep: SweepOptions | None = None,
    options: BatchOptions | None = None,
    on_progress: ProgressCallback | None = None,
    report_to: PocketsSink | None = None,
    **keywords: Unpack[SweepKeywords],
) -> PocketsResult:
    """``sweep_pockets`` with each pocket's ``cancel_open_orders_async`` as a task (asyncio or trio).

    Cancelled, every pocket's report so far goes to ``report_to`` (if given; else it gets the final report),
    then out as ``PocketsCancelled`` under asyncio; under trio, trio's ``Cancelled`` goes on."""
    run = _run(clients, sweep, options, keywords, on_progress)
    try:
        async with anyio.create_task_group() as group:
            for name in run.clients:
                group.start_soon(run.one_async, name)
    except anyio.get_cancelled_exc_class() as exc:
        report = hand_over(report_to, run.finish(interrupted=True))
        if isinstance(exc, asyncio.CancelledError):
            raise PocketsCancelled(report) from exc
        raise
    return hand_over(report_to, run.finish())

"""``upbit-cancel``: cancel any number of Upbit orders from the command line (``--help``, the README).

This module only turns arguments, environment and files into one call of the async library (by ids,
``batch.cancel_orders_async``; with ``--open``, ``sweep.cancel_open_orders_async``; with several ``--pocket``,
``pocket_sweep.sweep_pockets_async``) and its report into output and an exit status. Every mode is one flow
(``run``): they differ only in the ``_Job`` they build. The exit statuses are listed once, in the README's
table (``--help`` prints the same, ``cli_parser.EXIT_STATUSES``); groups, reasons and statuses:
``docs/outcomes.md``. Errors are one line on stderr, ``upbit-cancel: error: ...``; the secret key never
appears in any output. ``main(argv)`` returns the status instead of exiting, so tests and other programs
can call it in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import functools
import io
import itertools
import json
import logging
import os
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TextIO, TypeVar

import httpx

from upbit_auth.auth import POCKET_VARIABLE, SECRET_KEY_VARIABLES, key_pair_from_env
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.errors import InvalidRequest, UpbitClientError
from upbit_client.rules import ParameterRule

from .batch import BatchOptions, cancel_orders_async
from .cli_parser import EXIT_INCOMPLETE as EXIT_INCOMPLETE
from .cli_parser import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from .cli_parser import EXIT_NOTHING_DONE as EXIT_NOTHING_DONE
from .cli_parser import EXIT_OK as EXIT_OK
from .cli_parser import EXIT_REPORT_LOST as EXIT_REPORT_LOST
from .cli_parser import EXIT_USAGE as EXIT_USAGE
from .cli_parser import PROG as PROG
from .cli_parser import build_parser as build_parser
from .cli_parser import parse
from .client import check_base_url, connect, resolve_base_url
from .errors import AuthenticationError, ConfigurationError, MissingCredentials, counts, error_from_response
from .interrupts import Interrupts, OnSignal, ReportNotWritten, gathered, write_whole
from .results import BatchResult, ErrorInfo, IdKind, NotSentOrder, OrderRef, ReportOrder, UnconfirmedOrder, groups
from .settings import STORE_ENV

if TYPE_CHECKING:
    from .pocket_sweep import PocketsResult
    from .sweep import SweepOptions

# One slow request must not eat the whole budget: the batch layer can then still retry or move on.
MAX_REQUEST_TIMEOUT = 10.0
# Ids longer than this are shortened in the table (never in JSON): a uuid (36) fits whole.
TABLE_ID_WIDTH = 36

# Reading id files: a line longer than this is not an id (a uuid is 36 characters), and a file of more
# lines than this is not a list of orders; either way the file is refused before anything is read whole.
MAX_ID_LINE = 4096
MAX_ID_LINES = 1_000_000

OnProgress = Callable[[int, int], None]


class UsageError(ValueError):
    """Bad arguments or input, found before anything is sent (exit 2)."""


# --- ids ---------------------------------------------------------------------------------------


@functools.cache  # asked once per id: a million of them in a big file
def _rule_for(kind: IdKind) -> ParameterRule:
    """The spec's rule for the ``uuids[]`` or ``identifiers[]`` parameter (maxItems, item pattern)."""
    return next(rule for rule in cancel_orders_by_ids.QUERY_RULES if rule.python_name == kind)


def check_id(kind: IdKind, value: str, where: str) -> None:
    """Refuse, before sending, an id the spec's item rule forbids (empty, blank, control characters).

    The rule is the generated one; this only adds where the id came from (argument or file line).
    """
    item = _rule_for(kind).item
    found = item.problem(value) if item is not None else None
    if found is not None:
        wire = "uuid" if kind == "uuids" else "identifier"
        raise UsageError(f"{wire} {where} {found[0]} ({found[1]}); given: {value!r}")


def _id_lines(handle: TextIO, name: str) -> Iterator[tuple[int, str]]:
    """(number, line) of ``handle``, read as a stream: a line or a file too long is refused as it is met."""
    number = 0
    while True:
        # readline(limit), not iteration: a stream without line breaks (/dev/zero) must not be read whole.
        line = handle.readline(MAX_ID_LINE + 2)
        if not line:
            return
        number += 1
        if number > MAX_ID_LINES:
            raise UsageError(f"cannot read {name}: more than {MAX_ID_LINES:,} lines; split the orders into batches")
        if len(line.rstrip("\n").rstrip("\r")) > MAX_ID_LINE:
            raise UsageError(
                f"cannot read {name}: line {number} is longer than {MAX_ID_LINE} characters, which no order id is"
            )
        # Only "\n" ends a line (readline's rule in text mode with newline="\n"): \x0b, \x1c... stay in the
        # id and are refused by check_id, not taken as line breaks that would hide them.
        yield number, line


# A line that is sent as it is but looks like a mistake. The spec allows spaces, '#', '[' and quotes
# inside an identifier, so it may be a real id: a warning on stderr, never a refusal or a rewrite.
_LOOKALIKES = {
    "a JSON array": re.compile(r"\[.*\]|\[|\]"),  # ["a","b"] on one line, or a pretty-printed array's brackets
    "an inline comment": re.compile(r".*\s#.*"),  # demo-0009 # my note
}
LOOKALIKE_LINES_NAMED = 5
"""How many line numbers a lookalike warning names; the rest are counted."""


class _Lookalikes:
    """The lines of one id file that look like a JSON array or carry an inline comment, by kind."""

    def __init__(self) -> None:
        self.lines: dict[str, list[int]] = {kind: [] for kind in _LOOKALIKES}
        self.counts: Counter[str] = Counter()

    def see(self, number: int, value: str) -> None:
        if "#" not in value and "[" not in value and "]" not in value:  # most lines: no pattern to try
            return
        for kind, pattern in _LOOKALIKES.items():
            if pattern.fullmatch(value):
                self.counts[kind] += 1
                if len(self.lines[kind]) < LOOKALIKE_LINES_NAMED:
                    self.lines[kind].append(number)

    def warn(self, name: str) -> None:
        """One ``upbit-cancel: warning:`` line per kind found, naming the first lines and counting the rest."""
        for kind, numbers in self.lines.items():
            if not numbers or sys.stderr is None:
                continue
            more = self.counts[kind] - len(numbers)
            where = ", ".join(map(str, numbers)) + (f" and {more:,} more" if more else "")
            plural = "s" if self.counts[kind] > 1 else ""
            line = (
                f"{PROG}: warning: {printable(name)} line{plural} {where} look{'' if plural else 's'} like "
                f"{kind}; each line is sent whole as one id, as written (an id file holds one id per line)\n"
            )
            with contextlib.suppress(OSError, ValueError):
                _write(sys.stderr, line)


def _open_ids(path: str, stdin: TextIO | None) -> tuple[contextlib.AbstractContextManager[TextIO], str]:
    """The file to read, to be entered (stdin is never closed), and its name for messages."""
    if path != "-":
        return open(path, encoding="utf-8-sig", newline="\n"), path
    if stdin is None or getattr(stdin, "closed", False):
        raise UsageError("cannot read stdin ('-'): stdin is closed; give the ids in a file or as arguments")
    return contextlib.nullcontext(stdin), "stdin"


def read_id_file(path: str, stdin: TextIO | None, kind: IdKind) -> list[str]:
    """The ids of ``kind`` in a file of one id per line, each checked (``check_id``) as it is read; ``-`` is stdin.

    The format (docs/guarantees.md, "The id file"): UTF-8, a leading BOM dropped; lines end at ``\\n``;
    spaces, tabs and CRs around an id are dropped; a line then empty or starting with ``#`` is skipped;
    every other line is one id, as written (``_Lookalikes`` warns of some). Any other control character
    stays in and is refused by ``check_id``. Only the ids are kept, a line's place is written only into
    an error: a million of them must not cost a million messages.
    """
    ids = []
    lookalikes = _Lookalikes()
    item = _rule_for(kind).item
    try:
        opened, name = _open_ids(path, stdin)
        with opened as handle:
            for number, line in _id_lines(handle, name):
                value = line.removeprefix("\ufeff").strip(" \t\r\n") if number == 1 else line.strip(" \t\r\n")
                if value and not value.startswith("#"):
                    if item is not None and item.problem(value) is not None:
                        check_id(kind, value, f"at {name} line {number}")
                    ids.append(value)
                    lookalikes.see(number, value)
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a stdin closed or detached under us
        raise UsageError(f"cannot read {path}: {exc}") from None
    lookalikes.warn(name)
    return ids


def collect_ids(args: argparse.Namespace, stdin: TextIO | None) -> tuple[IdKind, list[str]]:
    """The kind and the distinct ids, in the order given; raises ``UsageError`` on bad input.

    ``args.duplicates`` is set to how many ids were dropped as repeats.
    """
    uuid_given = bool(args.uuids or args.uuid_files)
    identifier_given = bool(args.identifiers or args.identifier_files)
    if uuid_given and identifier_given:
        raise UsageError("give either uuids or identifiers, not both (Upbit takes one kind per request)")
    if not uuid_given and not identifier_given:
        raise UsageError("no orders given: use --uuid, --identifier, --uuids-from or --identifiers-from")
    kind: IdKind = "uuids" if uuid_given else "identifiers"
    flag = "--uuid" if uuid_given else "--identifier"
    values: list[str] = args.uuids if uuid_given else args.identifiers
    files: list[str] = args.uuid_files if uuid_given else args.identifier_files
    if files.count("-") > 1:
        raise UsageError("stdin ('-') can be read only once")

    for value in values:
        check_id(kind, value, f"given to {flag}")
    given = list(values)
    for path in files:
        given.extend(read_id_file(path, stdin, kind))
    # A repeated id is one order: cancelling it twice would only report it twice.
    ids = list(dict.fromkeys(given))
    args.duplicates = len(given) - len(ids)
    del given
    if not ids:
        raise UsageError(f"no orders given: {', '.join(files)} holds no ids")
    return kind, ids


# --- one run: what to cancel (by ids or --open), then the same steps for both -------------------


class Progress:
    """A single ``\\r``-updated line on stderr: ``cancelling… 340/1000``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.width: int = 0

    def __call__(self, done: int, total: int) -> None:
        text = f"cancelling… {done}/{total}"
        self.width = max(self.width, len(text))
        _write(self.stream, "\r" + text.ljust(self.width))

    def clear(self) -> None:
        if self.width:
            _write(self.stream, "\r" + " " * self.width + "\r")


def _nothing_sent(kind: IdKind, ids: Sequence[str]) -> BatchResult:
    why = "interrupted before sending began"
    return BatchResult(kind, not_sent=[NotSentOrder(order_id, kind, why) for order_id in ids], interrupted=True)


R = TypeVar("R")
# Each pocket's client by the pocket's name ("": the key's own pocket): several only for a sweep of several.
Clients = dict[str, Client]


@dataclasses.dataclass(frozen=True)
class _Job(Generic[R]):
    """What one run cancels. A cancel by ids, an ``--open`` sweep and a sweep of several pockets differ only
    here: ``run`` takes each through the same steps (connect, the call under the signal handler, the report)."""

    start: Callable[[Clients, OnProgress | None], Awaitable[R]]  # the library's async call
    unstarted: Callable[[], R]  # the report when a signal came before the call began: nothing sent
    report: Callable[[R, bool, list[str], Interrupts], int]  # writes the report (``--json``?); the exit status
    many: bool  # enough orders for a progress line on a terminal
    notice: str | None = None  # a line for stderr before the call (ids dropped as repeats)
    failure: str | None = None  # what an UpbitClientError out of the call means (exit 3); None: unexpected


def _ids_job(args: argparse.Namespace, options: BatchOptions, kind: IdKind, ids: list[str]) -> _Job[BatchResult]:
    """The cancel of ``ids`` through ``cancel_orders_async`` (looked up at each run: tests swap it for a spy)."""
    id_args: dict[str, Any] = {"uuids": ids} if kind == "uuids" else {"identifiers": ids}

    def start(clients: Clients, on_progress: OnProgress | None) -> Awaitable[BatchResult]:
        return cancel_orders_async(next(iter(clients.values())), **id_args, options=options, on_progress=on_progress)

    notice = f"{args.duplicates} duplicate ids dropped (each order is sent once)" if args.duplicates else None
    many = len(ids) > (_rule_for(kind).max_items or len(ids))
    return _Job(start, lambda: _nothing_sent(kind, ids), lambda result, *how: report(result, ids, *how), many, notice)


def _sweep_job(args: argparse.Namespace, options: BatchOptions, sweep: SweepOptions) -> _Job[Any]:
    """The ``--open`` sweep of the open orders ``sweep`` selects (``open_filter``), of one pocket or of several
    side by side (``pocket_sweep``: one report each)."""
    from .sweep import cancel_open_orders_async

    if args.several:
        from .pocket_sweep import PocketsResult, sweep_pockets_async

        def start_all(clients: Clients, _: OnProgress | None) -> Awaitable[PocketsResult]:
            return sweep_pockets_async(clients, sweep=sweep, options=options)

        report_all = functools.partial(_report_pockets, dry_run=args.dry_run)
        return _Job(start_all, lambda: PocketsResult(interrupted=True), report_all, many=False)

    def start(clients: Clients, on_progress: OnProgress | None) -> Awaitable[BatchResult]:
        return cancel_open_orders_async(
            next(iter(clients.values())), sweep=sweep, options=options, on_progress=on_progress
        )

    failure = "listing open orders failed, nothing was cancelled"
    report_sweep = functools.partial(_report_sweep, dry_run=args.dry_run)
    return _Job(start, lambda: _nothing_sent("uuids", []), report_sweep, many=True, failure=failure)


def _plan(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[_Job[Any], str]:
    """The job and the server, or ``UsageError`` (``ConfigurationError``). ``--open`` checks its filters
    first; a cancel by ids reads its ids last, so that a bad server or store is refused before files are read."""
    if args.keys_file and not args.pockets:
        raise UsageError("--keys-file holds the keys of pockets: name the pocket to use with --pocket NAME")
    if args.several and not args.open:
        raise UsageError("several --pocket options sweep each pocket's open orders: add --open "
                         "(a cancel by ids takes one --pocket, the one the orders are in)")  # fmt: skip
    sweep = open_filter(args, time.time()) if args.open or open_filters_given(args) else None
    if args.server_url is None:  # the environment, else --region: ``upbit_cancel.client.PRECEDENCE``
        base_url = resolve_base_url(None, args.region, environ)
    else:
        base_url = check_base_url(args.server_url, "--server-url")
    store = args.rate_limit_store or environ.get(STORE_ENV)  # the shared rate-limit store: the flag, else the variable
    if store:
        from .store import check_store_url  # with a store only: the store's modules

        store = check_store_url(store, "--rate-limit-store" if args.rate_limit_store else STORE_ENV)
    options = BatchOptions(timeout_total=args.timeout, confirm=args.confirm, rate_limit_store=store or None)
    if sweep is not None:
        return _sweep_job(args, options, sweep), base_url
    return _ids_job(args, options, *collect_ids(args, sys.stdin)), base_url


def run(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None,
    interrupts: Interrupts,
    secrets: list[str],
) -> int:
    """One run, by ids, ``--open`` or over pockets: check the input, connect, cancel, report; the exit status."""
    args.pockets = [name for name in args.pockets or () if name] or None  # --pocket "" names none, as it always did
    args.several = bool(args.pockets and len(set(args.pockets)) > 1)  # several pockets: one sweep, one report each
    try:
        job, base_url = _plan(args, environ)
        interrupts.stage = OnSignal.CANCEL  # from here on every id is reported, whatever signal comes
        clients = _connect(args, environ, base_url, transport, secrets)
    except (UsageError, MissingCredentials, ConfigurationError) as exc:
        return _refused(exc, secrets)
    if job.notice is not None and sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            _write(sys.stderr, f"{PROG}: {job.notice}\n")
    result = _cancel(job, clients, secrets, interrupts)
    if isinstance(result, int):
        return result
    return job.report(result, args.json, secrets, interrupts)


def _cancel(job: _Job[R], clients: Clients, secrets: list[str], interrupts: Interrupts) -> R | int:
    """The job's report, with progress on a terminal; or the exit status of a call refused before sending."""
    many = job.many and sys.stderr is not None and sys.stderr.isatty()
    progress = Progress(sys.stderr) if many else None
    try:
        return asyncio.run(_stoppable(job, clients, progress, interrupts))
    except (InvalidRequest, ConfigurationError) as exc:
        # The library's own before-sending checks: the input passed ours but not the spec's, or a setting
        # found unusable when the connection was first built (a proxy variable naming an unusable proxy).
        return _refused(exc, secrets)
    except UpbitClientError as exc:
        if job.failure is None:
            raise
        _error_line(f"{job.failure}: {exc}", secrets)
        return EXIT_NOTHING_DONE
    finally:
        # Signals from here on are counted; the report is written whole.
        interrupts.stage = OnSignal.DEFER
        if progress is not None:
            with contextlib.suppress(OSError, ValueError):
                progress.clear()


async def _stoppable(job: _Job[R], clients: Clients, on_progress: OnProgress | None, interrupts: Interrupts) -> R:
    """The job's report; on a signal (Ctrl-C, SIGTERM, SIGHUP...) the partial report, marked ``interrupted``.

    A signal before the call began sends nothing (``job.unstarted``). A cancellation that lands after the
    call returned (a signal in the last moment) is absorbed: the report stands. The one place the command
    meets its event loop, and it is asyncio's (``Interrupts.cancelling`` says why): the command owns its
    process and picks its loop; the library under it is what runs on any loop.
    """
    task = asyncio.current_task()
    assert task is not None
    try:
        with interrupts.cancelling(task):
            result = job.unstarted() if interrupts.count else await job.start(clients, on_progress)
    except asyncio.CancelledError as cancelled:
        so_far: R | None = getattr(cancelled, "report", None)  # BatchCancelled's (PocketsCancelled's)
        if so_far is None:
            raise
        result = so_far
    finally:
        for client in clients.values():
            with contextlib.suppress(asyncio.CancelledError):  # the process is about to end: the report matters
                await client.get_async_httpx_client().aclose()
        while task.cancelling():
            task.uncancel()
    return result


def _verdict(result: BatchResult, dry_run: bool) -> tuple[int, str | None]:
    """``exit_status``, but a dry run's matches are its answer, not an error: exit 0 and a line saying so."""
    status, reason = exit_status(result)
    if status != EXIT_INCOMPLETE or not dry_run or result.interrupted:
        return status, reason
    # In a dry run only a listed uuid no cancel may carry is failed (invalid_listing_entry): say so too.
    unusable = f" ({len(result.failed)} more listed that no cancel may carry: failed)" if result.failed else ""
    return EXIT_OK, f"dry run: {len(result.not_sent)} open orders match{unusable}; nothing was cancelled"


def _tell(status: int, reason: str | None, secrets: list[str], prefix: str = "") -> None:
    """``reason`` on stderr, if any: a plain line after exit 0 (a dry run's matches), else the error line."""
    if reason is not None and status == EXIT_OK:
        _write(sys.stderr, redact(f"{PROG}: {prefix}{reason}\n", secrets))
    elif reason is not None:
        _error_line(prefix + reason, secrets)


def _report_sweep(
    result: BatchResult, as_json: bool, secrets: list[str], interrupts: Interrupts, *, dry_run: bool
) -> int:
    """``report`` of a sweep's orders; it also says when nothing matched."""
    listed = _reported_ids(result)
    status = report(result, listed, as_json, secrets, interrupts, dry_run=dry_run)
    if status == EXIT_OK and not listed:
        _write(sys.stderr, f"{PROG}: no open order matches; nothing to cancel\n")
    return status


def _key(kind: IdKind, uuid: str | None, identifier: str | None) -> str | None:
    return uuid if kind == "uuids" else identifier


def reconcile(result: BatchResult, ids: Iterable[str]) -> None:
    """Make sure every id given is in the report: one the batch left out is unconfirmed, not lost."""
    reported = {_key(result.id_kind, order.uuid, order.identifier) for order in (*result.success, *result.failed)}
    reported.update(order.id for order in result.unconfirmed)
    reported.update(order.id for order in result.not_sent)
    for order_id in ids:
        if order_id not in reported:
            error = ErrorInfo("not_in_response", "the exchange's answers did not mention this order")
            result.unconfirmed.append(UnconfirmedOrder(order_id, result.id_kind, error))


def _is_hopeless(error: ErrorInfo) -> bool:
    """An error that says nothing can work now: no answer at all, keys rejected, account blocked."""
    if error.status is None:
        return True
    return isinstance(error_from_response(error.status, error.name, error.message), AuthenticationError)


def describe_error(error: ErrorInfo) -> str:
    # The batch layer already put the error tree's hint (what to check) into the message.
    prefix = "" if error.status is None else f"HTTP {error.status} "
    return printable(f"{prefix}{error.name}: {error.message}")


# Characters a terminal may act on or that hide text: C0/C1 controls (escape sequences), format
# characters (bidi overrides), line and paragraph separators, lone surrogates.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every control or format character shown escaped (``\\x1b``): what the exchange sends
    (a market, an error name or message) is shown, never acted on by the terminal. JSON output is escaped
    by ``json`` itself."""
    if text.isprintable():
        return text
    return "".join(_escape(char) if unicodedata.category(char) in _UNPRINTABLE else char for char in text)


def exit_status(result: BatchResult) -> tuple[int, str | None]:
    """The exit status and, for status 3 or an interrupt (130; ``report`` puts 128 + the signal's number), why."""
    if result.interrupted:
        return EXIT_INTERRUPTED, (
            f"interrupted: {len(result.not_sent)} orders not sent; the report above lists every order once"
        )
    if result.blocked is not None:
        # Even if some chunks went through first: hammering now would lengthen the block.
        return EXIT_NOTHING_DONE, f"account temporarily blocked, nothing more sent: {describe_error(result.blocked)}"
    if result.all_cancelled:
        return EXIT_OK, None
    blockers = _blockers(result)
    if not result.success and blockers and all(error is not None and _is_hopeless(error) for error in blockers):
        errors = Counter(error for error in blockers if error is not None).most_common()
        error, _count = errors[0]
        more = f" (and {len(errors) - 1} other errors)" if len(errors) > 1 else ""
        return EXIT_NOTHING_DONE, f"no order could be cancelled: {describe_error(error)}{more}"
    return EXIT_INCOMPLETE, None


def _blockers(result: BatchResult) -> list[ErrorInfo | None]:
    """For every id not cancelled, the error that stopped it: None for an order the exchange answered about."""
    found: list[ErrorInfo | None] = [order.error for order in result.unconfirmed]
    found += [order.error if order.reason == "rejected" else None for order in result.failed]
    found += [order.error for order in result.not_sent]
    return found


# --- output ------------------------------------------------------------------------------------


def shorten(text: str, width: int = TABLE_ID_WIDTH) -> str:
    """``text`` cut to ``width`` characters, keeping both ends (``abcdefgh…uvwxyz``); JSON always keeps it whole."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return f"{text[:head]}…{text[len(text) - (width - 1 - head) :]}"


_OUTCOMES = ("cancelled", "failed", "unconfirmed", "not_sent")


def _table_records(result: BatchResult) -> dict[str, tuple[int, ReportOrder]]:
    """Each id's record and its outcome (an index of ``_OUTCOMES``), the first group naming it winning."""
    records: dict[str, tuple[int, ReportOrder]] = {}
    for outcome, group in enumerate((result.success, result.failed)):
        for order in group:
            key = _key(result.id_kind, order.uuid, order.identifier) or order.uuid or "-"
            records.setdefault(key, (outcome, order))
    for outcome, others in ((2, result.unconfirmed), (3, result.not_sent)):
        for other in others:
            records.setdefault(other.id, (outcome, other))
    return records


def _cells(key: str, outcome: int, record: ReportOrder) -> tuple[str, str, str, str]:
    """One table row, shown: the id (shortened), market, outcome and note, control characters escaped."""
    if isinstance(record, OrderRef) and outcome == 0:
        note = "confirmed by order lookup" if record.confirmed_by == "lookup" else ""
    elif isinstance(record, OrderRef):
        note = f"rejected: {describe_error(record.error)}" if record.error is not None else record.reason or "unknown"
    elif isinstance(record, UnconfirmedOrder):
        note = describe_error(record.error)
    else:
        note = record.why
    return shorten(printable(key)), printable(record.market or "-"), _OUTCOMES[outcome], printable(note)


def table_lines(result: BatchResult, ids: Sequence[str]) -> Iterator[str]:
    """The table, line by line (each ends in ``\\n`` but the last): the summary line, then one row per id (id,
    market, outcome, reason or error) in the order of ``ids``, then any id the batch reported that was not
    given. Two passes over the records, the first for the column widths: the table is never held whole."""
    records = _table_records(result)
    header = ("UUID" if result.id_kind == "uuids" else "IDENTIFIER", "MARKET", "OUTCOME", "REASON")
    first, second, third = _widths(records, header)

    def line(row: tuple[str, str, str, str]) -> str:
        return f"{row[0]:<{first}}  {row[1]:<{second}}  {row[2]:<{third}}  {row[3]}".rstrip()

    summary = f"{len(result.success)} cancelled, {len(result.failed)} failed, {len(result.unconfirmed)} unconfirmed"
    yield summary + (f", {len(result.not_sent)} not sent" if result.not_sent else "")
    yield "\n" + line(header)
    for key in itertools.chain(ids, list(records)):
        found = records.pop(key, None)
        if found is not None:
            yield "\n" + line(_cells(key, *found))


JSON_SLICE = 2000
"""Orders turned into JSON at a time by ``json_report``: one ``json.dumps`` each (fast), a bounded heap."""


def _widths(records: dict[str, tuple[int, ReportOrder]], header: Sequence[str]) -> list[int]:
    """The widths of the id, market and outcome columns: the widest cell of each, header included.

    Markets and outcomes are a few distinct values (measured once each); only the ids are many."""
    ids = max((len(shorten(printable(key))) for key in records), default=0)
    markets = {record.market or "-" for _, record in records.values()}
    outcomes = {outcome for outcome, _ in records.values()}
    return [
        max(len(header[0]), ids),
        max([len(header[1])] + [len(printable(market)) for market in markets]),
        max([len(header[2])] + [len(_OUTCOMES[outcome]) for outcome in outcomes]),
    ]


def json_report(result: BatchResult) -> Iterator[str]:
    """``json.dumps(result.to_dict(), ensure_ascii=False, indent=2)``, piece by piece: ``JSON_SLICE`` orders
    at a time, never the whole report (``tests/test_cli.py`` holds the two to the same text)."""
    yield "{"
    for number, (name, orders) in enumerate(groups(result)):
        yield f'{"," if number else ""}\n  {json.dumps(name)}: {{\n    "count": {len(orders)},\n    "orders": '
        yield from _json_list([order.to_dict() for order in orders[start : start + JSON_SLICE]]
                              for start in range(0, len(orders), JSON_SLICE))  # fmt: skip
        if name == "unconfirmed":
            yield ',\n    "errors": '
            yield from _json_list([[{**error.to_dict(), "count": count} for error, count in result.errors()]])
        yield "\n  }"
    yield "\n}"


def _json_list(slices: Iterable[list[Any]]) -> Iterator[str]:
    """A JSON list two levels down, as ``json.dumps(..., indent=2)`` writes it there, a slice at a time.

    Each slice is dumped as a list of its own, its brackets dropped and its lines indented 4 more
    (JSON strings hold no raw line break, so every line break is the layout's)."""
    empty = True
    for items in slices:
        if items:
            text = json.dumps(items, ensure_ascii=False, indent=2)
            yield ("[" if empty else ",") + "\n    " + text[2:-2].replace("\n", "\n    ")
            empty = False
    yield "[]" if empty else "\n    ]"


def _secret_values(environ: Mapping[str, str]) -> list[str]:
    return [environ[name] for name in SECRET_KEY_VARIABLES if environ.get(name)]


# A secret shorter than this is redacted only where it stands as a whole token: replacing every
# occurrence of a 1-character "secret" would rewrite ordinary words ("succ********ss").
WHOLE_TOKEN_BELOW = 16


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``********``: anywhere for a secret of a real key's length,
    as a whole token (not inside a longer run of letters and digits) for a short one."""
    for secret in secrets:
        if len(secret) >= WHOLE_TOKEN_BELOW:
            text = text.replace(secret, "********")
        elif secret:
            text = re.sub(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", "********", text)
    return text


def _write(stream: TextIO, text: str) -> None:
    """Write and flush; what the stream's encoding cannot show is escaped rather than fatal.

    Orders may already be cancelled when the report is written: an odd terminal encoding must not
    turn that into a crash.
    """
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not complain of the broken pipe."""
    if sys.stdout is None:  # closed from the start: no final flush to fear
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


def _error_line(message: str, secrets: Iterable[str]) -> None:
    # Line breaks become spaces (spaces inside an echoed value are part of what the user gave); any other
    # control character is shown escaped. A closed stderr leaves only the status to tell.
    one_line = printable(redact(message, secrets).replace("\r", " ").replace("\n", " "))
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            _write(sys.stderr, f"{PROG}: error: {one_line}\n")


# --- the clients, the report ---------------------------------------------------------------------


def _connect(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    base_url: str,
    transport: httpx.AsyncBaseTransport | None,
    secrets: list[str],
) -> Clients:
    """A client for each pocket of the run (``--pocket``: ``pockets.pockets_keys``, the usual pair only for one
    pocket), else for the usual pair, in the pocket ``UPBIT_POCKET`` names, if any. A pocket's keys join
    ``secrets``, the list the warning lines redact with too (``_lines_on_stderr``). ``MissingCredentials``, or
    ``ConfigurationError`` for a setting ``connect()`` refuses (a blank pocket, httpx arguments)."""
    pairs: list[tuple[str | None, str, str]]  # a pocket (None: the key's own), its access key and secret key
    if args.pockets:
        from .pockets import pockets_keys  # with --pocket only: tomllib and the keys file's rules

        found = pockets_keys(args.pockets, keys_file=args.keys_file, environ=environ)
        pairs = [(keys.pocket, keys.access_key, keys.secret_key.reveal()) for keys in found]
        secrets.extend(key for _, access_key, secret_key in pairs for key in (secret_key, access_key))
    else:
        access_key, secret_key, _ = key_pair_from_env(environ)
        pairs = [(environ.get(POCKET_VARIABLE) or None, access_key, secret_key)]
    return {
        pocket or "": connect(
            base_url,
            access_key=access_key,
            secret_key=secret_key,
            pocket=pocket,
            timeout=min(args.timeout, MAX_REQUEST_TIMEOUT),
            environ=environ,
            httpx_args={} if transport is None else {"transport": transport},
        )
        for pocket, access_key, secret_key in pairs
    }


def _refused(exc: Exception, secrets: Iterable[str]) -> int:
    """Write ``exc`` as the error line; its exit status: 2 for bad usage, input or settings (a ``ValueError``),
    3 for missing keys or anything else found before sending (nothing could be done)."""
    _error_line(str(exc), secrets)
    usage = isinstance(exc, ValueError) and not isinstance(exc, MissingCredentials)
    return EXIT_USAGE if usage else EXIT_NOTHING_DONE


def write_report(pieces: Iterable[str], secrets: list[str], interrupts: Interrupts, counted: str) -> bool:
    """Write ``pieces`` to stdout, redacted; False (and the reason on stderr) if the report could not be written.

    Redacted a gathered chunk at a time: a chunk joins whole pieces (orders, lines), so no secret echoed in one
    can straddle two chunks. A reader that stops early (``| head``) is not an error of ours: the status still
    tells, so that counts as written.
    """
    redacted = (redact(chunk, secrets) for chunk in gathered(pieces))
    try:
        write_whole(sys.stdout, redacted, interrupts, _write)
    except BrokenPipeError:
        _silence_stdout()
    except (ReportNotWritten, OSError, ValueError) as exc:
        _silence_stdout()
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        _error_line(f"the report could not be written to stdout: {detail}; {counted}", secrets)
        return False
    return True


def report(
    result: BatchResult,
    ids: Sequence[str],
    as_json: bool,
    secrets: list[str],
    interrupts: Interrupts,
    *,
    dry_run: bool = False,
) -> int:
    """Write the report of ``result`` (every id once) to stdout and the reason to stderr; return the exit status."""
    reconcile(result, ids)
    # Streamed, piece by piece, never built whole: a million ids make a report of hundreds of megabytes.
    pieces = json_report(result) if as_json else table_lines(result, ids)
    if not write_report(itertools.chain(pieces, ["\n"]), secrets, interrupts, counts(result)):
        return EXIT_REPORT_LOST
    status, reason = _verdict(result, dry_run)
    if interrupts.count and not result.interrupted:
        reason = f"interrupted after the batch ended; the report above is complete ({counts(result)})"
    if result.interrupted or interrupts.count:
        status = interrupts.status  # 128 + the first signal's number (130 for a KeyboardInterrupt)
    _tell(status, reason, secrets)
    return status


def _report_pockets(
    result: PocketsResult, as_json: bool, secrets: list[str], interrupts: Interrupts, *, dry_run: bool
) -> int:
    """The report of several pockets' sweeps and the combined exit status.

    The pockets stay apart: as a table, a ``pocket NAME:`` heading above each pocket's table; as JSON,
    ``{"pockets": {NAME: report, ...}}``, each report as a one-pocket run prints it. Exit status: 0 when every
    pocket is 0 (a dry run's matches count as 0), 3 when every pocket is 3 (nothing could be done anywhere),
    1 otherwise; an interrupt gives 128 + the signal's number, every pocket's report printed whole.
    """
    counted = "; ".join(f"pocket {name}: {counts(one)}" for name, one in result.reports.items())
    if not write_report(_pocket_pieces(result, as_json), secrets, interrupts, counted):
        return EXIT_REPORT_LOST
    statuses = [EXIT_NOTHING_DONE for _ in result.errors]
    for name, one in result.reports.items():
        status, reason = _verdict(one, dry_run)
        statuses.append(status)
        if not result.interrupted:
            _tell(status, reason, secrets, f"pocket {name}: ")
    for name, error in result.errors.items():
        _error_line(f"pocket {name}: nothing could be done: {error.name}: {error.message}", secrets)
    if result.interrupted or interrupts.count:
        return interrupts.status
    if all(status == EXIT_OK for status in statuses):
        return EXIT_OK
    return EXIT_NOTHING_DONE if all(status == EXIT_NOTHING_DONE for status in statuses) else EXIT_INCOMPLETE


def _pocket_pieces(result: PocketsResult, as_json: bool) -> Iterator[str]:
    """The report, piece by piece: each pocket's table under its heading, or one JSON object of them all."""
    if as_json:
        yield '{\n  "pockets": {'
        for number, (name, one) in enumerate(result.reports.items()):
            yield f"{',' if number else ''}\n    {json.dumps(name, ensure_ascii=False)}: "
            yield from (piece.replace("\n", "\n    ") for piece in json_report(one))
        for number, (name, error) in enumerate(result.errors.items(), len(result.reports)):
            text = json.dumps({"error": error.to_dict()}, ensure_ascii=False)
            yield f"{',' if number else ''}\n    {json.dumps(name, ensure_ascii=False)}: {text}"
        yield f'\n  }},\n  "interrupted": {json.dumps(result.interrupted)}\n}}\n'
        return
    for number, (name, one) in enumerate(result.reports.items()):
        yield f"{'' if not number else chr(10)}pocket {name}:\n"
        yield from table_lines(one, _reported_ids(one))
        yield "\n"
    for name, error in result.errors.items():
        yield f"\npocket {name}: nothing done: {error.name}: {error.message}\n"


# --- open orders (--open): list the open orders that match, then cancel them by uuid ---------------


_OPEN_FILTERS = ("markets", "excluded_markets", "quotes", "side", "states", "older_than", "dry_run", "until_empty")


def open_filters_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, name) not in (None, [], False) for name in _OPEN_FILTERS)


def open_filter(args: argparse.Namespace, now: float) -> SweepOptions:
    """What ``--open`` sweeps, checked by ``SweepOptions``; ``UsageError`` for an impossible combination."""
    from .sweep import SweepOptions

    if not args.open:
        raise UsageError("--market, --exclude-market, --quote, --side, --state, --older-than, --dry-run and "
                         "--until-empty select open orders: add --open")  # fmt: skip
    if args.uuids or args.identifiers or args.uuid_files or args.identifier_files:
        raise UsageError("--open cancels the open orders that match its filters: give no uuids or identifiers")
    if args.dry_run and args.until_empty:
        raise UsageError("--dry-run cancels nothing, so --until-empty could never empty anything: give one of them")
    created_before = None
    if args.older_than is not None:
        created_before = datetime.datetime.fromtimestamp(now - args.older_than, datetime.UTC)
    try:
        return SweepOptions(
            markets=args.markets,
            excluded_markets=args.excluded_markets,
            quote_currencies=args.quotes,
            side=args.side,
            states=tuple(args.states or ("wait", "watch")),
            created_before=created_before,
            dry_run=args.dry_run,
            until_empty=args.until_empty,
        )
    except InvalidRequest as exc:
        message = str(exc)
        flag = _FLAGS.get(exc.parameter)
        if flag is not None and message.startswith(exc.parameter + ":"):
            message = flag + message[len(exc.parameter) :]
        raise UsageError(message) from None


# The library's parameter -> the flag that sets it, for error messages.
_FLAGS = {
    "markets": "--market",
    "excluded_markets": "--exclude-market",
    "quote_currencies": "--quote",
    "states[]": "--state",
}


def _reported_ids(result: BatchResult) -> list[str]:
    """The distinct uuids a sweep's report names, in its order: the ids of its table."""
    ids = [order.uuid for order in (*result.success, *result.failed) if order.uuid is not None]
    ids += [order.id for order in result.unconfirmed] + [order.id for order in result.not_sent]
    return list(dict.fromkeys(ids))


# --- the command -------------------------------------------------------------------------------


class _StderrLine(logging.Handler):
    """One line on stderr per record: ``prefix``, then the message (``formatter``'s, if given), secrets redacted.

    The command's ``upbit-cancel: warning: ...`` lines, and the guard's ``upbit-cancel guard: <time> ...``."""

    def __init__(self, secrets: Sequence[str], prefix: str, level: int, formatter: logging.Formatter | None) -> None:
        super().__init__(level)
        self.secrets = secrets
        self.prefix = prefix
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record) if self.formatter is not None else record.getMessage()
        line = printable(redact(self.prefix + text, self.secrets).replace("\n", " "))
        with contextlib.suppress(OSError, ValueError, AttributeError):
            _write(sys.stderr, line + "\n")


def _route_library_logs(secrets: list[str]) -> contextlib.AbstractContextManager[None]:
    """The library's warnings stay quiet, but for the one the user must see, as a warning line.

    The batch layer logs warnings (a 418, a callback that raised); the package's ``NullHandler`` keeps
    Python's last-resort handler from printing them, which would break the one-line-on-stderr promise.
    Callers who configured logging still get them through the root logger. The one shown: the shared
    rate-limit store is unreachable and pacing is per process.
    """
    return _lines_on_stderr("upbit_cancel.ratelimit", secrets, f"{PROG}: warning: ", logging.WARNING)


@contextlib.contextmanager
def _lines_on_stderr(
    name: str, secrets: Sequence[str], prefix: str, level: int, formatter: logging.Formatter | None = None
) -> Iterator[None]:
    """For the block (one run of the command), the records of the logger ``name`` from ``level`` up as
    ``_StderrLine``s, unless it has handlers of its own. Taken off after: a program that ran ``main()`` in its
    own process does not get the command's lines for what its library calls log later."""
    logger = logging.getLogger(name)
    handler = None if logger.handlers else _StderrLine(secrets, prefix, level, formatter)
    if handler is not None:
        logger.addHandler(handler)
    try:
        yield
    finally:
        if handler is not None:
            logger.removeHandler(handler)


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    restore_signals: bool = True,
) -> int:
    """Run ``upbit-cancel`` with ``argv`` (default: ``sys.argv[1:]``) and return its exit status.

    ``transport`` replaces the network (tests and the sandbox pass an ``httpx.MockTransport``).
    The signals of ``INTERRUPT_SIGNALS`` are the command's while it runs (``Interrupts``); ``restore_signals=False``
    (the console script) leaves them counted-and-ignored afterwards, until the process exits.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["heartbeat"], ["guard"]):  # the dead-man's switch: its own module (guard_cli)
        from .guard_cli import main as guard_main

        return guard_main(argv)
    environ = dict(os.environ)
    secrets = _secret_values(environ)
    interrupts = Interrupts()
    try:
        with _route_library_logs(secrets), interrupts.installed(restore=restore_signals):
            args = parse(build_parser(), argv)  # --help (0) or a usage error: already reported by argparse
            return args if isinstance(args, int) else run(args, environ, transport, interrupts, secrets)
    except KeyboardInterrupt:
        # Only before the ids were read (``OnSignal.RAISE``): after, every signal ends in a report.
        _error_line("interrupted while reading the arguments and ids; nothing was sent", secrets)
        return interrupts.status
    except Exception as exc:
        # The promise is one line, never a traceback, whatever went wrong.
        _error_line(f"unexpected {type(exc).__name__}: {exc}", secrets)
        return EXIT_NOTHING_DONE


if __name__ == "__main__":
    sys.exit(main())

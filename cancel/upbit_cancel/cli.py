"""``upbit-cancel``: cancel any number of Upbit orders from the command line.

Usage::

    upbit-cancel (--uuid ID ... | --identifier ID ... | --uuids-from FILE | --identifiers-from FILE)
                 [--server-url URL | --region kr|sg|id|th] [--json] [--timeout SECONDS] [--no-confirm]

This module only turns arguments, environment and files into a call of the async batch layer
(``upbit_cancel.batch.cancel_orders_async``, which chunks, rate-limits, retries and confirms) and
turns its ``BatchResult`` into a report and an exit status:

- 0: every order was cancelled;
- 1: some orders failed (filled, already cancelled, not found, still open), are unconfirmed or were
  not sent (``timeout_total`` ran out);
- 2: bad usage or bad input; nothing was sent;
- 3: nothing could be done: keys missing, the exchange unreachable or the keys rejected for
  every request, or the account temporarily blocked (418);
- 130: interrupted (Ctrl-C or SIGTERM): sending stops at once, answers in flight are awaited up to
  the request timeout, and the report is printed with every id once (ids never sent under
  ``not_sent``).

The groups, reasons and statuses are described in ``docs/outcomes.md``.

Errors are one line on stderr, ``upbit-cancel: error: ...``; the secret key never appears in any
output. ``main(argv)`` returns the status instead of exiting, so tests and other programs can call
it in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import math
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, Protocol, TextIO

import httpx

from upbit_auth import __version__
from upbit_auth.auth import SECRET_KEY_VARIABLES, key_pair_from_env
from upbit_client import SPEC_SHA256, SPEC_VERSION, Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.errors import InvalidRequest
from upbit_client.registry import SERVERS
from upbit_client.rules import ParameterRule

from .batch import cancel_orders_async
from .client import DEFAULT_REGION, PRECEDENCE, check_base_url, connect, resolve_base_url
from .errors import AuthenticationError, BatchCancelled, ConfigurationError, MissingCredentials, error_from_response
from .ratelimit import limiter_for
from .results import BatchResult, ErrorInfo, IdKind, UnconfirmedOrder
from .store import STORE_ENV

PROG = "upbit-cancel"
DEFAULT_TIMEOUT = 30.0
# One slow request must not eat the whole budget: the batch layer can then still retry or move on.
MAX_REQUEST_TIMEOUT = 10.0
# Ids longer than this are shortened in the table (never in JSON): a uuid (36) fits whole.
TABLE_ID_WIDTH = 36

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_NOTHING_DONE = 3
EXIT_INTERRUPTED = 130

OnProgress = Callable[[int, int], None]


def version_line() -> str:
    """What ``--version`` prints: the installed version and the spec the client was generated from."""
    return f"{PROG} {__version__} (openapi.yaml {SPEC_VERSION}, sha256 {SPEC_SHA256})"


class BatchFunction(Protocol):
    """The contract of ``upbit_cancel.batch.cancel_orders_async``."""

    def __call__(
        self,
        client: Client,
        *,
        uuids: list[str] | None = None,
        identifiers: list[str] | None = None,
        timeout_total: float = DEFAULT_TIMEOUT,
        on_progress: OnProgress | None = None,
        confirm: bool = True,
    ) -> Awaitable[BatchResult]: ...


class UsageError(Exception):
    """Bad arguments or input, found before anything is sent (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line like every other error of this command."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see {PROG} --help)\n")


class _PrintVersion(argparse.Action):
    """``--version``: one line, never wrapped to the terminal's width (argparse's own action wraps)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> NoReturn:
        sys.stdout.write(version_line() + "\n")
        parser.exit(0)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds; given: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Cancel Upbit orders by uuid or by identifier, any number of them (DELETE /v1/orders/uuids).",
        epilog=(
            f"{PRECEDENCE} An id FILE holds one id per "
            "line; blank lines, lines starting with '#' and whitespace around ids are ignored; '-' reads "
            "stdin. Exit status: 0 all cancelled, 1 some failed, unconfirmed or not sent, 2 bad usage (nothing "
            "sent), 3 nothing could be done (missing keys, exchange unreachable, keys rejected, account blocked), "
            "130 interrupted (the report is still printed)."
        ),
    )
    ids = parser.add_argument_group("orders (give uuids or identifiers, not both; the flags can be repeated)")
    ids.add_argument("--uuid", dest="uuids", metavar="ID", nargs="+", action="extend", default=[], help="order uuid")
    ids.add_argument(
        "--identifier", dest="identifiers", metavar="ID", nargs="+", action="extend", default=[],
        help="order identifier (client-chosen)",
    )  # fmt: skip
    ids.add_argument(
        "--uuids-from", dest="uuid_files", metavar="FILE", action="append", default=[], help="file of uuids"
    )
    ids.add_argument(
        "--identifiers-from", dest="identifier_files", metavar="FILE", action="append", default=[],
        help="file of identifiers",
    )  # fmt: skip
    server = parser.add_mutually_exclusive_group()
    server.add_argument("--server-url", metavar="URL", help="base URL, http(s)://host[:port]")
    server.add_argument(
        "--region",
        type=str.lower,
        choices=sorted(SERVERS),
        help=f"Upbit region whose host to use when no server URL is set (default: {DEFAULT_REGION})",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--version", action=_PrintVersion, help="print the version and the spec's, then exit")
    parser.add_argument(
        "--no-confirm",
        dest="confirm",
        action="store_false",
        help="skip the order lookup (GET /v1/orders/uuids) that settles lost answers and tells why orders failed",
    )
    parser.add_argument(
        "--rate-limit-store",
        metavar="URL",
        help=f"share the rate budget with other processes and machines: redis://HOST:PORT/DB "
        f"(default: ${STORE_ENV}; needs the [redis] extra)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"total time budget for the whole batch (default: {DEFAULT_TIMEOUT:g})",
    )
    return parser


# --- ids ---------------------------------------------------------------------------------------


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


def read_id_file(path: str, stdin: TextIO) -> list[tuple[str, str]]:
    """(id, where) pairs from a file of one id per line; ``-`` is stdin.

    Blank lines and ``#`` comment lines are skipped and spaces, tabs and CRs around an id are
    dropped; any other control character stays in and is refused by ``check_id``.
    """
    try:
        if path == "-":
            text = stdin.read()
            name = "stdin"
        else:
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
            name = path
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    text = text.removeprefix("\ufeff")
    pairs = []
    # split("\n"), not splitlines(): the latter also splits on \x0b, \x1c... and would hide them.
    for number, line in enumerate(text.split("\n"), start=1):
        value = line.strip(" \t\r")
        if value and not value.startswith("#"):
            pairs.append((value, f"at {name} line {number}"))
    return pairs


def collect_ids(args: argparse.Namespace, stdin: TextIO) -> tuple[IdKind, list[str]]:
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

    pairs = [(value, f"given to {flag}") for value in values]
    for path in files:
        pairs.extend(read_id_file(path, stdin))
    for value, where in pairs:
        check_id(kind, value, where)
    # A repeated id is one order: cancelling it twice would only report it twice.
    ids = list(dict.fromkeys(value for value, _ in pairs))
    args.duplicates = len(pairs) - len(ids)
    if not ids:
        raise UsageError(f"no orders given: {', '.join(files)} holds no ids")
    return kind, ids


# --- server ------------------------------------------------------------------------------------


def resolve_server(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """The server by ``connect``'s one precedence (``upbit_cancel.client.PRECEDENCE``)."""
    try:
        if args.server_url is not None:
            return check_base_url(args.server_url, "--server-url")
        return resolve_base_url(None, args.region, environ)
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None


# --- running the batch -------------------------------------------------------------------------


def _load_batch() -> BatchFunction:
    """The batch function to run (tests swap this seam for a spy)."""
    return cancel_orders_async


class Progress:
    """A single ``\\r``-updated line on stderr: ``cancelling… 340/1000``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.width = 0

    def __call__(self, done: int, total: int) -> None:
        text = f"cancelling… {done}/{total}"
        self.width = max(self.width, len(text))
        _write(self.stream, "\r" + text.ljust(self.width))

    def clear(self) -> None:
        if self.width:
            _write(self.stream, "\r" + " " * self.width + "\r")


INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _interrupts_cancel(task: asyncio.Task[Any]) -> Any:
    """Ctrl-C and SIGTERM cancel ``task`` (the batch stops sending and reports) instead of killing the process."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in INTERRUPT_SIGNALS:
        try:
            loop.add_signal_handler(signum, task.cancel)
        except (NotImplementedError, RuntimeError, ValueError):  # no signals here (not the main thread, Windows)
            continue
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def _cancel(
    batch: BatchFunction,
    client: Client,
    kind: IdKind,
    ids: list[str],
    timeout: float,
    on_progress: OnProgress | None,
    confirm: bool = True,
) -> BatchResult:
    """The batch's report; on Ctrl-C or SIGTERM the partial report, marked ``interrupted``."""
    task = asyncio.current_task()
    assert task is not None
    id_args: dict[str, Any] = {"uuids": ids} if kind == "uuids" else {"identifiers": ids}
    try:
        with _interrupts_cancel(task):
            return await batch(client, **id_args, timeout_total=timeout, on_progress=on_progress, confirm=confirm)
    except BatchCancelled as cancelled:
        task.uncancel()
        return cancelled.report
    finally:
        await client.get_async_httpx_client().aclose()


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
    return f"{prefix}{error.name}: {error.message}"


def exit_status(result: BatchResult) -> tuple[int, str | None]:
    """The exit status and, for status 3 or 130, the one-line reason."""
    if result.interrupted:
        return EXIT_INTERRUPTED, (
            f"interrupted: {len(result.not_sent)} orders not sent; the report above lists every order once"
        )
    if result.blocked is not None:
        # Even if some chunks went through first: hammering now would lengthen the block.
        return EXIT_NOTHING_DONE, f"account temporarily blocked, nothing more sent: {describe_error(result.blocked)}"
    if result.all_cancelled:
        return EXIT_OK, None
    nothing_done = not result.success and not result.failed
    if nothing_done and result.unconfirmed and all(_is_hopeless(order.error) for order in result.unconfirmed):
        errors = result.errors()
        error, _count = max(errors, key=lambda pair: pair[1])
        more = f" (and {len(errors) - 1} other errors)" if len(errors) > 1 else ""
        return EXIT_NOTHING_DONE, f"no order could be cancelled: {describe_error(error)}{more}"
    return EXIT_INCOMPLETE, None


# --- output ------------------------------------------------------------------------------------


def shorten(text: str, width: int = TABLE_ID_WIDTH) -> str:
    """``text`` cut to ``width`` characters, keeping both ends (``abcdefgh…uvwxyz``); JSON always keeps it whole."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return f"{text[:head]}…{text[len(text) - (width - 1 - head) :]}"


def format_table(result: BatchResult, ids: Sequence[str]) -> str:
    """The summary line, then one row per id in the order given: id, market, outcome, reason or error."""
    rows: dict[str, tuple[str, str, str, str]] = {}
    for order in result.success:
        key = _key(result.id_kind, order.uuid, order.identifier) or order.uuid or "-"
        note = "confirmed by order lookup" if order.confirmed_by == "lookup" else ""
        rows.setdefault(key, (key, order.market or "-", "cancelled", note))
    for order in result.failed:
        key = _key(result.id_kind, order.uuid, order.identifier) or order.uuid or "-"
        rows.setdefault(key, (key, order.market or "-", "failed", order.reason or "unknown"))
    for unconfirmed in result.unconfirmed:
        rows.setdefault(unconfirmed.id, (unconfirmed.id, "-", "unconfirmed", describe_error(unconfirmed.error)))
    for not_sent in result.not_sent:
        rows.setdefault(not_sent.id, (not_sent.id, "-", "not_sent", not_sent.why))
    ordered = [rows.pop(order_id) for order_id in ids if order_id in rows] + list(rows.values())
    ordered = [(shorten(row[0]), *row[1:]) for row in ordered]
    header = ("UUID" if result.id_kind == "uuids" else "IDENTIFIER", "MARKET", "OUTCOME", "REASON")
    widths = [max(len(row[column]) for row in (header, *ordered)) for column in range(3)]
    lines = [
        f"{len(result.success)} cancelled, {len(result.failed)} failed, {len(result.unconfirmed)} unconfirmed"
        + (f", {len(result.not_sent)} not sent" if result.not_sent else ""),
        *(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
            for row in (header, *ordered)
        ),
    ]
    return "\n".join(line.rstrip() for line in lines)


def _secret_values(environ: Mapping[str, str]) -> list[str]:
    return [environ[name] for name in SECRET_KEY_VARIABLES if environ.get(name)]


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "********")
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
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _error_line(message: str, secrets: Iterable[str], stream: TextIO) -> None:
    # Only line breaks go: spaces inside an echoed value are part of what the user gave.
    one_line = redact(message, secrets).replace("\r", " ").replace("\n", " ")
    _write(stream, f"{PROG}: error: {one_line}\n")


# --- entry point -------------------------------------------------------------------------------


def run(args: argparse.Namespace, environ: Mapping[str, str], transport: httpx.AsyncBaseTransport | None) -> int:
    secrets = _secret_values(environ)
    try:
        kind, ids = collect_ids(args, sys.stdin)
        base_url = resolve_server(args, environ)
    except UsageError as exc:
        _error_line(str(exc), secrets, sys.stderr)
        return EXIT_USAGE
    try:
        access_key, secret_key, _ = key_pair_from_env(environ)
        client = connect(
            base_url,
            access_key=access_key,
            secret_key=secret_key,
            timeout=min(args.timeout, MAX_REQUEST_TIMEOUT),
            httpx_args={} if transport is None else {"transport": transport},
        )
    except MissingCredentials as exc:
        _error_line(str(exc), secrets, sys.stderr)
        return EXIT_NOTHING_DONE
    if args.duplicates:
        _write(sys.stderr, f"{PROG}: {args.duplicates} duplicate ids dropped (each order is sent once)\n")
    store = args.rate_limit_store or environ.get(STORE_ENV)
    if store:
        # The batch's process-wide limiter for this key takes the store before the batch looks it up.
        limiter_for(access_key, cancel_orders_by_ids.OPERATION.rate_limit, store=store)
    progress = None
    if len(ids) > (_rule_for(kind).max_items or len(ids)) and sys.stderr.isatty():
        progress = Progress(sys.stderr)
    try:
        result = asyncio.run(_cancel(_load_batch(), client, kind, ids, args.timeout, progress, args.confirm))
    except InvalidRequest as exc:
        # The batch layer's own before-sending check: the ids passed ours but not the spec's.
        _error_line(str(exc), secrets, sys.stderr)
        return EXIT_USAGE
    finally:
        if progress is not None:
            progress.clear()

    reconcile(result, ids)
    report = json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if args.json else format_table(result, ids)
    try:
        _write(sys.stdout, redact(report, secrets) + "\n")
    except BrokenPipeError:
        # The reader stopped early (``| head``): not an error of ours, and the status still tells.
        _silence_stdout()
    status, reason = exit_status(result)
    if reason is not None:
        _error_line(reason, secrets, sys.stderr)
    return status


class _WarningLine(logging.Handler):
    """``upbit-cancel: warning: ...`` on stderr, one line per warning, secrets redacted."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.secrets = secrets

    def emit(self, record: logging.LogRecord) -> None:
        line = redact(f"upbit-cancel: warning: {record.getMessage()}", self.secrets)
        with contextlib.suppress(OSError, ValueError):
            _write(sys.stderr, line.replace("\n", " ") + "\n")


def main(argv: Sequence[str] | None = None, *, transport: httpx.AsyncBaseTransport | None = None) -> int:
    """Run ``upbit-cancel`` with ``argv`` (default: ``sys.argv[1:]``) and return its exit status.

    ``transport`` replaces the network (tests and the sandbox pass an ``httpx.MockTransport``).
    """
    environ = dict(os.environ)
    secrets = _secret_values(environ)
    # The batch layer logs warnings (a 418, a callback that raised); unconfigured, Python's
    # last-resort handler would print them, breaking the one-line-on-stderr promise. Callers who
    # configured logging still get them through the root logger.
    library_log = logging.getLogger("upbit_cancel")
    if not library_log.handlers:
        library_log.addHandler(logging.NullHandler())
    # Except the one the user must see: the shared rate-limit store is unreachable and pacing is per process.
    pacing_log = logging.getLogger("upbit_cancel.ratelimit")
    for handler in pacing_log.handlers:
        if isinstance(handler, _WarningLine):
            handler.secrets = secrets
    if not pacing_log.handlers:
        pacing_log.addHandler(_WarningLine(secrets))
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:
            # --help (0) or a usage error, already reported by argparse.
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        return run(args, environ, transport)
    except KeyboardInterrupt:
        _error_line("interrupted; orders in requests already sent may have been cancelled", secrets, sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        # The promise is one line, never a traceback, whatever went wrong.
        _error_line(f"unexpected {type(exc).__name__}: {exc}", secrets, sys.stderr)
        return EXIT_NOTHING_DONE


if __name__ == "__main__":
    sys.exit(main())

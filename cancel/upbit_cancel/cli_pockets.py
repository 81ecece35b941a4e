"""``upbit-cancel --open --pocket a --pocket b``: one sweep per pocket, side by side, one report per pocket.

Each pocket's keys come from ``pockets.pockets_keys`` (the keys file, else the pocket's own variables:
never the usual pair, which belongs to one pocket only), its client is its own, and so are its budget and
418 block. The report keeps the pockets apart: as a table, a ``pocket NAME:`` heading above each pocket's
table; as JSON, ``{"pockets": {NAME: report, ...}}``, each report as a one-pocket run prints it. Exit status:
0 when every pocket is 0 (a dry run's matches count as 0), 3 when every pocket is 3 (nothing could be done
anywhere), 1 otherwise; an interrupt gives 128 + the signal's number, every pocket's report printed whole.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from upbit_client.api.order import cancel_orders_by_ids

from .batch import AnyClient, BatchOptions
from .cli import (
    EXIT_INCOMPLETE,
    EXIT_NOTHING_DONE,
    EXIT_OK,
    EXIT_REPORT_LOST,
    EXIT_USAGE,
    MAX_REQUEST_TIMEOUT,
    PROG,
    UsageError,
    _counts,
    _error_line,
    _reported_ids,
    _route_library_logs,
    _store,
    _write,
    exit_status,
    json_report,
    open_filter,
    reconcile,
    redact,
    resolve_server,
    table_lines,
    write_report,
)
from .client import connect
from .errors import ConfigurationError, MissingCredentials
from .interrupts import Interrupts, OnSignal
from .pocket_sweep import PocketsCancelled, PocketsResult, sweep_pockets_async
from .pockets import pockets_keys
from .ratelimit import limiter_for
from .results import BatchResult
from .sweep import SweepOptions

__all__ = ["run_pockets"]


def _checked(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[dict[str, Any], str, str | None]:
    """The filter, the server and the store of a run over several pockets, or ``UsageError``."""
    if not args.open:
        raise UsageError("several --pocket options sweep each pocket's open orders: add --open "
                         "(a cancel by ids takes one --pocket, the one the orders are in)")  # fmt: skip
    return open_filter(args, time.time()), resolve_server(args, environ), _store(args, environ)


def _clients(
    args: argparse.Namespace, environ: Mapping[str, str], base_url: str, transport: httpx.AsyncBaseTransport | None,
    secrets: list[str],
) -> dict[str, AnyClient]:  # fmt: skip
    """One client per pocket with its own keys (added to ``secrets`` for redaction); raises before sending."""
    clients: dict[str, AnyClient] = {}
    for keys in pockets_keys(args.pockets, keys_file=args.keys_file, environ=environ):
        secrets.extend((keys.secret_key.reveal(), keys.access_key))
        clients[keys.pocket] = connect(
            base_url,
            access_key=keys.access_key,
            secret_key=keys.secret_key.reveal(),
            pocket=keys.pocket,
            timeout=min(args.timeout, MAX_REQUEST_TIMEOUT),
            environ=environ,
            httpx_args={} if transport is None else {"transport": transport},
        )
    _route_library_logs(secrets)
    return clients


def run_pockets(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None,
    interrupts: Interrupts,
    secrets: list[str],
) -> int:
    """Check, connect every pocket, sweep them side by side, report each; return the exit status."""
    try:
        arguments, base_url, store = _checked(args, environ)
        clients = _clients(args, environ, base_url, transport, secrets)
    except (UsageError, ConfigurationError) as exc:
        _error_line(str(exc), secrets, sys.stderr)
        return EXIT_USAGE
    except MissingCredentials as exc:
        _error_line(str(exc), secrets, sys.stderr)
        return EXIT_NOTHING_DONE
    if store:
        for name, client in clients.items():
            access_key = getattr(client.get_httpx_client().auth, "access_key", name)
            limiter_for(access_key, cancel_orders_by_ids.OPERATION.rate_limit, store=store, pocket=name)
    sweep = SweepOptions(**arguments, dry_run=args.dry_run, until_empty=args.until_empty)
    options = BatchOptions(timeout_total=args.timeout, confirm=args.confirm)
    interrupts.stage = OnSignal.CANCEL
    try:
        result = asyncio.run(_stoppable(clients, sweep, options, interrupts))
    finally:
        interrupts.stage = OnSignal.DEFER
    return _report(result, args, secrets, interrupts)


async def _stoppable(
    clients: dict[str, AnyClient], sweep: SweepOptions, options: BatchOptions, interrupts: Interrupts
) -> PocketsResult:
    """The sweeps' report; on a signal, every pocket's report so far (as ``cli._stoppable`` does for one)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    try:
        with interrupts.stopping(lambda: loop.call_soon_threadsafe(task.cancel)):
            if interrupts.count:
                return PocketsResult(interrupted=True)
            result = await sweep_pockets_async(clients, sweep=sweep, options=options)
    except PocketsCancelled as cancelled:
        result = cancelled.report
    finally:
        for client in clients.values():
            with contextlib.suppress(asyncio.CancelledError):
                await _close(client)
        while task.cancelling():
            task.uncancel()
    return result


async def _close(client: AnyClient) -> None:
    await client.get_async_httpx_client().aclose()


def _status(result: BatchResult, dry_run: bool) -> tuple[int, str | None]:
    status, reason = exit_status(result)
    if status == EXIT_INCOMPLETE and dry_run and not result.interrupted:
        return EXIT_OK, f"dry run: {len(result.not_sent)} open orders match; nothing was cancelled"
    return status, reason


def _pieces(result: PocketsResult, as_json: bool) -> Iterator[str]:
    """The report, piece by piece: each pocket's table under its heading, or one JSON object of them all."""
    if as_json:
        yield '{\n  "pockets": {'
        for number, (name, report) in enumerate(result.reports.items()):
            yield f"{',' if number else ''}\n    {json.dumps(name, ensure_ascii=False)}: "
            yield from (piece.replace("\n", "\n    ") for piece in json_report(report))
        for number, (name, error) in enumerate(result.errors.items(), len(result.reports)):
            text = json.dumps({"error": error.to_dict()}, ensure_ascii=False)
            yield f"{',' if number else ''}\n    {json.dumps(name, ensure_ascii=False)}: {text}"
        yield f'\n  }},\n  "interrupted": {json.dumps(result.interrupted)}\n}}\n'
        return
    for number, (name, report) in enumerate(result.reports.items()):
        yield f"{'' if not number else chr(10)}pocket {name}:\n"
        yield from table_lines(report, list(dict.fromkeys(_reported_ids(report))))
        yield "\n"
    for name, error in result.errors.items():
        yield f"\npocket {name}: nothing done: {error.name}: {error.message}\n"


def _report(result: PocketsResult, args: argparse.Namespace, secrets: list[str], interrupts: Interrupts) -> int:
    """Write every pocket's report to stdout and each pocket's reason to stderr; the combined exit status."""
    for report in result.reports.values():
        reconcile(report, _reported_ids(report))
    counts = "; ".join(f"pocket {name}: {_counts(report)}" for name, report in result.reports.items())
    if not write_report(_pieces(result, args.json), secrets, interrupts, counts):
        return EXIT_REPORT_LOST
    statuses = [EXIT_NOTHING_DONE for _ in result.errors]
    for name, report in result.reports.items():
        status, reason = _status(report, args.dry_run)
        statuses.append(status)
        if reason is not None and not result.interrupted:
            if status == EXIT_OK:  # a dry run's matches: the answer, not an error
                _write(sys.stderr, redact(f"{PROG}: pocket {name}: {reason}\n", secrets))
            else:
                _error_line(f"pocket {name}: {reason}", secrets, sys.stderr)
    for name, error in result.errors.items():
        _error_line(f"pocket {name}: nothing could be done: {error.name}: {error.message}", secrets, sys.stderr)
    if result.interrupted or interrupts.count:
        return interrupts.status
    if all(status == EXIT_OK for status in statuses):
        return EXIT_OK
    return EXIT_NOTHING_DONE if all(status == EXIT_NOTHING_DONE for status in statuses) else EXIT_INCOMPLETE

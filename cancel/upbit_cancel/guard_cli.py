"""``upbit-cancel heartbeat`` and ``upbit-cancel guard``: the dead-man's switch from the command line.

``heartbeat NAME`` beats once and exits (a shell bot calls it every 15-30 s): it arms the guard NAME or
pushes its deadline ``--timeout`` seconds on (``--timeout 0`` disarms); its scope flags say what the guard
cancels when it goes silent. ``guard NAME ...`` watches the named heartbeats until stopped, logs each change
of state on stderr and writes each fire's whole report to stdout as one JSON line; ``guard --status``
prints the running guard's status file. The usage, the defaults (``--state wait`` only: a ``watch`` order
is a stop, often protecting a holding), the exit statuses and why a fire gives up (exit 5): docs/guard.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from upbit_auth.auth import key_pair_from_env

from . import cli
from .cli_parser import PROG, _Parser, _positive_seconds, add_scope_arguments, parse
from .client import resolve_base_url
from .guard import DEFAULT_GIVE_UP, FireRecord, Guard
from .heartbeat import DEFAULT_GUARD_STATES, GuardScope, Heartbeat
from .heartbeat_store import open_heartbeat_store
from .interrupts import Interrupts, OnSignal
from .pockets import KEYS_FILE_VARIABLE
from .store import StoreUnavailable

__all__ = ["EXIT_GAVE_UP", "main"]

EXIT_GAVE_UP = 5
STATUS_FILE_ENV = "UPBIT_GUARD_STATUS_FILE"


def _status_file(args: argparse.Namespace, environ: Mapping[str, str]) -> Path:
    """``--status-file``, else ``$UPBIT_GUARD_STATUS_FILE``, else ``upbit-cancel/guard-status.json`` under state."""
    if args.status_file:
        return Path(args.status_file)
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(environ.get(STATUS_FILE_ENV) or Path(base) / "upbit-cancel" / "guard-status.json")


def _parsers() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="A dead-man's switch for Upbit: heartbeats and their guard.")
    commands = parser.add_subparsers(dest="command", required=True)
    beat = commands.add_parser("heartbeat", help="beat once: arm or extend the guard NAME (--timeout 0 disarms)")
    beat.add_argument("name", metavar="NAME")
    beat.add_argument("--timeout", type=float, default=60.0, help="seconds until the guard fires (default 60)")
    beat.add_argument("--pocket", help="the pocket the guard sweeps (default: the guard's own)")
    states_help = "cancel orders in this state (repeatable; default: wait only, never stop orders unless asked)"
    add_scope_arguments(beat, states_help=states_help)
    beat.add_argument(
        "--identifier-prefix", help="only orders whose identifier starts with this (bots sharing a pocket)"
    )
    beat.add_argument("--store", help="Redis URL or folder of the heartbeats (default: the environment)")
    guard = commands.add_parser("guard", help="watch heartbeats; cancel a silent one's scope")
    guard.add_argument("names", metavar="NAME", nargs="*")
    guard.add_argument("--store", help="Redis URL or folder of the heartbeats (default: the environment)")
    guard.add_argument("--server-url", metavar="URL", help="base URL, http(s)://host[:port]")
    guard.add_argument("--region", type=str.lower, help="Upbit region when no server URL is set")
    guard.add_argument(
        "--give-up", type=_positive_seconds, default=DEFAULT_GIVE_UP, metavar="SECONDS",
        help=f"how long a fire keeps trying before it reports what is left (default {DEFAULT_GIVE_UP:g})",
    )  # fmt: skip
    guard.add_argument("--status", action="store_true", help="print the running guard's status and exit")
    guard.add_argument("--status-file", metavar="PATH", help="where the guard keeps its status")
    return parser


def _heartbeat(args: argparse.Namespace, secrets: Sequence[str]) -> int:
    """One beat (or a disarm) of ``args.name``."""
    try:
        states = tuple(dict.fromkeys(args.states or DEFAULT_GUARD_STATES))
        scope = GuardScope(args.pocket, args.markets, args.side, states, args.identifier_prefix)
        beating = Heartbeat(args.name, args.timeout, scope=scope, store=args.store, interval=None)
    except ValueError as error:  # ConfigurationError included (a --timeout below 0: Heartbeat's own check)
        return cli._refused(error, secrets)
    try:
        beating.beat()
    except StoreUnavailable as error:
        return cli._refused(error, secrets)
    finally:
        beating.store.close()
    return cli.EXIT_OK


def _status(args: argparse.Namespace, environ: Mapping[str, str], secrets: Sequence[str]) -> int:
    """Print the status file a running guard keeps, with each heartbeat as the store says now."""
    path = _status_file(args, environ)
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        cli._error_line(f"no guard status at {path}: {error}", secrets)
        return cli.EXIT_NOTHING_DONE
    status["running"] = _alive(status.get("pid"))
    sys.stdout.write(cli.redact(json.dumps(status, indent=2, ensure_ascii=False), secrets) + "\n")
    return cli.EXIT_OK


def _alive(pid: object) -> bool:
    """Whether the guard that wrote the status file still runs (a stale file says so)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        with contextlib.suppress(PermissionError):  # another user's process: it runs
            os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _write_fire(record: FireRecord, secrets: Sequence[str]) -> None:
    """A fire's whole report, one JSON line on stdout."""
    line = json.dumps({**record.summary(), "report": record.report.to_dict()}, ensure_ascii=False)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stdout.write(cli.redact(line, secrets) + "\n")
        sys.stdout.flush()


def _make_guard(args: argparse.Namespace, environ: Mapping[str, str], secrets: Sequence[str]) -> Guard | int:
    """The guard of the command, everything checked before it watches; or the exit status."""
    if not args.names:
        cli._error_line("name one or more heartbeats to guard (or --status)", secrets)
        return cli.EXIT_USAGE
    try:
        base_url = resolve_base_url(args.server_url, args.region, environ)  # a bad URL: refused now, not at a fire
        if not environ.get(KEYS_FILE_VARIABLE):  # a guard without keys could never fire: refused at start
            key_pair_from_env(environ)
        store = open_heartbeat_store(args.store, environ)
        path = _status_file(args, environ)
        path.parent.mkdir(parents=True, exist_ok=True)
        return Guard(args.names, store=store, base_url=base_url, environ=environ, give_up=args.give_up,
                     on_fire=lambda record: _write_fire(record, secrets), status_file=path)  # fmt: skip
    except (ValueError, StoreUnavailable, OSError) as error:  # MissingCredentials, ConfigurationError included
        return cli._refused(error, secrets)


async def _watch(guard: Guard, interrupts: Interrupts) -> FireRecord | None:
    """``guard.run()`` until it gives up or a signal comes (the run is cancelled: None)."""
    task = asyncio.current_task()
    assert task is not None
    try:
        with interrupts.cancelling(task):
            return None if interrupts.count else await guard.run()
    except asyncio.CancelledError:
        if not interrupts.count:
            raise
        return None


def _guard(args: argparse.Namespace, environ: Mapping[str, str], secrets: Sequence[str]) -> int:
    if args.status:
        return _status(args, environ, secrets)
    made = _make_guard(args, environ, secrets)
    if isinstance(made, int):
        return made
    interrupts = Interrupts()
    interrupts.stage = OnSignal.CANCEL
    try:
        with interrupts.installed():
            gave_up = asyncio.run(_watch(made, interrupts))
    finally:
        made.store.close()
    if interrupts.count:
        logging.getLogger("upbit_cancel.guard").info("stopped by signal %d", interrupts.first)
        return interrupts.status
    if gave_up is not None:
        cli._error_line(f"heartbeat {gave_up.name}: gave up after {args.give_up:g} s: {gave_up.error}", secrets)
    return EXIT_GAVE_UP


def _route_logs(secrets: Sequence[str]) -> contextlib.ExitStack:
    """The guard's and the heartbeats' records as ``upbit-cancel guard: <time> ...`` lines, for the run."""
    routes = contextlib.ExitStack()
    for name in ("upbit_cancel.guard", "upbit_cancel.heartbeat"):
        logging.getLogger(name).setLevel(logging.INFO)
        line = logging.Formatter("%(asctime)s %(message)s")
        routes.enter_context(cli._lines_on_stderr(name, secrets, f"{cli.PROG} guard: ", logging.INFO, line))
    return routes


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """Run ``upbit-cancel heartbeat ...`` or ``upbit-cancel guard ...`` (``argv`` starts with the word)."""
    env: dict[str, Any] = dict(os.environ if environ is None else environ)
    secrets = cli._secret_values(env)
    args = parse(_parsers(), argv)
    if isinstance(args, int):
        return args
    try:
        with _route_logs(secrets):
            if args.command == "heartbeat":
                return _heartbeat(args, secrets)
            return _guard(args, env, secrets)
    except Exception as exc:  # one line, never a traceback, as the rest of the command
        cli._error_line(f"unexpected {type(exc).__name__}: {exc}", secrets)
        return cli.EXIT_NOTHING_DONE

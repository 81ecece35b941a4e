"""The ``upbit-cancel`` command's parser and the constants its help names: built without httpx.

``upbit-cancel --help`` (and ``-h``) is answered from here by ``entry`` before the CLI is loaded, so
this module imports only light things: argparse, the generated ``upbit_client.servers`` (not the
registry, which loads attrs), the names of the settings (``settings``, ``upbit_auth.variables``) and
the version line. ``cli`` builds its parser here too, and its old names (``cli.build_parser``,
``cli.PROG``, ``cli.EXIT_OK``...) are these objects: one parser, one help text
(``tests/test_startup_imports.py`` compares them).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, Protocol

from upbit_auth.variables import POCKET_VARIABLE
from upbit_client.servers import SERVERS

from .entry import version_line
from .settings import DEFAULT_REGION, KEYS_FILE_VARIABLE, PRECEDENCE, STORE_ENV

PROG = "upbit-cancel"
DEFAULT_TIMEOUT = 30.0

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_NOTHING_DONE = 3
EXIT_REPORT_LOST = 4
EXIT_INTERRUPTED = 130

EXIT_STATUSES = (
    "Exit status: 0 all cancelled; 1 some failed, unconfirmed or not sent; 2 bad usage or input (nothing sent); "
    "3 nothing could be done (missing keys, exchange unreachable, keys rejected, account blocked); "
    "4 the report could not be written to stdout (the cancels stand; stderr gives the counts); "
    "128+N interrupted by signal N: HUP 129, INT (Ctrl-C) 130, QUIT 131, USR1 138, USR2 140, ALRM 142, TERM 143 "
    "(the numbers of Linux; the report is still printed whole)."
)
"""Every exit status, in one place: ``--help`` prints it and the README's table says the same."""


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


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    """``argv`` parsed, or the exit status argparse ended with, its output written: 0 after ``--help``, 2 after
    a usage error (``_Parser.error``)."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def _positive(text: str, units: dict[str, float], expected: str) -> float:
    """``text`` as a positive, finite number of seconds, a unit of ``units`` after it if any."""
    number, unit = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1.0)
    try:
        value = float(number) * unit
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive {expected}; given: {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    return _positive(text, {}, "number of seconds")


def _duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h`` or ``1d`` as seconds (> 0)."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    return _positive(text, units, "duration such as 90s, 15m, 2h or 1d")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Cancel Upbit orders by uuid or by identifier, any number of them (DELETE /v1/orders/uuids).",
        epilog=(
            f"{PRECEDENCE} An id FILE (UTF-8) holds one id per line, sent as written: spaces and tabs around "
            "it are dropped, blank lines and lines starting with '#' are skipped, and a '#' or spaces inside a "
            "line are part of the id (a line that looks like a JSON array or an inline comment gets a warning); "
            f"'-' reads stdin. {EXIT_STATUSES} The dead-man's switch: {PROG} heartbeat --help, {PROG} guard --help."
        ),
    )
    _add_id_arguments(parser)
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
    _add_run_arguments(parser)
    add_open_arguments(parser)
    return parser


def _add_id_arguments(parser: argparse.ArgumentParser) -> None:
    """The orders to cancel by id: as arguments or from files, uuids or identifiers."""
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


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """How the run goes, whatever it cancels: the lookup, the pocket and its shared budget, the time budget."""
    parser.add_argument(
        "--no-confirm",
        dest="confirm",
        action="store_false",
        help="skip the order lookup (GET /v1/orders/uuids) that settles lost answers and tells why orders failed",
    )
    parser.add_argument(
        "--pocket",
        dest="pockets",
        action="append",
        metavar="NAME",
        help=f"the pocket the key belongs to (default: ${POCKET_VARIABLE}): keys named into one pocket share "
        "its one rate budget and 418 block, as Upbit counts them; without a name the key is its own pocket. "
        "Repeat it with --open to sweep several pockets side by side, each with its own keys",
    )
    parser.add_argument(
        "--keys-file",
        metavar="PATH",
        help=f"the pockets' keys, a TOML file of [NAME] tables with access_key and secret_key, mode 600 "
        f"(default: ${KEYS_FILE_VARIABLE}); else each pocket's UPBIT_POCKET_<NAME>_ACCESS_KEY / _SECRET_KEY",
    )
    parser.add_argument(
        "--rate-limit-store",
        metavar="URL",
        help=f"share the rate budget with other processes and machines: redis://HOST:PORT/DB, "
        f"redis+sentinel://HOST:PORT[,...]/SERVICE or redis+cluster://HOST:PORT[,...] "
        f"(default: ${STORE_ENV}; needs the [redis] extra)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"total time budget for the whole batch (default: {DEFAULT_TIMEOUT:g})",
    )


class _TakesArguments(Protocol):
    """An argument parser or one of its groups."""

    def add_argument(self, *name_or_flags: str, **kwargs: Any) -> argparse.Action: ...


def add_scope_arguments(group: _TakesArguments, *, states_help: str) -> None:
    """``--market``, ``--side`` and ``--state``: the filters a sweep and a guard's heartbeat both take."""
    group.add_argument(
        "--market", dest="markets", metavar="PAIR", action="append", help="only this market, e.g. KRW-BTC (repeatable)"
    )
    group.add_argument("--side", choices=("bid", "ask"), help="only buy (bid) or only sell (ask) orders")
    group.add_argument("--state", dest="states", choices=("wait", "watch"), action="append", help=states_help)


def add_open_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--open`` mode's options: which open orders to list and cancel."""
    group = parser.add_argument_group(
        "open orders (instead of ids: list the open orders that match with GET /v1/orders/open, then cancel them)"
    )
    group.add_argument("--open", action="store_true", help="cancel every open order that matches the filters below")
    add_scope_arguments(group, states_help="only orders in this state (repeatable; default: both wait and watch)")
    group.add_argument(
        "--exclude-market", dest="excluded_markets", metavar="PAIR", action="append", default=[],
        help="never this market (repeatable)",
    )  # fmt: skip
    group.add_argument(
        "--quote", dest="quotes", metavar="CURRENCY", action="append",
        help="only markets quoted in it, e.g. KRW (repeatable)",
    )  # fmt: skip
    group.add_argument(
        "--older-than", dest="older_than", type=_duration, metavar="DURATION",
        help="only orders created longer ago than this (90s, 15m, 2h, 1d)",
    )  # fmt: skip
    group.add_argument("--dry-run", action="store_true", help="list the orders that match; cancel nothing")
    group.add_argument(
        "--until-empty", action="store_true",
        help="list again after cancelling and cancel what appeared meanwhile, until none match (5 passes at most)",
    )  # fmt: skip

"""One hostile exchange: every named fault against sync ``cancel_orders``, async ``cancel_orders_async`` and
the ``upbit-cancel`` command, in one table.

Guarantee under test (docs/guarantees.md, "Whatever the exchange sends, a report"): for each fault and
each way in, the process prints a report naming every id exactly once, within the ``--timeout``-derived
bound, with a peak memory (the child's own ``VmHWM``, read by the child at its end: the ``ru_maxrss`` of
``os.wait4`` also counts the pytest worker's memory copied at fork) under ``MAX_RSS``, no
traceback on stderr, and the documented exit status (``docs/outcomes.md``; for the library, the status
``upbit_cancel.cli.exit_status`` gives its report). Each run is a process of its own, so a block, a
limiter or memory of one run cannot help or hurt another.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import UPBIT_VARIABLES, new_exchange
from tests.faults import (
    Action,
    ApplyThen,
    CloseAtOnce,
    CloseMidBody,
    Delegate,
    DelegateGzipped,
    DelegateWith,
    Drip,
    FaultServer,
    Flood,
    LoseAnswer,
    Raw,
    RawRequest,
    Reply,
    ResetBeforeAnswer,
    ResetMidResponse,
    Script,
    Stall,
    always,
    deep_json,
    error_reply,
    first,
    gzip_bomb,
    html_reply,
    http_response,
    refused_url,
)
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_sandbox import SandboxExchange

ROOT = Path(__file__).resolve().parent.parent
UPBIT_CANCEL = Path(sys.executable).parent / "upbit-cancel"
TIMEOUT = 2.0
"""``timeout_total`` / ``--timeout`` of every run."""
# The SDK's promise is the timeout plus a second; a child process also starts Python and imports the SDK,
# which on a loaded 2-core machine (the suite runs beside other work) took up to 5 s. The bound still
# catches what it is for: an answer dripped a byte every 200 ms takes 24 s to arrive whole.
STARTUP_AND_LOAD = 10.0
MAX_RSS = 200 * 1024 * 1024
MODES = ("sync", "async", "cli")

OK, INCOMPLETE, NOTHING_DONE = 0, 1, 3

Check = Callable[[dict[str, Any], list[str]], None]


def all_in(group: str) -> Check:
    def check(report: dict[str, Any], ids: list[str]) -> None:
        assert report[group]["count"] == len(ids), f"expected every id in {group}"

    return check


def none_cancelled(report: dict[str, Any], ids: list[str]) -> None:
    """Sent and maybe applied (unconfirmed), or never sent before ``timeout_total`` ran out (not_sent)."""
    assert report["success"]["count"] == report["failed"]["count"] == 0
    assert report["unconfirmed"]["count"] > 0


def blocked(report: dict[str, Any], ids: list[str]) -> None:
    assert report["success"]["count"] == 0 and report["unconfirmed"]["count"] + report["not_sent"]["count"] == len(ids)


def rejected(report: dict[str, Any], ids: list[str]) -> None:
    assert {order["reason"] for order in report["failed"]["orders"]} == {"rejected"}
    assert report["failed"]["count"] == len(ids)


@dataclass
class JumpingDates(Action):
    """The sandbox's answer, its ``Date`` from a clock 2-3 h off (either way) on about every other answer."""

    pick: random.Random = field(default_factory=lambda: random.Random(7))

    def run(self, conn: Any, request: RawRequest, server: FaultServer) -> bool:
        skew = self.pick.choice([0.0, 1.0]) * self.pick.choice([-1.0, 1.0]) * self.pick.uniform(7200, 10800)
        date = formatdate(time.time() + skew, usegmt=True)
        return DelegateWith({"Date": date}).run(conn, request, server)


@dataclass
class DatesPerConnection(Action):
    """The sandbox's answer, its ``Date`` from one of three clocks (0, +2 h, -3 h, fractions of a second
    apart), each connection keeping its own (the server reads each connection in a thread of its own)."""

    clocks: dict[str, float] = field(default_factory=dict)

    def run(self, conn: Any, request: RawRequest, server: FaultServer) -> bool:
        offsets = (0.0, 7200.4, -10800.7)
        skew = self.clocks.setdefault(threading.current_thread().name, offsets[len(self.clocks) % 3])
        return DelegateWith({"Date": formatdate(time.time() + skew, usegmt=True)}).run(conn, request, server)


def all_confirmed_by_lookup(report: dict[str, Any], ids: list[str]) -> None:
    assert report["success"]["count"] == len(ids)
    assert {order.get("confirmed_by") for order in report["success"]["orders"]} == {"lookup"}


def cancels_get(action: Action) -> Script:
    """``action`` for every cancel (``DELETE /v1/orders/uuids``); every other request goes to the sandbox."""
    return lambda request: action if request.method == "DELETE" else Delegate()


@dataclass(frozen=True)
class Hostile:
    name: str
    script: Callable[[], Script] | None
    """What the server does with every request; None: nothing listens (connection refused)."""
    status: int
    """The documented exit status of the run."""
    check: Check | None = None
    ids: int = 5
    long_identifiers: bool = False
    cli_status: frozenset[int] = field(default_factory=frozenset)
    """Further statuses the command may give (a bad id refused before sending is exit 2)."""
    paced: bool = False
    """The sandbox behind the fault keeps Upbit's request rate (a 429 past it); else it has no limit."""
    cancels: int | None = None
    """The cancel requests (``DELETE``) the server must read, exactly (a 429 would cost one more)."""
    timeout: float = TIMEOUT


GOOD_BODY = b'{"success": {"count": 0, "orders": []}, "failed": {"count": 0, "orders": []}}'

FAULTS = [
    Hostile("drip-1-byte-per-200ms", lambda: always(Drip(interval=0.2)), NOTHING_DONE, all_in("unconfirmed")),
    # 1,000 ids: 50 requests (30 at once, async) each met by an answer that never ends or is 100 MB.
    Hostile("endless-chunked-200", lambda: always(Flood()), NOTHING_DONE, none_cancelled, ids=1000),
    Hostile("100MB-body", lambda: always(Flood(size=100 * 1024 * 1024)), NOTHING_DONE, none_cancelled, ids=1000),
    Hostile("gzip-bomb-200MB", lambda: always(gzip_bomb()), NOTHING_DONE, all_in("unconfirmed")),
    Hostile("gzip-compressed-answers", lambda: always(DelegateGzipped()), OK, all_in("success")),
    Hostile("content-length-too-long", lambda: always(CloseMidBody()), NOTHING_DONE, all_in("unconfirmed")),
    Hostile(
        "content-length-too-short",
        lambda: always(Raw(http_response(200, GOOD_BODY, length=20))),
        INCOMPLETE,
        all_in("unconfirmed"),
    ),
    Hostile("reset-mid-body", lambda: always(ResetMidResponse()), NOTHING_DONE, all_in("unconfirmed")),
    Hostile("reset-before-answer", lambda: always(ResetBeforeAnswer()), NOTHING_DONE, all_in("unconfirmed")),
    Hostile("closes-at-once", lambda: always(CloseAtOnce()), NOTHING_DONE, all_in("unconfirmed")),
    Hostile("silent-server", lambda: always(Stall(30.0)), NOTHING_DONE, all_in("unconfirmed")),
    Hostile("connection-refused", None, NOTHING_DONE, all_in("not_sent")),
    Hostile(
        "invalid-utf8-200",
        lambda: always(Reply(200, b'{"success": "\xff\xfe\xfd"}')),
        INCOMPLETE,
        all_in("unconfirmed"),
    ),
    Hostile("not-json-200", lambda: always(Reply(200, "not json")), INCOMPLETE, all_in("unconfirmed")),
    Hostile("deep-json-200", lambda: always(Reply(200, deep_json())), INCOMPLETE, all_in("unconfirmed")),
    Hostile("deep-json-418", lambda: always(Reply(418, deep_json(inside_error=True))), NOTHING_DONE, blocked),
    Hostile("deep-json-502", lambda: always(Reply(502, deep_json())), INCOMPLETE, all_in("unconfirmed")),
    Hostile("html-502", lambda: always(html_reply(502)), INCOMPLETE, all_in("unconfirmed")),
    Hostile(
        "remaining-req-5000-digits",
        lambda: always(DelegateWith({"Remaining-Req": "group=default; min=1800; sec=" + "9" * 5000})),
        OK,
        all_in("success"),
    ),
    Hostile(
        "garbage-remaining-req-and-date",
        lambda: always(DelegateWith({"Remaining-Req": "sec=-1; group=;;", "Date": "Mon, 01 Jan 99999999999 0:0:0"})),
        OK,
        all_in("success"),
    ),
    Hostile(
        "418-absurd-block",
        lambda: always(error_reply(418, "blocked", "Blocked for 99999999999999999 hours.")),
        NOTHING_DONE,
        blocked,
    ),
    Hostile(
        "418-named-too-many-requests",
        lambda: always(error_reply(418, "too_many_requests", "Too many requests.")),
        NOTHING_DONE,
        blocked,
    ),
    Hostile(
        "429-storm",
        lambda: always(error_reply(429, "too_many_requests", "Too many requests.")),
        INCOMPLETE,
        all_in("unconfirmed"),
    ),
    Hostile("500-storm", lambda: always(error_reply(500, "server_error", "oops")), INCOMPLETE, all_in("unconfirmed")),
    Hostile(
        "redirect-elsewhere",
        # Refused, never followed (RedirectRefused): a lost answer, as the other transport failures.
        lambda: always(Reply(302, b"", headers={"Location": "http://127.0.0.1:9/v1/orders/uuids"})),
        NOTHING_DONE,
        all_in("unconfirmed"),
    ),
    Hostile("keys-rejected-401", lambda: always(error_reply(401, "jwt_verification", "no")), NOTHING_DONE, rejected),
    Hostile(
        "header-past-h11s-limit",
        lambda: always(Raw(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")),
        NOTHING_DONE,
        all_in("unconfirmed"),
    ),
    Hostile("no-status-line", lambda: always(Raw(b"garbage\r\n\r\n")), NOTHING_DONE, all_in("unconfirmed")),
    Hostile("answer-lost-after-cancelling", lambda: first(1, LoseAnswer()), OK, all_in("success")),
    Hostile(
        "307-to-a-cancel-it-applied",
        # Issue 23 row 8: the 307 is not followed (RedirectRefused), so the outcome is unknown; the lookup
        # (GET /v1/orders/uuids, answered normally) confirms every id cancelled.
        lambda: cancels_get(ApplyThen(Reply(307, b"", headers={"Location": "http://127.0.0.1:9/v1/orders/uuids"}))),
        OK,
        all_confirmed_by_lookup,
    ),
    Hostile(
        "200-naming-none-of-the-ids",
        lambda: first(1, Reply(200, {"success": {"count": 2, "orders": "x"}, "failed": None})),
        INCOMPLETE,
        all_in("failed"),  # not cancelled: the order lookup finds them still open
    ),
    Hostile(
        # Issue 23 row 7: a Date 2-3 h off on every other answer must not be trusted (it cost 2-3 x 429).
        "dates-jumping-hours",
        lambda: always(JumpingDates()),
        OK,
        all_in("success"),
        ids=1000,
        paced=True,
        cancels=50,
        timeout=15.0,
    ),
    Hostile(
        "dates-differing-per-connection",
        lambda: always(DatesPerConnection()),
        OK,
        all_in("success"),
        ids=1000,
        paced=True,
        cancels=50,
        timeout=15.0,
    ),
    Hostile(
        "url-too-long",
        lambda: always(Delegate()),
        NOTHING_DONE,
        all_in("not_sent"),
        ids=20,
        long_identifiers=True,
        cli_status=frozenset({2}),
    ),
]


def paced_exchange(count: int) -> tuple[SandboxExchange, list[str]]:
    """A sandbox keeping Upbit's request rate (a 429 past it), with ``count`` open orders."""
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    return exchange, [exchange.add_order().uuid for _ in range(count)]


@dataclass
class Run:
    status: int
    report: dict[str, Any] | None
    stderr: str
    elapsed: float
    peak_rss: int


def child_env() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in UPBIT_VARIABLES}
    env.pop("UPBIT_RATE_LIMIT_STORE", None)
    env.update(UPBIT_OPEN_API_ACCESS_KEY=TEST_ACCESS_KEY, UPBIT_OPEN_API_SECRET_KEY=TEST_SECRET_KEY)
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_child(argv: list[str], folder: Path, limit: float) -> Run:
    """Run ``argv``; its status, stdout as JSON, stderr and wall time (killed after ``limit`` s).

    ``peak_rss`` is 0 here: the caller takes the child's own reading (``tests.hostile_client``'s
    ``peak_rss``, ``tests.peak_cli``'s file)."""
    out, err = folder / "stdout", folder / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.monotonic()
        process = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=child_env(), cwd=ROOT)
    try:
        process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    elapsed = time.monotonic() - started
    text = out.read_text(encoding="utf-8", errors="replace")
    report = json.loads(text) if text.strip() else None
    return Run(process.returncode, report, err.read_text(encoding="utf-8", errors="replace"), elapsed, 0)


def run_cli(args: list[str], folder: Path, limit: float) -> Run:
    """``upbit-cancel ARGS`` (through ``tests.peak_cli``, which writes the command's own peak RSS)."""
    peak = folder / "peak_rss"
    run = run_child([sys.executable, "-m", "tests.peak_cli", str(peak), *args], folder, limit)
    run.peak_rss = int(peak.read_text(encoding="ascii")) if peak.exists() else 0
    return run


def run_library(args: list[str], folder: Path, limit: float) -> Run:
    """``tests.hostile_client ARGS``: its output replaces the report (``status``, ``report``, ``error``)."""
    run = run_child([sys.executable, "-m", "tests.hostile_client", *args], folder, limit)
    assert run.status == 0, run.stderr
    assert run.report is not None, "no output"
    run.peak_rss = run.report["peak_rss"]
    return run


def ids_for(fault: Hostile) -> tuple[str, list[str]]:
    if fault.long_identifiers:
        return "identifiers", [f"{n}-" + "x" * 10_000 for n in range(fault.ids)]
    return "uuids", []


def run_mode(
    mode: str, url: str, kind: str, ids: list[str], folder: Path, timeout: float = TIMEOUT
) -> tuple[int, dict[str, Any] | None, Run]:
    ids_file = folder / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n", encoding="utf-8")
    limit = timeout + STARTUP_AND_LOAD + 30.0
    if mode == "cli":
        flag = "--uuids-from" if kind == "uuids" else "--identifiers-from"
        run = run_cli(["--server-url", url, "--json", "--timeout", str(timeout), flag, str(ids_file)], folder, limit)
        return run.status, run.report, run
    run = run_library([mode, url, kind, str(ids_file), str(timeout)], folder, limit)
    assert run.report is not None and run.report["error"] is None, run.report
    return run.report["status"], run.report["report"], run


def reported(report: dict[str, Any], kind: str) -> list[str]:
    key = "uuid" if kind == "uuids" else "identifier"
    return [
        order[key] for group in ("success", "failed", "unconfirmed", "not_sent") for order in report[group]["orders"]
    ]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_every_hostile_answer_ends_in_a_whole_report_on_time_in_bounded_memory(
    fault: Hostile, mode: str, serve: Any, tmp_path: Path
) -> None:
    kind, ids = ids_for(fault)
    if fault.script is None:
        url = refused_url()
        ids = [str(uuid.uuid4()) for _ in range(fault.ids)]
    else:
        exchange, uuids = paced_exchange(fault.ids) if fault.paced else new_exchange(0 if ids else fault.ids)
        ids = ids or uuids
        server = serve(fault.script(), exchange)
        url = server.url
    status, report, run = run_mode(mode, url, kind, ids, tmp_path, fault.timeout)
    assert "Traceback" not in run.stderr and "never retrieved" not in run.stderr, run.stderr[-2000:]
    assert run.elapsed <= fault.timeout + 1.0 + STARTUP_AND_LOAD, f"took {run.elapsed:.1f}s"
    if fault.cancels is not None:
        sent = sum(request.method == "DELETE" for request in server.requests)
        assert sent == fault.cancels, f"{sent} cancel requests, {fault.cancels} expected (a 429 costs one more)"
    assert 0 < run.peak_rss <= MAX_RSS, f"peak RSS {run.peak_rss / 2**20:.0f} MB"
    print(f"{fault.name} {mode}: {run.elapsed:.1f}s, peak RSS {run.peak_rss / 2**20:.0f} MB")
    if mode == "cli" and status in fault.cli_status:
        return  # refused before sending, nothing printed but one error line
    assert status == fault.status, (status, run.stderr[-500:])
    assert report is not None, "no report"
    found = reported(report, kind)
    assert Counter(found) == Counter(ids), "every id exactly once"
    if fault.check is not None:
        fault.check(report, ids)


# ---------------------------------------------------------------------------------------------
# Listing faults: the sweep's four ways in (the library, sync and async; the command's --open, with and
# without --dry-run). The fault meets the listing (GET /v1/orders/open); every other request reaches
# the sandbox, which holds ORDERS open orders (and the ``bad`` ones).

SWEEP_MODES = ("sync", "async", "cli-open", "cli-open-dry-run")
ORDERS = 6
LISTING_FAILED = "listing open orders failed, nothing was cancelled"


@dataclass(frozen=True)
class ListingFault:
    name: str
    script: Callable[[], Script] | None
    """What the server does with the listing requests; every other request reaches the sandbox. None: no
    fault (the sandbox lists the ``bad`` entries among the good orders)."""
    fails: str | None = None
    """The error the library raises when the first listing cannot be used (a class of its MRO); the command
    then exits 3 with one line and no report. None: the sweep ends in a report."""
    bad: tuple[str, ...] = ()
    """Uuids the exchange lists that the spec forbids in a cancel: each reported once, ``invalid_listing_entry``."""


def listing(action: Action, times: int | None = None) -> Script:
    """``action`` for the first ``times`` listing requests (all if None); everything else to the sandbox."""
    seen = [0]
    lock = threading.Lock()

    def script(request: RawRequest) -> Action:
        if request.method == "GET" and urlsplit(request.target).path == "/v1/orders/open":
            with lock:
                seen[0] += 1
                if times is None or seen[0] <= times:
                    return action
        return Delegate()

    return script


LISTING_FAULTS = [
    # Issue 23 row 1: one uuid no cancel may carry no longer stops the sweep (it was InvalidRequest, exit 2).
    ListingFault("listing-names-a-blank-uuid", None, bad=(" ",)),
    ListingFault("listing-names-a-header-injecting-uuid", None, bad=("x\r\nX-Evil: 1",)),
    ListingFault("listing-names-a-tab-uuid-and-a-blank-one", None, bad=("\t", "  ")),
    ListingFault("listing-429-once", lambda: listing(error_reply(429, "too_many_requests", "Too many."), times=1)),
    ListingFault("listing-500-once", lambda: listing(error_reply(500, "server_error", "oops"), times=1)),
    ListingFault("listing-reset-once", lambda: listing(ResetBeforeAnswer(), times=1)),
    ListingFault("listing-closed-at-once-once", lambda: listing(CloseAtOnce(), times=1)),
    ListingFault("listing-not-json", lambda: listing(Reply(200, "not json")), fails="InvalidResponse"),
    ListingFault("listing-not-a-list", lambda: listing(Reply(200, {"orders": []})), fails="InvalidResponse"),
    ListingFault("listing-deep-json", lambda: listing(Reply(200, deep_json())), fails="InvalidResponse"),
    ListingFault("listing-gzip-bomb", lambda: listing(gzip_bomb()), fails="UpbitClientError"),
    ListingFault("listing-endless-chunked", lambda: listing(Flood()), fails="UpbitClientError"),
    ListingFault("listing-drip", lambda: listing(Drip(interval=0.2)), fails="UpbitClientError"),
    ListingFault("listing-silent", lambda: listing(Stall(30.0)), fails="UpbitClientError"),
    ListingFault(
        "listing-418", lambda: listing(error_reply(418, "blocked", "Blocked for 10 s.")), fails="TemporarilyBlocked"
    ),
    ListingFault(
        "listing-keys-rejected-401", lambda: listing(error_reply(401, "jwt_verification", "no")), fails="UpbitAPIError"
    ),
    ListingFault(
        "listing-redirect-elsewhere",
        lambda: listing(Reply(302, b"", headers={"Location": "http://127.0.0.1:9/v1/orders/open"})),
        fails="UpbitClientError",
    ),
]


def run_sweep(mode: str, url: str, folder: Path) -> tuple[int | None, dict[str, Any] | None, list[str] | None, Run]:
    """One sweep of every open order: (status, report, error class names, run)."""
    limit = TIMEOUT + STARTUP_AND_LOAD + 30.0
    if mode.startswith("cli"):
        dry = ["--dry-run"] if mode == "cli-open-dry-run" else []
        run = run_cli(["--server-url", url, "--json", "--timeout", str(TIMEOUT), "--open", *dry], folder, limit)
        return run.status, run.report, None, run
    ids_file = folder / "ids.txt"
    ids_file.write_text("", encoding="utf-8")
    run = run_library([f"sweep-{mode}", url, "uuids", str(ids_file), str(TIMEOUT)], folder, limit)
    assert run.report is not None
    return run.report["status"], run.report["report"], run.report["error"], run


def check_sweep_report(fault: ListingFault, mode: str, report: dict[str, Any], good: list[str]) -> None:
    """Every order once: the good ones cancelled (not sent, in a dry run), the bad ones failed."""
    assert Counter(reported(report, "uuids")) == Counter([*good, *fault.bad]), "every order exactly once"
    group = "not_sent" if mode == "cli-open-dry-run" else "success"
    assert sorted(order["uuid"] for order in report[group]["orders"]) == sorted(good)
    failed = {order["uuid"]: order["reason"] for order in report["failed"]["orders"]}
    assert failed == dict.fromkeys(fault.bad, "invalid_listing_entry")


@pytest.mark.slow
@pytest.mark.parametrize("mode", SWEEP_MODES)
@pytest.mark.parametrize("fault", LISTING_FAULTS, ids=[fault.name for fault in LISTING_FAULTS])
def test_every_hostile_listing_ends_in_a_report_or_one_error_line_on_time_in_bounded_memory(
    fault: ListingFault, mode: str, serve: Any, tmp_path: Path
) -> None:
    exchange, good = new_exchange(ORDERS)
    for uuid_ in fault.bad:
        exchange.add_order(uuid_)
    url = serve(fault.script() if fault.script is not None else listing(Delegate()), exchange).url
    status, report, error, run = run_sweep(mode, url, tmp_path)
    assert "Traceback" not in run.stderr and "never retrieved" not in run.stderr, run.stderr[-2000:]
    assert run.elapsed <= TIMEOUT + 1.0 + STARTUP_AND_LOAD, f"took {run.elapsed:.1f}s"
    assert 0 < run.peak_rss <= MAX_RSS, f"peak RSS {run.peak_rss / 2**20:.0f} MB"
    if fault.fails is not None:
        if mode.startswith("cli"):
            assert (status, report) == (NOTHING_DONE, None), run.stderr[-500:]
            assert LISTING_FAILED in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr[-500:]
        else:
            assert error is not None and fault.fails in error, error
        assert len(exchange.orders("wait")) == ORDERS + len(fault.bad), "nothing cancelled"
        return
    assert error is None and report is not None, (error, run.stderr[-500:])
    check_sweep_report(fault, mode, report, good)
    dry_run = mode == "cli-open-dry-run"
    assert status == (OK if dry_run or not fault.bad else INCOMPLETE), (status, run.stderr[-500:])
    if dry_run and fault.bad:
        # The dry run's summary counts the listed entries it could not use, not "0 open orders match".
        assert f"({len(fault.bad)} more listed that no cancel may carry: failed)" in run.stderr, run.stderr[-500:]

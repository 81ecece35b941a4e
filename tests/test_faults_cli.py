"""``upbit-cancel`` (in-process ``main``) against a loopback server misbehaving on purpose.

Guarantee under test: whatever the server does, the command returns its documented exit status,
never a traceback; on status 2/3 exactly one ``upbit-cancel: error:`` line on stderr naming the
cause; and its report (``--json``) names every id given exactly once.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.conftest import new_exchange
from tests.faults import (
    Action,
    Delegate,
    Reply,
    ResetBeforeAnswer,
    Stall,
    always,
    error_reply,
    html_reply,
    once_for,
    refused_url,
)
from tests.limits import UUIDS_PER_CANCEL, chunks
from upbit_cancel.cli import main

pytestmark = pytest.mark.usefixtures("cli_env")


def cancel(url: str, ids: list[str], capsys: pytest.CaptureFixture[str], timeout: float = 3.0) -> tuple[int, Any, str]:
    status = main(["--server-url", url, "--json", "--timeout", str(timeout), "--uuid", *ids])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    report = json.loads(out) if out.strip() else None
    return status, report, err


def report_ids(report: Any) -> list[str]:
    found = [order["uuid"] for group in ("success", "failed") for order in report[group]["orders"]]
    return found + [order["uuid"] for group in ("unconfirmed", "not_sent") for order in report[group]["orders"]]


def assert_report_has_every_id_once(report: Any, ids: list[str]) -> None:
    assert report is not None, "no report printed"
    found = report_ids(report)
    assert sorted(found) == sorted(ids)
    assert len(found) == len(set(found))


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    assert lines[0].startswith("upbit-cancel: error: ")
    return lines[0]


def test_refused_exits_3_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    status, report, err = cancel(refused_url(), ids, capsys, timeout=2.0)
    assert status == 3
    line = one_error_line(err)
    assert "no order could be cancelled" in line and "ConnectError" in line
    assert_report_has_every_id_once(report, ids)


@pytest.mark.parametrize("action", [ResetBeforeAnswer(), Stall(5.0)], ids=["reset", "stall"])
def test_no_answer_ever_exits_3_within_the_timeout(
    capsys: pytest.CaptureFixture[str], serve: Any, action: Action
) -> None:
    exchange, ids = new_exchange(25)
    server = serve(always(action), exchange)
    started = time.monotonic()
    status, report, err = cancel(server.url, ids, capsys, timeout=0.6)
    assert time.monotonic() - started < 3.0
    assert status == 3
    one_error_line(err)
    assert_report_has_every_id_once(report, ids)
    assert report["unconfirmed"]["count"] == 25


@pytest.mark.parametrize(
    ("status", "name", "words"),
    [
        (401, "jwt_verification", "access and secret keys"),
        (401, "invalid_query_payload", "query hash"),
        (403, "out_of_scope", "Make Orders"),
    ],
)
def test_rejected_keys_exit_3_naming_what_to_check_without_retry(
    capsys: pytest.CaptureFixture[str], serve: Any, status: int, name: str, words: str
) -> None:
    exchange, ids = new_exchange(5)
    server = serve(always(error_reply(status, name, "rejected")), exchange)
    code, report, err = cancel(server.url, ids, capsys)
    assert code == 3
    line = one_error_line(err)
    assert name in line and words in line
    assert server.count == 1
    assert_report_has_every_id_once(report, ids)


def test_418_exits_3_with_the_block_message_after_one_request(capsys: pytest.CaptureFixture[str], serve: Any) -> None:
    exchange, ids = new_exchange(45)
    server = serve(always(error_reply(418, "blocked", "Blocked for 120 seconds.")), exchange)
    code, report, err = cancel(server.url, ids, capsys)
    assert code == 3
    line = one_error_line(err)
    assert "blocked" in line.lower() and "120 seconds" in line
    assert server.count <= chunks(45)  # the async batch may have had every chunk in flight together
    assert_report_has_every_id_once(report, ids)


@pytest.mark.parametrize("action", [html_reply(502), Reply(200, "not json")], ids=["html-502", "invalid-json"])
def test_answers_we_cannot_trust_exit_1_with_every_id_unconfirmed(
    capsys: pytest.CaptureFixture[str], serve: Any, action: Action
) -> None:
    exchange, ids = new_exchange(5)
    server = serve(always(action), exchange)
    code, report, err = cancel(server.url, ids, capsys, timeout=3.0)
    assert code == 1
    assert len(err.splitlines()) <= 1
    assert_report_has_every_id_once(report, ids)
    assert report["unconfirmed"]["count"] == 5
    assert 1 < server.count <= 10  # the cancel and then its order lookup, each retried, but boundedly


def test_one_reset_chunk_in_a_big_batch_still_exits_0(capsys: pytest.CaptureFixture[str], serve: Any) -> None:
    exchange, ids = new_exchange(200)
    sixth_chunk = ids[5 * UUIDS_PER_CANCEL : 6 * UUIDS_PER_CANCEL]
    server = serve(once_for(sixth_chunk, ResetBeforeAnswer(), then=Delegate()), exchange)
    code, report, err = cancel(server.url, ids, capsys, timeout=10.0)
    assert code == 0, err
    assert err == ""
    assert_report_has_every_id_once(report, ids)
    assert report["success"]["count"] == 200
    assert server.count == chunks(200) + 1

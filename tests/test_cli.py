"""``upbit-cancel`` in-process: arguments, env, files, output formats, exit codes, progress, secrecy.

The network is a recording ``httpx.MockTransport`` passed to ``main(..., transport=...)`` (a tiny
exchange whose answers each test chooses), behind the real batch layer, so the request log shows
what went out. The last tests run the installed ``upbit-cancel`` against the loopback sandbox.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

import upbit_cancel
from tests import faults
from tests.conftest import Recorder, set_upbit_env
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import UUIDS_PER_CANCEL, chunks
from upbit_cancel import cli
from upbit_cancel.batch import cancel_orders_async
from upbit_cancel.errors import ConfigurationError
from upbit_cancel.results import BatchResult, OrderRef
from upbit_client import SPEC_SHA256, SPEC_VERSION, Client

SECRET = TEST_SECRET_KEY


@dataclass
class BatchSpy:
    """The real ``cancel_orders_async``, recording how the CLI called it; ``raises`` replaces the call."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    raises: BaseException | None = None

    async def __call__(self, client: Client, **kwargs: Any) -> BatchResult:
        self.calls.append(kwargs)
        if self.raises is not None:
            raise self.raises
        return await cancel_orders_async(client, **kwargs)


def exchange_reply(request: httpx.Request) -> httpx.Response:
    """A tiny exchange: ids starting with ``done`` are already filled (failed), all others cancel.

    An order lookup (GET) lists each id with state ``done`` or ``cancel`` accordingly.
    """
    pairs = [(key, value) for key, value in parse_qsl(request.url.query.decode()) if key.endswith("[]")]
    kind = pairs[0][0]
    if request.method == "GET":
        key = "uuid" if kind == "uuids[]" else "identifier"
        states = [{key: value, "state": "done" if value.startswith("done") else "cancel"} for _, value in pairs]
        return httpx.Response(200, json=states, headers={"Remaining-Req": "group=default; min=1800; sec=29"})
    orders = [
        {"uuid": value if kind == "uuids[]" else f"uuid-of-{value}", "market": "KRW-BTC", "identifier": value}
        if kind == "identifiers[]"
        else {"uuid": value, "market": "KRW-BTC"}
        for _, value in pairs
    ]
    success = [o for o in orders if not (o.get("identifier") or o["uuid"]).startswith("done")]
    failed = [o for o in orders if o not in success]
    body = {"success": {"count": len(success), "orders": success}, "failed": {"count": len(failed), "orders": failed}}
    return httpx.Response(200, json=body, headers={"Remaining-Req": "group=default; min=1800; sec=29"})


def error_reply(status: int, name: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json={"error": {"name": name, "message": f"{name} happened"}})


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, SECRET)
    return monkeypatch


@pytest.fixture
def exchange() -> Recorder:
    return Recorder(reply=exchange_reply)


@pytest.fixture
def batch(monkeypatch: pytest.MonkeyPatch) -> BatchSpy:
    spy = BatchSpy()
    monkeypatch.setattr(cli, "cancel_orders_async", spy)
    return spy


@dataclass
class Run:
    status: int
    out: str
    err: str


@pytest.fixture
def run(
    env: pytest.MonkeyPatch, exchange: Recorder, batch: BatchSpy, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Run]:
    def run(*argv: str) -> Run:
        status = cli.main(list(argv), transport=exchange.transport())
        out, err = capsys.readouterr()
        assert SECRET not in out and SECRET not in err
        return Run(status, out, err)

    return run


def ids_in_report(report: dict[str, Any], key: str = "uuid") -> list[str]:
    return [
        order[key]
        for group in ("success", "failed", "unconfirmed", "not_sent")
        for order in report[group]["orders"]
    ]  # fmt: skip


def test_version_names_the_package_and_the_spec_version_and_hash_on_one_line(
    run: Callable[..., Run], exchange: Recorder
) -> None:
    result = run("--version")
    assert result.status == 0 and result.err == ""
    expected = f"upbit-cancel {upbit_cancel.__version__} (openapi.yaml {SPEC_VERSION}, sha256 {SPEC_SHA256})\n"
    assert result.out == expected
    assert len(SPEC_SHA256) == 64 and exchange.requests == []


# --- bad usage: exit 2, one line, nothing sent ------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([], id="no ids"),
        pytest.param(["--json"], id="no ids with json"),
        pytest.param(["--uuid"], id="flag without value"),
        pytest.param(["--uuid", ""], id="empty id"),
        pytest.param(["--uuid", "ok", "   "], id="blank id"),
        pytest.param(["--uuid", "a\x01b"], id="control character"),
        pytest.param(["--uuid", "abc\n"], id="trailing newline"),
        pytest.param(["--identifier", "x\x7f"], id="DEL in identifier"),
        pytest.param(["--uuid", "a", "--identifier", "b"], id="both kinds"),
        pytest.param(["--uuid", "a", "--region", "us"], id="unknown region"),
        pytest.param(["--uuid", "a", "--region", "kr", "--server-url", "https://x"], id="region and url"),
        pytest.param(["--uuid", "a", "--server-url", "ftp://example.com"], id="url scheme"),
        pytest.param(["--uuid", "a", "--server-url", "api.upbit.com"], id="url without scheme"),
        pytest.param(["--uuid", "a", "--server-url", "https://api.upbit.com/?x=1"], id="url with query"),
        pytest.param(["--uuid", "a", "--server-url", "https://api.upbit.com/v1"], id="url with path"),
        pytest.param(["--uuid", "a", "--server-url", "https://api.upbit.com:99999"], id="url bad port"),
        pytest.param(["--uuid", "a", "--server-url", "https://"], id="url without host"),
        pytest.param(["--uuid", "a", "--server-url", "https://api.upbit.com#frag"], id="url with fragment"),
        pytest.param(["--uuid", "a", "--server-url", "https://api .upbit.com"], id="url with space"),
        pytest.param(["--uuid", "a", "--timeout", "0"], id="zero timeout"),
        pytest.param(["--uuid", "a", "--timeout", "-5"], id="negative timeout"),
        pytest.param(["--uuid", "a", "--timeout", "soon"], id="word timeout"),
        pytest.param(["--uuid", "a", "--timeout", "nan"], id="nan timeout"),
        pytest.param(["--uuid", "a", "--timeout", "inf"], id="inf timeout"),
        pytest.param(["--uuids-from", "/nonexistent/ids.txt"], id="missing file"),
        pytest.param(["--uuid", "a", "--bogus"], id="unknown option"),
    ],
)
def test_bad_usage_exits_2_with_one_line_and_sends_nothing(
    argv: list[str], run: Callable[..., Run], exchange: Recorder, batch: BatchSpy
) -> None:
    result = run(*argv)
    assert result.status == 2
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("upbit-cancel: error: "), result.err
    assert exchange.requests == [] and batch.calls == []


def test_bad_id_message_names_the_rule_and_the_value(run: Callable[..., Run]) -> None:
    result = run("--uuid", "a\x01b")
    assert "not blank and free of control characters" in result.err and "'a\\x01b'" in result.err


def test_both_kinds_from_files_exit_2(run: Callable[..., Run], tmp_path: Path, exchange: Recorder) -> None:
    (tmp_path / "u").write_text("a\n")
    (tmp_path / "i").write_text("b\n")
    result = run("--uuids-from", str(tmp_path / "u"), "--identifiers-from", str(tmp_path / "i"))
    assert result.status == 2 and "not both" in result.err and exchange.requests == []


@pytest.mark.parametrize(
    "content",
    [pytest.param("", id="empty"), pytest.param("\n  \n# only a comment\n\t\n", id="blank and comments")],
)
def test_file_without_ids_exits_2(content: str, run: Callable[..., Run], tmp_path: Path, exchange: Recorder) -> None:
    (tmp_path / "ids").write_text(content)
    result = run("--uuids-from", str(tmp_path / "ids"))
    assert result.status == 2 and "no orders given" in result.err and exchange.requests == []


def test_control_character_in_file_exits_2_naming_the_line(
    run: Callable[..., Run], tmp_path: Path, exchange: Recorder
) -> None:
    (tmp_path / "ids").write_text("good-1\nbad\x0b2\n")
    result = run("--uuids-from", str(tmp_path / "ids"))
    assert result.status == 2 and "line 2" in result.err and exchange.requests == []


def test_file_not_utf8_exits_2(run: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "ids").write_bytes(b"\xff\xfe\x00a")
    result = run("--uuids-from", str(tmp_path / "ids"))
    assert result.status == 2 and "not UTF-8" in result.err


def test_malformed_server_url_from_env_exits_2_naming_the_variable(
    run: Callable[..., Run], env: pytest.MonkeyPatch, exchange: Recorder
) -> None:
    env.setenv("UPBIT_OPEN_API_SERVER_URL", "https://api.upbit.com/?debug=1")
    result = run("--uuid", "a")
    assert result.status == 2 and "UPBIT_OPEN_API_SERVER_URL" in result.err and exchange.requests == []


def test_url_credentials_are_not_echoed(run: Callable[..., Run], exchange: Recorder) -> None:
    for url in ("https://user:hunter2@api.upbit.com", "ftp://user:hunter2@api.upbit.com/x?y"):
        result = run("--uuid", "a", "--server-url", url)
        assert result.status == 2 and "hunter2" not in result.err and exchange.requests == []


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "--uuids-from" in capsys.readouterr().out


# --- keys and server ----------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["UPBIT_OPEN_API_ACCESS_KEY", "UPBIT_OPEN_API_SECRET_KEY"])
def test_missing_key_exits_3_naming_the_variable(
    missing: str, run: Callable[..., Run], env: pytest.MonkeyPatch, exchange: Recorder
) -> None:
    env.delenv(missing)
    result = run("--uuid", "a")
    assert result.status == 3
    assert len(result.err.splitlines()) == 1 and missing in result.err
    assert exchange.requests == []


def test_bad_usage_is_reported_before_missing_keys(run: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    env.delenv("UPBIT_OPEN_API_SECRET_KEY")
    assert run("--uuid", "").status == 2


def test_fallback_variables_for_keys_and_server(
    run: Callable[..., Run], env: pytest.MonkeyPatch, exchange: Recorder
) -> None:
    env.delenv("UPBIT_OPEN_API_ACCESS_KEY")
    env.delenv("UPBIT_OPEN_API_SECRET_KEY")
    env.setenv("UPBIT_ACCESS_KEY", TEST_ACCESS_KEY)
    env.setenv("UPBIT_SECRET_KEY", SECRET)
    env.setenv("UPBIT_BASE_URL", "http://127.0.0.1:8123/")
    assert run("--uuid", "a").status == 0
    assert str(exchange.requests[0].url).startswith("http://127.0.0.1:8123/v1/orders/uuids?")


@pytest.mark.parametrize(
    ("argv", "variables", "expected"),
    [
        ([], {}, "https://api.upbit.com"),
        (["--region", "sg"], {}, "https://sg-api.upbit.com"),
        (["--region", "TH"], {}, "https://th-api.upbit.com"),
        ([], {"UPBIT_OPEN_API_SERVER_URL": "http://localhost:9000", "UPBIT_BASE_URL": "http://other"}, "http://localhost:9000"),
        ([], {"UPBIT_BASE_URL": "https://id-api.upbit.com"}, "https://id-api.upbit.com"),
        (["--server-url", "http://127.0.0.1:1"], {"UPBIT_OPEN_API_SERVER_URL": "http://localhost:9000"}, "http://127.0.0.1:1"),
        # One precedence for connect() and the command: a server URL in the environment beats --region.
        (["--region", "sg"], {"UPBIT_OPEN_API_SERVER_URL": "http://localhost:9000"}, "http://localhost:9000"),
    ],
)  # fmt: skip
def test_server_resolution(
    argv: list[str],
    variables: dict[str, str],
    expected: str,
    run: Callable[..., Run],
    env: pytest.MonkeyPatch,
    exchange: Recorder,
) -> None:
    for name, value in variables.items():
        env.setenv(name, value)
    assert run("--uuid", "a", *argv).status == 0
    assert str(exchange.requests[0].url).startswith(expected + "/v1/orders/uuids?")


# PyJWT's own decode, the independent check here, warns about the short test key; the SDK's signing and the
# sandbox do not (tests/test_warnings_as_errors.py).
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_requests_are_signed_with_the_keys_from_env(run: Callable[..., Run], exchange: Recorder) -> None:
    import jwt

    run("--uuid", "a")
    token = exchange.requests[0].headers["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, SECRET, algorithms=["HS512"])["access_key"] == TEST_ACCESS_KEY


def test_timeout_is_the_budget_and_bounds_each_request(
    run: Callable[..., Run], batch: BatchSpy, exchange: Recorder
) -> None:
    run("--uuid", "a", "--timeout", "2.5")
    assert batch.calls[0]["options"].timeout_total == 2.5
    # Inside the batch the request's timeouts are narrowed to what is left of timeout_total (so a transport of
    # the caller's, as this mock is, learns the deadline): a hair under 2.5, never above.
    assert 2.0 < exchange.requests[0].extensions["timeout"]["read"] <= 2.5
    run("--uuid", "a", "--timeout", "600")
    assert batch.calls[1]["options"].timeout_total == 600
    assert exchange.requests[1].extensions["timeout"]["read"] == cli.MAX_REQUEST_TIMEOUT


# --- ids from arguments and files ---------------------------------------------------------------


def test_repeated_flags_several_values_files_and_duplicates(
    run: Callable[..., Run], batch: BatchSpy, tmp_path: Path
) -> None:
    (tmp_path / "ids").write_text("\ufeff# exported 2026-11-25\n  c  \r\n\nd\t\nb\n")
    result = run("--uuid", "a", "b", "--uuid", "a", "--uuids-from", str(tmp_path / "ids"))
    assert result.status == 0
    assert batch.calls[0]["uuids"] == ["a", "b", "c", "d"]


# --- the id file's format (issue 23 row 9): one id per line, as written; lookalikes warned, not rewritten ---


def test_an_id_file_is_one_id_per_line_as_written_with_whole_line_comments_and_blanks_skipped(
    run: Callable[..., Run], batch: BatchSpy, tmp_path: Path
) -> None:
    lines = [
        "\ufeff# exported",
        "  plain-1\t",
        "",
        "   # indented comment",
        "with space inside",
        "ord#7",
        "x]",
        "end\r",
    ]
    (tmp_path / "ids").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("--identifiers-from", str(tmp_path / "ids"))
    assert result.status == 0, result.err
    assert batch.calls[0]["identifiers"] == ["plain-1", "with space inside", "ord#7", "x]", "end"]
    assert "warning" not in result.err  # nothing here looks like a JSON array or an inline comment


def test_a_line_with_an_inline_comment_is_sent_whole_with_a_warning_naming_its_line(
    run: Callable[..., Run], batch: BatchSpy, tmp_path: Path
) -> None:
    (tmp_path / "ids").write_text("demo-0008\ndemo-0009 # my note\n", encoding="utf-8")
    result = run("--identifiers-from", str(tmp_path / "ids"))
    assert batch.calls[0]["identifiers"] == ["demo-0008", "demo-0009 # my note"]  # the spec allows both
    warnings = [line for line in result.err.splitlines() if line.startswith("upbit-cancel: warning: ")]
    assert len(warnings) == 1 and "line 2 looks like an inline comment" in warnings[0]
    assert str(tmp_path / "ids") in warnings[0] and "sent whole as one id" in warnings[0]


@pytest.mark.parametrize(
    ("content", "lines"),
    [
        pytest.param('["a","b"]\n', "line 1 looks", id="one line"),
        pytest.param('[\n  "a",\n  "b"\n]\n', "lines 1, 4 look", id="pretty-printed"),
    ],
)
def test_a_file_holding_a_json_array_is_sent_as_written_with_a_warning_naming_the_lines(
    run: Callable[..., Run], batch: BatchSpy, tmp_path: Path, content: str, lines: str
) -> None:
    (tmp_path / "ids").write_text(content, encoding="utf-8")
    result = run("--identifiers-from", str(tmp_path / "ids"))
    assert batch.calls[0]["identifiers"] == [line.strip() for line in content.splitlines()]
    warnings = [line for line in result.err.splitlines() if line.startswith("upbit-cancel: warning: ")]
    assert len(warnings) == 1 and f"{lines} like a JSON array" in warnings[0]


def test_many_lookalike_lines_give_one_warning_naming_the_first_and_counting_the_rest(
    run: Callable[..., Run], batch: BatchSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"order-{n} # note\n" for n in range(1, 101))))
    result = run("--identifiers-from", "-")
    assert len(batch.calls[0]["identifiers"]) == 100
    warnings = [line for line in result.err.splitlines() if line.startswith("upbit-cancel: warning: ")]
    assert warnings == [
        "upbit-cancel: warning: stdin lines 1, 2, 3, 4, 5 and 95 more look like an inline comment; "
        "each line is sent whole as one id, as written (an id file holds one id per line)"
    ]


def test_ids_from_stdin(run: Callable[..., Run], batch: BatchSpy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("my-1\nmy-2\n"))
    assert run("--identifiers-from", "-").status == 0
    assert batch.calls[0]["identifiers"] == ["my-1", "my-2"]


def test_stdin_twice_exits_2(run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("my-1\n"))
    assert run("--uuids-from", "-", "--uuids-from", "-").status == 2


# --- reports and exit statuses -----------------------------------------------------------------


def test_json_report_has_every_id_exactly_once(run: Callable[..., Run], exchange: Recorder, tmp_path: Path) -> None:
    ids = [f"open-{n}" for n in range(40)] + [f"done-{n}" for n in range(5)]
    (tmp_path / "ids").write_text("\n".join(ids + ids[:7]) + "\n")
    result = run("--uuids-from", str(tmp_path / "ids"), "--json")
    assert result.status == 1
    report = json.loads(result.out)
    assert set(report) == {"success", "failed", "unconfirmed", "not_sent"}
    assert set(report["unconfirmed"]) == {"count", "orders", "errors"}
    assert sorted(ids_in_report(report)) == sorted(ids)
    assert report["success"]["count"] == 40 and report["failed"]["count"] == 5 and report["unconfirmed"]["count"] == 0
    assert {order["reason"] for order in report["failed"]["orders"]} == {"filled"}
    # The cancels (45 ids in chunks of maxItems), then one lookup for the 5 failed ids.
    assert [request.method for request in exchange.requests] == ["DELETE"] * chunks(45) + ["GET"]
    assert result.err == "upbit-cancel: 7 duplicate ids dropped (each order is sent once)\n"


def test_json_report_for_identifiers(run: Callable[..., Run]) -> None:
    result = run("--identifier", "mine-1", "done-2", "--json")
    report = json.loads(result.out)
    assert ids_in_report(report, "identifier") == ["mine-1", "done-2"]
    assert report["success"]["orders"][0] == {"uuid": "uuid-of-mine-1", "market": "KRW-BTC", "identifier": "mine-1"}


def test_table_report(run: Callable[..., Run]) -> None:
    result = run("--uuid", "open-1", "done-2", "open-3")
    assert result.status == 1
    lines = result.out.splitlines()
    assert lines[0] == "2 cancelled, 1 failed, 0 unconfirmed"
    assert lines[1].split() == ["UUID", "MARKET", "OUTCOME", "REASON"]
    assert [line.split() for line in lines[2:]] == [
        ["open-1", "KRW-BTC", "cancelled"],
        ["done-2", "KRW-BTC", "failed", "filled"],
        ["open-3", "KRW-BTC", "cancelled"],
    ]


def test_all_cancelled_exits_0(run: Callable[..., Run]) -> None:
    result = run("--uuid", "open-1", "open-2")
    assert result.status == 0 and result.out.startswith("2 cancelled, 0 failed, 0 unconfirmed\n")


def fragment_id(fragment: str) -> str:
    return {"invalid_access_key": "keys rejected", "Make Orders": "permission missing"}.get(
        fragment, "unreachable" if fragment == "connection refused" else "account blocked"
    )


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        pytest.param(error_reply(401, "invalid_access_key"), "invalid_access_key", id="keys rejected"),
        pytest.param(error_reply(403, "out_of_scope"), "Make Orders", id="permission missing"),
        pytest.param(unreachable, "connection refused", id="unreachable"),
        pytest.param(error_reply(418, "blocked"), "blocked", id="account blocked"),
    ],
)
def test_nothing_could_be_done_exits_3(
    reply: Callable[[httpx.Request], httpx.Response], fragment: str, run: Callable[..., Run], exchange: Recorder
) -> None:
    exchange.reply = reply
    result = run("--uuid", *(f"open-{n}" for n in range(25)), "--json")
    assert result.status == 3
    report = json.loads(result.out)
    # Nothing was applied: refused keys are failed (rejected), an unreachable exchange never got them (not_sent),
    # a 418 leaves the chunk it answered unconfirmed and the rest not_sent.
    groups = {"keys rejected": "failed", "permission missing": "failed", "unreachable": "not_sent"}
    group = groups.get(fragment_id(fragment), "unconfirmed")
    if group == "unconfirmed":
        assert report["unconfirmed"]["count"] + report["not_sent"]["count"] == 25
    else:
        assert report[group]["count"] == 25
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("upbit-cancel: error: ") and fragment in lines[0]


def test_server_errors_everywhere_exit_1_not_3(run: Callable[..., Run], exchange: Recorder) -> None:
    exchange.reply = error_reply(500, "server_error")
    result = run("--uuid", "open-1")
    assert result.status == 1
    assert "0 cancelled, 0 failed, 1 unconfirmed" in result.out and "server_error" in result.out


def test_partly_unconfirmed_exits_1(run: Callable[..., Run], exchange: Recorder) -> None:
    # Chunks go out concurrently: the answer depends on the chunk's content, not on arrival order.
    exchange.reply = lambda request: (
        error_reply(401, "nonce_used") if b"bad-" in request.url.query else exchange_reply
    )(request)
    result = run("--uuid", *(f"open-{n}" for n in range(20)), *(f"bad-{n}" for n in range(10)))
    assert result.status == 1
    # The refused chunk was applied nowhere: failed, reason rejected, with the exchange's error.
    assert result.out.startswith("20 cancelled, 10 failed, 0 unconfirmed\n")
    assert "rejected: HTTP 401 nonce_used" in result.out


def test_an_id_the_exchange_left_out_is_reported_unconfirmed(run: Callable[..., Run], exchange: Recorder) -> None:
    exchange.reply = lambda request: exchange_reply(httpx.Request("DELETE", "http://x/?uuids[]=other"))
    report = json.loads(run("--uuid", "open-1", "--json").out)
    assert ids_in_report(report) == ["open-1"]
    assert report["unconfirmed"]["orders"][0]["uuid"] == "open-1"


def test_reconcile_adds_ids_a_result_lacks() -> None:
    result = BatchResult(id_kind="identifiers", success=[OrderRef("u-1", "KRW-BTC", "mine-1")])
    cli.reconcile(result, ["mine-1", "mine-2"])
    assert [order.id for order in result.unconfirmed] == ["mine-2"]
    assert ids_in_report(result.to_dict(), "identifier") == ["mine-1", "mine-2"]


# --- failures of the machinery -------------------------------------------------------------------


def test_unexpected_exception_is_one_line_exit_3_and_redacted(run: Callable[..., Run], batch: BatchSpy) -> None:
    batch.raises = RuntimeError(f"boom\nwith the key {SECRET} inside")
    result = run("--uuid", "a")  # ``run`` asserts the secret is in neither output
    assert result.status == 3
    assert result.err.splitlines() == [
        "upbit-cancel: error: unexpected RuntimeError: boom with the key ******** inside"
    ]


def test_invalid_request_from_batch_exits_2(run: Callable[..., Run], batch: BatchSpy) -> None:
    from upbit_client.errors import InvalidRequest

    batch.raises = InvalidRequest("uuids[]", "pattern", "'x'", "is bad")
    assert run("--uuid", "a").status == 2


# A proxy variable naming a proxy that cannot work (issue 23 row 6): ``connect()`` or the first use of the
# client raises ``ConfigurationError`` naming the variable; the command says so in one line and exits 2.
PROXY_REFUSED = "HTTP_PROXY: '::bad::' is not a proxy URL (Invalid port: ':bad::'); nothing was sent"


def test_a_setting_connect_refuses_exits_2_with_its_message(
    run: Callable[..., Run], batch: BatchSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Client:
        raise ConfigurationError(PROXY_REFUSED)

    monkeypatch.setattr(cli, "connect", refuse)
    result = run("--uuid", "a")
    assert (result.status, result.err) == (2, f"upbit-cancel: error: {PROXY_REFUSED}\n")
    assert batch.calls == [] and result.out == ""


def test_a_setting_refused_when_the_batch_first_builds_its_connection_exits_2_not_unexpected(
    run: Callable[..., Run], batch: BatchSpy
) -> None:
    batch.raises = ConfigurationError(PROXY_REFUSED)
    result = run("--uuid", "a")
    assert (result.status, result.err) == (2, f"upbit-cancel: error: {PROXY_REFUSED}\n")


def test_keyboard_interrupt(run: Callable[..., Run], batch: BatchSpy) -> None:
    batch.raises = KeyboardInterrupt()
    result = run("--uuid", "a")
    assert result.status == 130 and "interrupted" in result.err


# --- progress ------------------------------------------------------------------------------------


SEVERAL_CHUNKS = 2 * UUIDS_PER_CANCEL + 5


@pytest.mark.parametrize(
    ("tty", "count", "shown"),
    [(True, SEVERAL_CHUNKS, True), (False, SEVERAL_CHUNKS, False), (True, UUIDS_PER_CANCEL, False)],
    ids=["terminal-several-chunks", "pipe-several-chunks", "terminal-one-chunk"],
)
def test_progress_only_on_a_terminal_for_several_chunks(
    tty: bool, count: int, shown: bool, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    result = run("--uuid", *(f"open-{n}" for n in range(count)))
    assert result.status == 0
    if shown:
        assert result.err.startswith("\rcancelling… ") and f"\rcancelling… {count}/{count}" in result.err
        assert result.err.endswith("\r") and "\n" not in result.err
    else:
        assert result.err == ""


# --- end to end: the installed command against the loopback sandbox -----------------------------

UPBIT_CANCEL = Path(sys.executable).parent / "upbit-cancel"


def run_installed(*argv: str, access_key: str, secret_key: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    child_env = {
        name: value for name, value in os.environ.items() if not name.startswith("UPBIT_") and name != "PYTHONPATH"
    }
    child_env |= {"UPBIT_OPEN_API_ACCESS_KEY": access_key, "UPBIT_OPEN_API_SECRET_KEY": secret_key}
    return subprocess.run(
        [str(UPBIT_CANCEL), *argv], input=stdin, capture_output=True, text=True, env=child_env, timeout=60, check=False
    )


@pytest.fixture
def sandbox() -> Iterator[tuple[Any, str]]:
    from upbit_sandbox import SandboxExchange, start_server

    exchange = SandboxExchange()
    exchange.seed_demo_orders()
    server, url = start_server(exchange)
    try:
        yield exchange, url
    finally:
        server.stop()


def test_end_to_end_45_ids_from_a_file(sandbox: tuple[Any, str], tmp_path: Path) -> None:
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, demo_uuid

    exchange, url = sandbox
    opened = [demo_uuid(f"demo-{n:04d}") for n in range(1, 36)]
    closed = [demo_uuid(f"demo-filled-{n:04d}") for n in range(1, 4)]
    closed += [demo_uuid(f"demo-cancelled-{n:04d}") for n in range(1, 4)]
    lines = opened + closed + opened[:2] + closed[:2]  # 41 distinct ids, 4 repeated
    assert len(lines) == 45
    (tmp_path / "ids.txt").write_text("# to cancel\n" + "\n".join(lines) + "\n")

    done = run_installed(
        "--uuids-from", str(tmp_path / "ids.txt"), "--json", "--server-url", url,
        access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    assert DEMO_SECRET_KEY not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert sorted(ids_in_report(report)) == sorted(set(lines))
    assert {o["uuid"] for o in report["success"]["orders"]} == set(opened)
    assert {o["uuid"] for o in report["failed"]["orders"]} == set(closed)
    assert (report["success"]["count"], report["failed"]["count"], report["unconfirmed"]["count"]) == (35, 6, 0)
    reasons = {o["uuid"]: o["reason"] for o in report["failed"]["orders"]}
    assert reasons == {**dict.fromkeys(closed[:3], "filled"), **dict.fromkeys(closed[3:], "already_cancelled")}
    assert {o.uuid for o in exchange.orders("wait")} == {demo_uuid(f"demo-{n:04d}") for n in range(36, 41)}
    assert [request.method for request in exchange.requests] == ["DELETE"] * chunks(41) + ["GET"]
    assert done.stderr == "upbit-cancel: 4 duplicate ids dropped (each order is sent once)\n"


def test_end_to_end_identifiers_from_stdin_all_cancelled(sandbox: tuple[Any, str]) -> None:
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    _, url = sandbox
    done = run_installed(
        "--identifiers-from", "-", "--server-url", url,
        access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY, stdin="demo-0001\ndemo-0002\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "2 cancelled, 0 failed, 0 unconfirmed"
    assert done.stderr == ""


def test_end_to_end_wrong_secret_exits_3(sandbox: tuple[Any, str]) -> None:
    from upbit_sandbox import DEMO_ACCESS_KEY

    exchange, url = sandbox
    wrong = "wrong-secret-RECOGNISABLE-0123456789"
    done = run_installed("--uuid", "x", "--server-url", url, access_key=DEMO_ACCESS_KEY, secret_key=wrong)
    assert done.returncode == 3
    assert wrong not in done.stdout + done.stderr
    assert len(done.stderr.splitlines()) == 1 and "jwt_verification" in done.stderr
    assert exchange.orders("wait")  # nothing was cancelled


def test_end_to_end_unreachable_exits_3() -> None:
    done = run_installed(
        "--uuid", "x", "--server-url", faults.refused_url(), "--timeout", "3",
        access_key="k", secret_key="s-RECOGNISABLE",
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("upbit-cancel: error: ")


def test_end_to_end_blocked_is_one_line_and_stops(tmp_path: Path) -> None:
    ids = [f"id-{n}" for n in range(60)]
    (tmp_path / "ids").write_text("\n".join(ids))
    blocked = faults.error_reply(418, "too_many_requests_blocked", "Blocked for 60 seconds.")
    with faults.FaultServer(faults.always(blocked)) as server:
        done = run_installed(
            "--uuids-from", str(tmp_path / "ids"), "--json", "--server-url", server.url,
            access_key="k", secret_key="s-RECOGNISABLE",
        )  # fmt: skip
        sent = server.count
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "blocked" in done.stderr and "60 seconds" in done.stderr
    assert sorted(ids_in_report(json.loads(done.stdout))) == sorted(ids)
    assert sent <= chunks(60)  # at most one request per chunk (they go out concurrently): no retry after a 418


def test_report_survives_a_narrow_terminal_encoding(
    run: Callable[..., Run], capsys: pytest.CaptureFixture[str]
) -> None:
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", ascii_out)
        status = cli.main(["--uuid", "주문-1"], transport=Recorder(reply=exchange_reply).transport())
        ascii_out.seek(0)
        printed = ascii_out.read()
    assert status == 0
    assert "\\uc8fc\\ubb38-1" in printed


def test_blocked_after_some_success_still_exits_3_with_the_full_report(
    run: Callable[..., Run], exchange: Recorder
) -> None:
    exchange.reply = lambda request: (error_reply(418, "blocked") if b"blk-" in request.url.query else exchange_reply)(
        request
    )
    result = run("--uuid", *(f"open-{n}" for n in range(20)), *(f"blk-{n}" for n in range(20)), "--json")
    assert result.status == 3 and "temporarily blocked" in result.err
    report = json.loads(result.out)
    assert len(ids_in_report(report)) == 40 and report["unconfirmed"]["count"] >= 20


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_reader_closing_the_pipe_keeps_the_status_and_stderr_quiet(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    result = run("--uuid", "open-1", "done-2")
    assert result.status == 1 and result.err == ""


def test_a_program_that_ran_the_command_in_its_own_process_gets_no_warning_lines_after_it_returns(
    run: Callable[..., Run], capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    logger = logging.getLogger("upbit_cancel.ratelimit")
    before = list(logger.handlers)
    assert run("--uuid", "open-1").status == 0
    assert logger.handlers == before  # the command's warning line handler lasted as long as its run
    capsys.readouterr()
    logger.warning("rate-limit store redis://127.0.0.1:9/0: a library call's warning, after the command")
    assert "upbit-cancel: warning" not in capsys.readouterr().err

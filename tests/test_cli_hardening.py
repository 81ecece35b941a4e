"""Issue 15, the operator's side: settings and input that cannot work are bad usage (exit 2 /
``ConfigurationError``, nothing sent), text from the server never drives the terminal, and the
redaction of the secret does not rewrite ordinary words.

Guarantees under test (docs/guarantees.md, "The report always comes out" and "Bad input").
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import Recorder, set_upbit_env
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_cancel import ConfigurationError, cancel_orders, cancel_orders_async, cli, connect
from upbit_cancel.cli import EXIT_USAGE, MAX_ID_LINE, printable, redact
from upbit_cancel.store import STORE_ENV, check_store_url

UUID = "6c1eac69-b9bc-4fbf-9982-e9c4641c453f"
HOSTILE = "\x1b[2J\x1b]0;owned\x07\u202e"


@dataclass
class Run:
    status: int
    out: str
    err: str


@pytest.fixture
def command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[Recorder, Callable[..., Run]]:
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, TEST_SECRET_KEY)
    exchange = Recorder()

    def run(*argv: str) -> Run:
        status = cli.main(list(argv), transport=exchange.transport())
        out, err = capsys.readouterr()
        return Run(status, out, err)

    return exchange, run


# --- row 9: the rate-limit store ---------------------------------------------------------------

BAD_STORES = ["ftp://host/0", "redis://h:abc/0", "not a url", "redis://:hunter2@h:abc/0", "redis://[::1"]


@pytest.mark.parametrize("store", BAD_STORES)
def test_a_store_url_that_cannot_work_is_bad_usage_naming_it_and_nothing_is_sent(
    command: tuple[Recorder, Callable[..., Run]], store: str
) -> None:
    exchange, run = command
    result = run("--uuid", UUID, "--rate-limit-store", store)
    assert result.status == EXIT_USAGE and result.out == "" and exchange.requests == []
    assert result.err.count("\n") == 1 and "--rate-limit-store" in result.err and "Traceback" not in result.err
    assert "hunter2" not in result.err  # a password in the URL is redacted
    assert store.replace(":hunter2", "").split("@")[-1] in result.err


def test_a_bad_store_in_the_environment_is_bad_usage_naming_the_variable(
    command: tuple[Recorder, Callable[..., Run]], monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange, run = command
    monkeypatch.setenv(STORE_ENV, "ftp://host/0")
    result = run("--uuid", UUID)
    assert result.status == EXIT_USAGE and exchange.requests == []
    assert STORE_ENV in result.err and "ftp://host/0" in result.err


@pytest.mark.parametrize("store", BAD_STORES)
async def test_the_library_raises_configuration_error_for_a_bad_store_before_sending(store: str) -> None:
    exchange = Recorder()
    client = connect(
        "https://api.upbit.com", access_key="a", secret_key="s" * 40, httpx_args={"transport": exchange.transport()}
    )
    with pytest.raises(ConfigurationError, match="rate_limit_store"):
        cancel_orders(client, uuids=[UUID], rate_limit_store=store)
    with pytest.raises(ConfigurationError, match="rate_limit_store"):
        await cancel_orders_async(client, uuids=[UUID], rate_limit_store=store)
    assert exchange.requests == []


def test_the_library_names_the_environment_variable_for_a_bad_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STORE_ENV, "not a url")
    client = connect("https://api.upbit.com", access_key="a", secret_key="s" * 40)
    with pytest.raises(ConfigurationError, match=STORE_ENV):
        cancel_orders(client, uuids=[UUID])


@pytest.mark.parametrize("store", ["redis://localhost:6379/0", "rediss://cache.internal", "unix:///tmp/redis.sock"])
def test_usable_store_urls_pass_the_check(store: str) -> None:
    assert check_store_url(store, "store") == store


# --- row 10: server URL and httpx arguments ---------------------------------------------------


def test_a_server_url_python_cannot_parse_is_bad_usage(command: tuple[Recorder, Callable[..., Run]]) -> None:
    exchange, run = command
    result = run("--uuid", UUID, "--server-url", "http://[::1")
    assert result.status == EXIT_USAGE and exchange.requests == []
    assert "--server-url" in result.err and "http://[::1" in result.err and result.err.count("\n") == 1
    with pytest.raises(ConfigurationError, match="not a valid URL"):
        connect("http://[::1", access_key="a", secret_key="s")


def test_following_redirects_is_refused_at_connect_naming_the_reason() -> None:
    with pytest.raises(ConfigurationError, match=r"follow_redirects.*never redirects"):
        connect("https://api.upbit.com", access_key="a", secret_key="s" * 40, httpx_args={"follow_redirects": True})


def test_httpx_arguments_the_client_also_sets_are_merged_and_work_on_first_use() -> None:
    exchange = Recorder(reply=lambda request: httpx.Response(200, json={"success": {}, "failed": {}}))
    httpx_args = {
        "transport": exchange.transport(),
        "follow_redirects": False,
        "headers": {"X-Desk": "rates"},
        "cookies": {"c": "1"},
    }
    client = connect("https://api.upbit.com", access_key="a", secret_key="s" * 40, httpx_args=httpx_args)
    http = client.get_httpx_client()
    assert http.follow_redirects is False and http.headers["X-Desk"] == "rates"
    assert client.get_async_httpx_client().follow_redirects is False
    cancel_orders(client, uuids=[UUID], confirm=False)
    assert exchange.requests and exchange.requests[0].headers["X-Desk"] == "rates"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("base_url", "https://elsewhere", "connect"),
        ("timeout", 3, "connect"),
        ("auth", None, "access_key"),
        ("no_such_option", 1, "no_such_option"),
    ],
)
def test_httpx_arguments_that_cannot_work_are_refused_at_connect(name: str, value: object, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        connect("https://api.upbit.com", access_key="a", secret_key="s", httpx_args={name: value})


# --- row 11: where the ids come from ------------------------------------------------------------


def test_a_closed_stdin_is_bad_usage_not_a_crash(
    command: tuple[Recorder, Callable[..., Run]], monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange, run = command
    monkeypatch.setattr(sys, "stdin", None)  # what Python sets when the command starts with fd 0 closed
    result = run("--uuids-from", "-")
    assert result.status == EXIT_USAGE and exchange.requests == []
    assert "stdin is closed" in result.err and result.err.count("\n") == 1


def test_an_endless_stream_without_line_breaks_is_refused_after_one_line(
    command: tuple[Recorder, Callable[..., Run]], monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange, run = command
    read: list[int] = []

    class Zero(io.TextIOBase):
        def readline(self, size: int | None = -1) -> str:
            assert size is not None and 0 < size <= MAX_ID_LINE + 2  # never "the whole line, however long"
            read.append(size)
            return "\0" * size

    monkeypatch.setattr(sys, "stdin", Zero())
    result = run("--uuids-from", "-")
    assert result.status == EXIT_USAGE and exchange.requests == [] and len(read) == 1
    assert f"longer than {MAX_ID_LINE} characters" in result.err


@pytest.mark.skipif(not __import__("os").path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_as_an_id_file_is_bad_usage(command: tuple[Recorder, Callable[..., Run]]) -> None:
    exchange, run = command
    result = run("--uuids-from", "/dev/zero")
    assert result.status == EXIT_USAGE and exchange.requests == []
    assert "/dev/zero" in result.err and "line 1 is longer" in result.err


def test_too_many_lines_are_refused(
    command: tuple[Recorder, Callable[..., Run]], monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange, run = command
    monkeypatch.setattr(cli, "MAX_ID_LINES", 3)
    monkeypatch.setattr(sys, "stdin", io.StringIO("a\nb\n\n#c\n"))
    result = run("--identifiers-from", "-")
    assert result.status == EXIT_USAGE and "more than 3 lines" in result.err and exchange.requests == []


# --- row 8: text from the server ---------------------------------------------------------------


def test_control_characters_from_the_server_are_shown_escaped_in_the_table_and_on_stderr(
    command: tuple[Recorder, Callable[..., Run]],
) -> None:
    exchange, run = command
    failed_order = {"uuid": UUID, "market": f"KRW{HOSTILE}BTC"}
    body = {"success": {"count": 0, "orders": []}, "failed": {"count": 1, "orders": [failed_order]}}
    exchange.reply = lambda request: httpx.Response(200, json=body)
    table = run("--uuid", UUID, "--no-confirm")
    assert "\x1b" not in table.out and "\x07" not in table.out and "\u202e" not in table.out
    assert "KRW\\x1b[2J\\x1b]0;owned\\x07\\u202eBTC" in table.out

    error = {"error": {"name": f"bad{HOSTILE}", "message": f"boom{HOSTILE}"}}
    exchange.reply = lambda request: httpx.Response(401, json=error)
    refused = run("--uuid", UUID, "--no-confirm")
    for stream in (refused.out, refused.err):
        assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream
    assert "boom\\x1b[2J" in refused.out + refused.err


def test_printable_keeps_ordinary_text_and_non_ascii_as_it_is() -> None:
    assert printable("KRW-BTC 주문 café") == "KRW-BTC 주문 café"
    assert printable("a\tb\x9bc") == "a\\x09b\\x9bc"


# --- finding: redaction of a short secret -------------------------------------------------------


def test_a_one_character_secret_does_not_rewrite_ordinary_words() -> None:
    assert redact("success: 3 cancelled", ["s"]) == "success: 3 cancelled"
    assert redact("key s was rejected", ["s"]) == "key ******** was rejected"


def test_a_secret_of_a_real_keys_length_is_redacted_wherever_it_appears() -> None:
    secret = TEST_SECRET_KEY
    assert secret not in redact(f"x{secret}y and {secret}", [secret])


def test_the_command_with_a_one_character_secret_prints_words_whole(
    command: tuple[Recorder, Callable[..., Run]], monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange, run = command
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, "e")
    exchange.reply = lambda request: httpx.Response(401, json={"error": {"name": "jwt_verification", "message": "e"}})
    result = run("--uuid", UUID, "--no-confirm")
    assert "cancelled" in result.out and "jwt_verification" in result.out + result.err
    assert "*" not in result.out.replace("********", "")


# --- every exit status in one place ------------------------------------------------------------


def test_the_readme_table_and_help_list_every_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    import re
    import signal
    from pathlib import Path

    from upbit_cancel.interrupts import INTERRUPT_SIGNALS, interrupted_status

    # The fixed statuses, then 128 + N for each signal the command takes (EXIT_INTERRUPTED is SIGINT's).
    fixed = sorted(
        value
        for name, value in vars(cli).items()
        if name.startswith("EXIT_") and isinstance(value, int) and value != cli.EXIT_INTERRUPTED
    )
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    cells = [row.split("|")[1].strip() for row in readme.splitlines() if row.strip().startswith("| ")]
    assert sorted(int(cell) for cell in cells if cell.isdigit()) == fixed and "128 + N" in cells
    signal_row = next(row for row in readme.splitlines() if row.startswith("  | 128 + N |"))
    for signum in INTERRUPT_SIGNALS:
        assert f"{signal.Signals(signum).name} {interrupted_status(signum)}" in signal_row
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split()).split("Exit status:", 1)[1]
    for status in fixed + [interrupted_status(signum) for signum in INTERRUPT_SIGNALS]:
        assert re.search(rf"\b{status}\b", help_text), status

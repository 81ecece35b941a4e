"""Every invalid call, through the generated call, the batch (sync and async) and ``upbit-cancel``.

Guarantee under test: bad input is refused before anything is sent (the transport records zero
requests), with ``InvalidRequest`` (library) or exit status 2 and one stderr line (command) whose
message names the rule broken and what was given. Plus a property: any identifier string is either
refused before sending or signed so that the verifying sandbox accepts it (never a 401 caused by
our own signing).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Recorder
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import IDENTIFIERS_PER_CANCEL, UUIDS_PER_CANCEL
from upbit_auth import UpbitAuth
from upbit_cancel import BatchOptions, ConfigurationError, SweepOptions, cancel_open_orders, cancel_open_orders_async
from upbit_cancel.batch import cancel_orders, cancel_orders_async
from upbit_cancel.cli import main
from upbit_cancel.ratelimit import RateLimiter
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.errors import InvalidRequest
from upbit_sandbox import SandboxExchange

U = "6c1eac69-b9bc-4fbf-9982-e9c4641c453f"
PATTERN_RULE = "not blank and free of control characters"

# (id, kwargs, words the message must contain: the rule and what was given)
COMMON_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("neither", {}, ["x-exactly-one-of", "neither"]),
    ("both", {"uuids": [U], "identifiers": ["x"]}, ["x-exactly-one-of", "both"]),
    ("empty-uuids", {"uuids": []}, ["minItems: 1", "0 items"]),
    ("empty-identifiers", {"identifiers": []}, ["minItems: 1", "0 items"]),
    ("empty-string", {"uuids": [""]}, ["minLength: 1", "''"]),
    ("blank", {"identifiers": ["   "]}, [PATTERN_RULE, "'   '"]),
    ("tab-only", {"identifiers": ["\t"]}, [PATTERN_RULE, "'\\t'"]),
    ("nul", {"uuids": ["a\x00b"]}, [PATTERN_RULE, "'a\\x00b'"]),
    ("newline-inside", {"identifiers": ["my\norder"]}, [PATTERN_RULE, "'my\\norder'"]),
    ("del", {"identifiers": ["a\x7f"]}, [PATTERN_RULE, "'a\\x7f'"]),
    ("c1-control", {"identifiers": ["a\x85"]}, [PATTERN_RULE, "'a\\x85'"]),
    ("bad-item-after-good", {"uuids": [U, " "]}, [PATTERN_RULE, "item 1"]),
    ("int-item", {"uuids": [1]}, ["type: string", "item 0 = 1"]),
    ("none-item", {"identifiers": [None]}, ["type: string", "item 0 = None"]),
    ("bytes-item", {"uuids": [b"abc"]}, ["type: string", "b'abc'"]),
    ("string-not-list", {"uuids": U}, ["type: array", U]),
]
U_MAX, I_MAX = UUIDS_PER_CANCEL, IDENTIFIERS_PER_CANCEL
SINGLE_ONLY_CASES = [
    ("too-many-uuids", {"uuids": [f"id-{n}" for n in range(U_MAX + 1)]}, [f"maxItems: {U_MAX}", f"{U_MAX + 1} items"]),
    (
        "too-many-identifiers",
        {"identifiers": [f"id-{n}" for n in range(I_MAX + 1)]},
        [f"maxItems: {I_MAX}", f"{I_MAX + 1} items"],
    ),
]


def _client(recorder: Recorder) -> Client:
    return Client(
        base_url="https://api.upbit.com",
        httpx_args={"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY), "transport": recorder.transport()},
    )


def call_generated(recorder: Recorder, kwargs: dict[str, Any]) -> None:
    with _client(recorder) as client:
        cancel_orders_by_ids.sync_detailed(client=client, **kwargs)


def call_generated_async(recorder: Recorder, kwargs: dict[str, Any]) -> None:
    async def go() -> None:
        async with _client(recorder) as client:
            await cancel_orders_by_ids.asyncio_detailed(client=client, **kwargs)

    asyncio.run(go())


def call_batch(recorder: Recorder, kwargs: dict[str, Any]) -> None:
    with _client(recorder) as client:
        cancel_orders(client, limiter=RateLimiter("default", None), **kwargs)


def call_batch_async(recorder: Recorder, kwargs: dict[str, Any]) -> None:
    async def go() -> None:
        async with _client(recorder) as client:
            await cancel_orders_async(client, limiter=RateLimiter("default", None), **kwargs)

    asyncio.run(go())


CALLERS = {
    "generated": call_generated,
    "generated-async": call_generated_async,
    "batch": call_batch,
    "batch-async": call_batch_async,
}
LIBRARY_TABLE = [
    pytest.param(caller, kwargs, words, id=f"{name}-{case}")
    for name, caller in CALLERS.items()
    for case, kwargs, words in COMMON_CASES + (SINGLE_ONLY_CASES if name.startswith("generated") else [])
]


@pytest.mark.parametrize(("caller", "kwargs", "words"), LIBRARY_TABLE)
def test_library_refuses_bad_input_before_sending(
    recorder: Recorder, caller: Any, kwargs: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(InvalidRequest) as info:
        caller(recorder, kwargs)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "given:" in message
    assert recorder.requests == []


@pytest.mark.parametrize("caller", [call_generated, call_batch], ids=["generated", "batch"])
def test_trailing_newline_is_refused(recorder: Recorder, caller: Any) -> None:
    with pytest.raises(InvalidRequest):
        caller(recorder, {"identifiers": ["abc\n"]})
    assert recorder.requests == []


# --- option values: each checked once, by its value's constructor, so refused alike by every caller -------------

# (id, keywords, words the message must contain: the option and what was given)
OPTION_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("zero-timeout", {"timeout_total": 0}, ["timeout_total", "given: 0"]),
    ("nan-timeout", {"timeout_total": float("nan")}, ["timeout_total", "given: nan"]),
    ("endless-timeout", {"timeout_total": float("inf")}, ["timeout_total", "given: inf"]),
    ("text-timeout", {"timeout_total": "5"}, ["timeout_total", "given: '5'"]),
    ("zero-tries", {"max_tries": 0}, ["max_tries", ">= 1", "given: 0"]),
    ("fractional-tries", {"max_tries": 2.5}, ["max_tries", "given: 2.5"]),
    ("zero-in-flight", {"max_in_flight": 0}, ["max_in_flight", "at least 1 or None", "given: 0"]),
    ("bool-in-flight", {"max_in_flight": True}, ["max_in_flight", "given: True"]),
    ("text-confirm", {"confirm": "no"}, ["confirm", "True or False", "given: 'no'"]),
    ("limiter-not-a-limiter", {"limiter": "fast"}, ["limiter", "RateLimiter", "given: str"]),
    ("store-scheme", {"rate_limit_store": "mysql://x"}, ["rate_limit_store", "given: 'mysql://x'"]),
]
SWEEP_ONLY_OPTION_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("zero-passes", {"max_passes": 0}, ["max_passes", ">= 1", "given: 0"]),
    ("text-dry-run", {"dry_run": "yes"}, ["dry_run", "True or False", "given: 'yes'"]),
]


def value_batch(recorder: Recorder, keywords: dict[str, Any]) -> None:
    BatchOptions(**keywords)


def value_sweep(recorder: Recorder, keywords: dict[str, Any]) -> None:
    SweepOptions(**keywords)


def keywords_batch(recorder: Recorder, keywords: dict[str, Any]) -> None:
    with _client(recorder) as client:
        cancel_orders(client, uuids=[U], **keywords)


def keywords_batch_async(recorder: Recorder, keywords: dict[str, Any]) -> None:
    async def go() -> None:
        async with _client(recorder) as client:
            await cancel_orders_async(client, uuids=[U], **keywords)

    asyncio.run(go())


def keywords_sweep(recorder: Recorder, keywords: dict[str, Any]) -> None:
    with _client(recorder) as client:
        cancel_open_orders(client, **keywords)


def keywords_sweep_async(recorder: Recorder, keywords: dict[str, Any]) -> None:
    async def go() -> None:
        async with _client(recorder) as client:
            await cancel_open_orders_async(client, **keywords)

    asyncio.run(go())


BATCH_OPTION_CALLERS = {"BatchOptions": value_batch, "batch": keywords_batch, "batch-async": keywords_batch_async}
SWEEP_OPTION_CALLERS = {"SweepOptions": value_sweep, "sweep": keywords_sweep, "sweep-async": keywords_sweep_async}
OPTION_TABLE = [
    pytest.param(caller, keywords, words, id=f"{name}-{case}")
    for callers, cases in (
        (BATCH_OPTION_CALLERS, OPTION_CASES),
        ({"sweep": keywords_sweep, "sweep-async": keywords_sweep_async}, OPTION_CASES),
        (SWEEP_OPTION_CALLERS, SWEEP_ONLY_OPTION_CASES),
    )
    for name, caller in callers.items()
    for case, keywords, words in cases
]


@pytest.mark.parametrize(("caller", "keywords", "words"), OPTION_TABLE)
def test_a_bad_option_is_refused_by_its_value_and_every_caller_before_sending(
    recorder: Recorder, caller: Any, keywords: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(ConfigurationError) as info:
        caller(recorder, keywords)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"
    assert recorder.requests == []


@pytest.mark.parametrize(
    "call",
    [
        lambda client: cancel_orders(client, uuids=[U], options=BatchOptions(), timeout_total=5),
        lambda client: cancel_open_orders(client, options=BatchOptions(), confirm=False),
        lambda client: cancel_open_orders(client, sweep=SweepOptions(), dry_run=True),
        lambda client: cancel_orders(client, uuids=[U], options={"timeout_total": 5}),
    ],
    ids=["batch-options-and-keyword", "sweep-options-and-keyword", "sweep-value-and-keyword", "options-not-a-value"],
)
def test_an_option_value_given_with_its_own_fields_as_keywords_is_refused_naming_both(
    recorder: Recorder, call: Any
) -> None:
    with _client(recorder) as client, pytest.raises(ConfigurationError) as info:
        call(client)
    assert "not both" in str(info.value) or "must be a BatchOptions" in str(info.value)
    assert recorder.requests == []


def test_an_option_value_is_frozen_and_keywords_make_the_same_value() -> None:
    options = BatchOptions(timeout_total=5, confirm=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.timeout_total = 1  # type: ignore[misc]
    assert dataclasses.replace(options, max_tries=2) == BatchOptions(timeout_total=5, confirm=False, max_tries=2)
    assert SweepOptions(markets=["KRW-BTC"]).markets == ("KRW-BTC",)


# --- the command -----------------------------------------------------------------------------------


def _files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    (tmp_path / "empty.txt").write_text("# only a comment\n\n")
    (tmp_path / "ctrl.txt").write_text("good-id\nbad\x07id\n")
    (tmp_path / "adir").mkdir()
    names = ("latin1.txt", "empty.txt", "ctrl.txt", "adir", "missing.txt")
    return {name.removesuffix(".txt"): str(tmp_path / name) for name in names}


CLI_TABLE: list[tuple[str, list[str], list[str]]] = [
    ("no-ids", [], ["no orders given"]),
    ("empty-uuid", ["--uuid", ""], ["minLength: 1", "''"]),
    ("blank-uuid", ["--uuid", "   "], [PATTERN_RULE, "given: '"]),
    ("blank-identifier", ["--identifier", " \t "], [PATTERN_RULE]),
    ("control-char", ["--identifier", "a\x01b"], [PATTERN_RULE, "\\x01"]),
    ("trailing-newline", ["--identifier", "abc\n"], [PATTERN_RULE, "\\n"]),
    ("both-kinds", ["--uuid", U, "--identifier", "x"], ["not both"]),
    ("unknown-region", ["--region", "mars", "--uuid", U], ["--region", "mars"]),
    ("region-and-url", ["--region", "kr", "--server-url", "https://api.upbit.com", "--uuid", U], ["not allowed"]),
    ("url-scheme", ["--server-url", "ftp://api.upbit.com", "--uuid", U], ["--server-url", "ftp://api.upbit.com"]),
    ("url-not-a-url", ["--server-url", "not a url", "--uuid", U], ["--server-url", "not a url"]),
    ("url-port", ["--server-url", "http://127.0.0.1:99999", "--uuid", U], ["port", "99999"]),
    ("url-path", ["--server-url", "https://api.upbit.com/v1", "--uuid", U], ["path", "/v1"]),
    ("url-query", ["--server-url", "https://api.upbit.com?x=1", "--uuid", U], ["query", "x=1"]),
    ("missing-file", ["--uuids-from", "{missing}"], ["cannot read", "missing.txt"]),
    ("directory", ["--uuids-from", "{adir}"], ["cannot read", "adir"]),
    ("not-utf8", ["--identifiers-from", "{latin1}"], ["not UTF-8", "latin1.txt"]),
    ("no-ids-in-file", ["--uuids-from", "{empty}"], ["no orders given", "empty.txt"]),
    ("control-in-file", ["--identifiers-from", "{ctrl}"], ["line 2", "\\x07"]),
    ("zero-timeout", ["--timeout", "0", "--uuid", U], ["--timeout", "'0'"]),
    ("nan-timeout", ["--timeout", "nan", "--uuid", U], ["--timeout", "'nan'"]),
    ("unknown-flag", ["--order", U], ["unrecognized arguments", "--order"]),
]


@pytest.mark.parametrize(("argv", "words"), [c[1:] for c in CLI_TABLE], ids=[c[0] for c in CLI_TABLE])
def test_command_refuses_bad_input_with_exit_2_one_line_and_nothing_sent(
    cli_env: pytest.MonkeyPatch,
    recorder: Recorder,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    words: list[str],
) -> None:
    files = _files(tmp_path)
    argv = [arg.format_map(files) if arg.startswith("{") else arg for arg in argv]
    status = main(argv, transport=recorder.transport())
    out, err = capsys.readouterr()
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("upbit-cancel: error: "), lines
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    assert out == ""
    assert recorder.requests == []


@pytest.mark.parametrize("missing", ["UPBIT_OPEN_API_ACCESS_KEY", "UPBIT_OPEN_API_SECRET_KEY"])
def test_command_with_a_missing_key_exits_3_naming_the_variable_and_sends_nothing(
    cli_env: pytest.MonkeyPatch, recorder: Recorder, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    cli_env.delenv(missing)
    status = main(["--uuid", U], transport=recorder.transport())
    err = capsys.readouterr().err
    assert status == 3
    assert len(err.splitlines()) == 1
    assert missing in err
    assert recorder.requests == []


# --- property: any identifier is refused before sending or accepted by the verifying sandbox ------


def _sandbox_call(identifier: Any) -> tuple[str, Any]:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, rate_limit_per_second=None)
    if isinstance(identifier, str) and identifier:
        exchange.add_order(identifier=identifier)
    client = Client(
        base_url="https://api.upbit.com",
        httpx_args={"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY), "transport": exchange.transport()},
    )
    with client:
        try:
            response = cancel_orders_by_ids.sync_detailed(client=client, identifiers=[identifier])
        except InvalidRequest:
            assert exchange.requests == []
            return "refused", None
    return "sent", (response, exchange)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=0, max_size=40))
def test_any_identifier_is_refused_or_accepted_by_the_sandbox_signature_check(identifier: str) -> None:
    outcome, sent = _sandbox_call(identifier)
    if outcome == "refused":
        return
    response, exchange = sent
    assert int(response.status_code) == 200, (identifier, response.content)
    assert [record.error_name for record in exchange.requests] == [None]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=30).filter(str.strip))
def test_every_acceptable_identifier_finds_its_order(identifier: str) -> None:
    outcome, sent = _sandbox_call(identifier)
    if outcome == "refused":
        return
    response, _exchange = sent
    assert [order.identifier for order in response.parsed.success.orders] == [identifier]


def test_an_identifier_with_a_plus_is_cancelled() -> None:
    outcome, sent = _sandbox_call("a+b")
    assert outcome == "sent"
    assert [order.identifier for order in sent[0].parsed.success.orders] == ["a+b"]


def test_an_identifier_with_a_space_is_cancelled() -> None:
    outcome, sent = _sandbox_call("a b")
    assert outcome == "sent"
    response, _exchange = sent
    assert int(response.status_code) == 200
    assert [order.identifier for order in response.parsed.success.orders] == ["a b"]


def test_an_identifier_with_a_space_is_at_least_signed_correctly() -> None:
    outcome, sent = _sandbox_call("a b")
    assert outcome == "sent"
    assert int(sent[0].status_code) == 200


def test_no_request_for_bad_input_even_with_a_real_transport_error_waiting(recorder: Recorder) -> None:
    """The check happens before httpx is touched: a transport that would raise is never reached."""

    def explode(request: httpx.Request) -> httpx.Response:
        raise AssertionError("a request was sent")

    recorder.reply = explode
    with pytest.raises(InvalidRequest):
        call_generated(recorder, {"uuids": []})
    assert recorder.requests == []

"""The generated client: spec validity, rules checked before sending, limits that follow openapi.yaml."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from tests.conftest import Recorder
from tests.limits import UUIDS_PER_CANCEL
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.errors import InvalidRequest, InvalidResponse, UpbitClientError
from upbit_client.models import CancelOrdersResult, UpbitError
from upbit_client.registry import DEFAULT_SERVER, SERVERS

ROOT = Path(__file__).resolve().parent.parent
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
N = UUIDS_PER_CANCEL
FULL = [f"uuid-{n}" for n in range(N)]  # the most uuids one call takes


def test_openapi_document_validates() -> None:
    document, _ = read_from_filename(str(ROOT / "openapi.yaml"))
    validate(document)


def test_servers_and_limits_come_from_the_spec() -> None:
    assert SERVERS == {
        "kr": "https://api.upbit.com",
        "sg": "https://sg-api.upbit.com",
        "id": "https://id-api.upbit.com",
        "th": "https://th-api.upbit.com",
    }
    assert DEFAULT_SERVER == "https://api.upbit.com"
    rules = {rule.python_name: rule for rule in cancel_orders_by_ids.QUERY_RULES}
    operation = SPEC["paths"]["/v1/orders/uuids"]["delete"]
    (written,) = [parameter for parameter in operation["parameters"] if parameter["name"] == "uuids[]"]
    limits = (written["schema"]["minItems"], written["schema"]["maxItems"])
    assert (rules["uuids"].wire_name, rules["uuids"].min_items, rules["uuids"].max_items) == ("uuids[]", *limits)
    assert cancel_orders_by_ids.EXACTLY_ONE_OF == (("uuids", "identifiers"),)
    assert cancel_orders_by_ids.RATE_LIMIT is not None
    pace = (operation["x-rate-limit"]["group"], operation["x-rate-limit"]["per_second"])
    assert (cancel_orders_by_ids.RATE_LIMIT.group, cancel_orders_by_ids.RATE_LIMIT.per_second) == pace


def test_max_items_uuids_is_the_largest_call_that_is_sent(client: Client, recorder: Recorder) -> None:
    cancel_orders_by_ids.sync_detailed(client=client, uuids=FULL)
    assert recorder.requests[0].url.query.count(b"uuids%5B%5D=") == N


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("neither kind", {}, r"uuids\[\] and identifiers\[\]: exactly one of these must be given .*given: neither"),
    ("both kinds", {"uuids": ["a"], "identifiers": ["b"]}, r"exactly one .*given: both: uuids\[\], identifiers\[\]"),
    ("no uuids", {"uuids": []}, r"uuids\[\]: needs at least 1 item \(minItems: 1\); given: 0 items"),
    ("no identifiers", {"identifiers": []}, r"identifiers\[\]: needs at least 1 item \(minItems: 1\)"),
    (
        "one uuid too many",
        {"uuids": [*FULL, "x"]},
        rf"uuids\[\]: takes at most {N} items per request \(maxItems: {N}\); given: {N + 1}",
    ),
    (
        "int item",
        {"uuids": ["a", 7]},
        r"every item must be of type string, not int \(type: string\); given: item 1 = 7",
    ),
    ("None item", {"identifiers": [None]}, r"must be of type string, not NoneType"),
    ("bytes item", {"uuids": [b"a"]}, r"must be of type string, not bytes"),
    ("empty string", {"uuids": [""]}, r"at least 1 character long \(minLength: 1\); given: item 0 = ''"),
    ("whitespace only", {"identifiers": ["ok", "  \t"]}, r"not blank and free of control characters .*item 1"),
    ("control char", {"identifiers": ["a\nb"]}, r"not blank and free of control characters .*'a\\nb'"),
    ("DEL char", {"identifiers": ["a\x7fb"]}, r"not blank and free of control characters"),
    ("a bare string", {"uuids": "abc"}, r"uuids\[\]: must be a list, not str \(type: array\); given: 'abc'"),
    ("a set", {"uuids": {"a"}}, r"must be a list, not set"),
]


@pytest.mark.parametrize(("case", "kwargs", "message"), BAD_CALLS, ids=[case for case, _, _ in BAD_CALLS])
def test_bad_input_raises_before_anything_is_sent(
    client: Client, recorder: Recorder, case: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        cancel_orders_by_ids.sync_detailed(client=client, **kwargs)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, UpbitClientError)
    assert caught.value.rule
    assert recorder.requests == []


async def test_bad_input_raises_before_sending_async(recorder: Recorder) -> None:
    async with Client(base_url="https://api.upbit.com", httpx_args={"transport": recorder.transport()}) as client:
        with pytest.raises(InvalidRequest, match=f"maxItems: {N}"):
            await cancel_orders_by_ids.asyncio(client=client, uuids=[*FULL, "x"])
    assert recorder.requests == []


def test_documented_error_statuses_parse_into_the_error_model(client: Client, recorder: Recorder) -> None:
    recorder.reply = lambda request: httpx.Response(
        401,
        json={"error": {"name": "jwt_verification", "message": "bad"}},
        headers={"Remaining-Req": "group=default; min=1800; sec=29"},
    )
    response = cancel_orders_by_ids.sync_detailed(client=client, uuids=["a"])
    assert isinstance(response.parsed, UpbitError)
    assert (response.parsed.error.name, response.parsed.error.message) == ("jwt_verification", "bad")
    assert response.headers["Remaining-Req"] == "group=default; min=1800; sec=29"


def test_identifier_may_be_absent_or_null_and_extra_fields_are_kept(client: Client, recorder: Recorder) -> None:
    body = {
        "success": {"count": 1, "orders": [{"uuid": "u1", "market": "KRW-BTC", "identifier": None, "extra": 1}]},
        "failed": {"count": 1, "orders": [{"uuid": "u2", "market": "KRW-ETH"}]},
        "new_top_level": True,
    }
    recorder.reply = lambda request: httpx.Response(200, json=body)
    result = cancel_orders_by_ids.sync(client=client, uuids=["u1", "u2"])
    assert isinstance(result, CancelOrdersResult)
    assert result.success.orders[0].identifier is None
    assert result.success.orders[0].additional_properties == {"extra": 1}
    assert result.failed.orders[0].market == "KRW-ETH"
    assert result.additional_properties == {"new_top_level": True}


@pytest.mark.parametrize(
    "content",
    [
        b"<html>502 Bad Gateway</html>",
        b'{"success": {"count": 1, "orders": [',
        b"[]",
        b'"cancelled"',
    ],
    ids=["html", "truncated", "array", "string"],
)
def test_unreadable_documented_answer_is_a_typed_error(client: Client, recorder: Recorder, content: bytes) -> None:
    recorder.reply = lambda request: httpx.Response(200, content=content)
    with pytest.raises(InvalidResponse, match=r"HTTP 200 response does not match the API description") as caught:
        cancel_orders_by_ids.sync_detailed(client=client, uuids=["a"])
    assert caught.value.status_code == 200


def test_changing_max_items_in_the_spec_changes_the_limit(tmp_path: Path) -> None:
    """Regenerate from a copy of the spec with maxItems 7: the new client refuses 8 with no hand edit."""
    spec = re.sub(r"maxItems: \d+", "maxItems: 7", (ROOT / "openapi.yaml").read_text())
    (tmp_path / "openapi.yaml").write_text(spec)
    output = tmp_path / "pkg" / "upbit_client"
    bin_dir = str(Path(sys.executable).parent)
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "generate.py"),
            "--spec",
            str(tmp_path / "openapi.yaml"),
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    source = (output / "registry.py").read_text()
    assert re.search(r"max_items=7,", source)
    # Import the regenerated package under its own name, beside the installed one.
    shutil.move(str(output), str(tmp_path / "pkg" / "upbit_client_seven"))
    sys.path.insert(0, str(tmp_path / "pkg"))
    try:
        module = importlib.import_module("upbit_client_seven.api.order.cancel_orders_by_ids")
        errors = importlib.import_module("upbit_client_seven.errors")
        with pytest.raises(errors.InvalidRequest, match=r"maxItems: 7\); given: 8 items"):
            module._get_kwargs(uuids=[str(n) for n in range(8)])
        assert module._get_kwargs(uuids=[str(n) for n in range(7)])["params"]["uuids[]"] == [str(n) for n in range(7)]
    finally:
        sys.path.remove(str(tmp_path / "pkg"))


def test_the_error_tree_takes_the_error_names_from_the_registry() -> None:
    """Each name under ``x-error-names`` gets its status's class, whatever status it comes with."""
    from upbit_cancel.errors import AuthenticationError, PermissionDenied, RateLimited, error_from_response
    from upbit_client.registry import OPERATIONS

    names = OPERATIONS["cancel_orders_by_ids"].error_names
    assert names[429] and names[401] and names[403]
    for name in names[429]:
        assert type(error_from_response(400, name, "m")) is RateLimited
    for name in set(names[401]) - set(names[403]):
        assert type(error_from_response(400, name, "m")) is AuthenticationError
    for name in names[403]:
        assert type(error_from_response(401, name, "m")) is PermissionDenied
    assert type(error_from_response(400, "validation_error", "m")).__name__ == "UpbitAPIError"


def test_the_docstrings_state_each_parameters_rules_from_the_spec() -> None:
    """Regenerated with the spec, so the docs say what the code enforces: "1 to 20 items" follows maxItems."""
    rule = cancel_orders_by_ids.OPERATION.parameter("uuids")
    for function in (cancel_orders_by_ids.sync, cancel_orders_by_ids.asyncio_detailed):
        text = " ".join((function.__doc__ or "").split())
        assert (
            f"uuids (list[str] | Unset): UUIDs of the orders to cancel. Optional. {rule.min_items} to {N} items" in text
        )
        assert "Exactly one of uuids, identifiers must be given." in text
        assert (
            f"Rate limit: {SPEC['paths']['/v1/orders/uuids']['delete']['x-rate-limit']['per_second']} requests" in text
        )


def test_the_package_names_the_spec_it_was_generated_from() -> None:
    import hashlib

    import upbit_client

    assert str(SPEC["info"]["version"]) == upbit_client.SPEC_VERSION
    assert SPEC["info"]["title"] == upbit_client.SPEC_TITLE
    assert hashlib.sha256((ROOT / "openapi.yaml").read_bytes()).hexdigest() == upbit_client.SPEC_SHA256

"""Every rule of a parameter is enforced before sending, or generation refuses the spec.

``tests/specs/every_keyword.yaml`` uses every keyword the SDK enforces; it is generated once into a
temporary folder and each rule is called with a good and a bad value. A bad value raises
``InvalidRequest`` naming the parameter and the rule, and nothing is sent.
"""

from __future__ import annotations

import datetime
import importlib
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.conftest import Recorder
from tests.generation_support import SPECS, generate_package, import_generated

PACKAGE = "every_keyword_client"
U1 = "6c1eac69-b9bc-4fbf-9982-e9c4641c453f"
U2 = "e7f41e24-7199-4cf4-9b02-72971cb69a4d"
U3 = "1fc8d0bb-95c2-4116-96d8-6e2aa82200ba"
U4 = "0a4f0d0e-0000-4000-8000-000000000004"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("every_keyword")
    generate_package(SPECS / "every_keyword.yaml", folder, PACKAGE)
    yield import_generated(folder, f"{PACKAGE}.api.default.list_things")


@pytest.fixture
def call(generated: ModuleType, recorder: Recorder) -> Iterator[Any]:
    client_module = importlib.import_module(f"{PACKAGE}.client")
    with client_module.Client(
        base_url="https://api.example.test", httpx_args={"transport": recorder.transport()}
    ) as client:

        def send(**overrides: Any) -> httpx.Request:
            arguments: dict[str, Any] = {"market": "KRW-BTC", "page": 1, "uuid": uuid.UUID(U1)}
            arguments.update(overrides)
            arguments = {name: value for name, value in arguments.items() if value is not DROP}
            unset = importlib.import_module(f"{PACKAGE}.types").UNSET
            arguments = {name: unset if value is NOT_GIVEN else value for name, value in arguments.items()}
            generated.sync_detailed(client=client, **arguments)
            return recorder.requests[-1]

        yield send


DROP = object()
"""Leave this argument out of the call."""
NOT_GIVEN = object()
"""Pass the generated package's ``UNSET`` (what a required argument is when a caller bypasses the signature)."""

# (rule, arguments that break it, what the message must say)
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("type", {"page": "1"}, r"page: must be of type integer, not str \(type: integer\); given: '1'"),
    ("format int32", {"page": 2**31}, r"page: must fit in int32 .*\(format: int32\)"),
    ("format int64", {"limit": 2**63}, r"limit: must fit in int64"),
    ("minimum", {"page": 0}, r"page: must be at least 1 \(minimum: 1\); given: 0"),
    ("maximum", {"limit": 101}, r"limit: must be at most 100 \(maximum: 100\); given: 101"),
    ("exclusiveMinimum", {"ratio": 0}, r"ratio: must be more than 0 \(exclusiveMinimum: 0\)"),
    ("exclusiveMaximum", {"ratio": 1.0}, r"ratio: must be less than 1 \(exclusiveMaximum: 1\)"),
    ("enum", {"order_by": "x"}, r"order_by: must be one of \['asc', 'desc'\] \(enum\); given: 'x'"),
    ("format uuid", {"uuid": "not-a-uuid"}, r"uuid: must be a uuid .*\(format: uuid\); given: 'not-a-uuid'"),
    ("format uuid, not a string", {"uuid": 7}, r"uuid: must be a UUID or a uuid string, not int"),
    ("minLength", {"uuid": DROP, "name": "a"}, r"name: must be at least 2 characters long \(minLength: 2\)"),
    ("maxLength", {"uuid": DROP, "name": "abcdef"}, r"name: must be at most 5 characters long \(maxLength: 5\)"),
    ("pattern (path)", {"market": "krw-btc"}, r"market: must be like KRW-BTC \(pattern: .*\); given: 'krw-btc'"),
    ("format date-time", {"since": "2024-01-01"}, r"since: must be a datetime.datetime, not str"),
    ("format date", {"day": datetime.datetime(2024, 1, 1)}, r"day: must be a datetime.date, not datetime"),
    ("nullable: false", {"uuid": DROP, "name": None}, r"name: must not be None \(nullable: false\)"),
    ("required", {"page": NOT_GIVEN}, r"page: is required \(required: true\); given: nothing"),
    ("boolean", {"flag": "true"}, r"flag: must be of type boolean, not str"),
    ("array type", {"uuids": U1}, r"uuids\[\]: must be a list, not str \(type: array\)"),
    ("minItems", {"uuids": []}, r"uuids\[\]: needs at least 1 item \(minItems: 1\); given: 0 items"),
    ("maxItems", {"uuids": [U1, U2, U3, U4]}, r"uuids\[\]: takes at most 3 items per request \(maxItems: 3\)"),
    ("uniqueItems", {"uuids": [U1, uuid.UUID(U1)]}, r"uuids\[\]: must not repeat an item \(uniqueItems: true\)"),
    ("items format uuid", {"uuids": [U1, "nope"]}, r"uuids\[\]: every item must be a uuid .*given: item 1 = 'nope'"),
    ("key beside a $ref", {"tags": ["abcde"]}, r"tags\[\]: every item must be at most 4 characters long"),
    ("key behind a $ref", {"tags": ["ab", "A"]}, r"tags\[\]: every item must match the pattern \(pattern: \^\[a-z\]"),
    ("$ref parameter enum", {"state": "gone"}, r"state: must be one of \['wait', 'watch', 'done'\]"),
    ("header pattern", {"x_trace": "zz"}, r"X-Trace: must match the pattern \(pattern: \^\[a-f0-9\]\{8\}\$\)"),
    ("x-exactly-one-of (both)", {"name": "ab"}, r"uuid and name: exactly one of these must be given .*given: both"),
    ("x-exactly-one-of (neither)", {"uuid": DROP}, r"uuid and name: exactly one .*given: neither"),
    (
        "x-at-most-one-of",
        {"since": datetime.datetime(2024, 1, 2), "day": datetime.date(2024, 1, 2)},
        r"since and day: at most one of these may be given \(x-at-most-one-of\); given: both: since, day",
    ),
]


@pytest.mark.parametrize(("rule", "arguments", "message"), BAD, ids=[rule for rule, _, _ in BAD])
def test_a_value_that_breaks_a_rule_is_refused_and_nothing_is_sent(
    call: Any, recorder: Recorder, generated: ModuleType, rule: str, arguments: dict[str, Any], message: str
) -> None:
    errors = importlib.import_module(f"{PACKAGE}.errors")
    with pytest.raises(errors.InvalidRequest, match=message):
        call(**arguments)
    assert recorder.requests == []


# (rule, arguments that keep it, the query pairs that must be sent for them)
GOOD: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("type and bounds", {"page": 7, "limit": 1}, [("page", "7"), ("limit", "1")]),
    ("int32 edge", {"page": 2**31 - 1}, [("page", str(2**31 - 1))]),
    ("exclusive bounds", {"ratio": 0.5}, [("ratio", "0.5")]),
    ("enum", {"order_by": "asc"}, [("order_by", "asc")]),
    ("defaults", {}, [("limit", "100"), ("order_by", "desc")]),
    ("format uuid as a UUID", {"uuid": uuid.UUID(U2)}, [("uuid", U2)]),
    ("format uuid as a string", {"uuid": U2}, [("uuid", U2)]),
    ("lengths", {"uuid": DROP, "name": "abcde"}, [("name", "abcde")]),
    ("date-time", {"since": datetime.datetime(2024, 1, 2, 3, 4, 5)}, [("since", "2024-01-02T03:04:05")]),
    ("date", {"day": datetime.date(2024, 1, 2)}, [("day", "2024-01-02")]),
    ("nullable: true", {"note": None}, []),
    ("boolean", {"flag": False}, [("flag", "false")]),
    ("array of uuids", {"uuids": [uuid.UUID(U1), U2, U3]}, [("uuids[]", U1), ("uuids[]", U2), ("uuids[]", U3)]),
    ("$ref items", {"tags": ["abcd", "x"]}, [("tags[]", "abcd"), ("tags[]", "x")]),
    ("$ref parameter", {"state": "watch"}, [("state", "watch")]),
]


@pytest.mark.parametrize(("rule", "arguments", "sent"), GOOD, ids=[rule for rule, _, _ in GOOD])
def test_a_value_that_keeps_the_rules_is_sent_as_the_spec_says(
    call: Any, rule: str, arguments: dict[str, Any], sent: list[tuple[str, str]]
) -> None:
    request = call(**arguments)
    pairs = parse_qsl(request.url.query.decode(), keep_blank_values=True)
    for pair in sent:
        assert pair in pairs
    if rule == "nullable: true":
        assert "note" not in dict(pairs)
    assert request.url.path == "/v1/things/KRW-BTC"


def test_a_header_parameter_that_keeps_its_rule_is_sent(call: Any) -> None:
    assert call(x_trace="0123abcd").headers["X-Trace"] == "0123abcd"


def test_the_signature_and_the_rule_agree_on_uuid(generated: ModuleType) -> None:
    """An inline ``format: uuid`` gives a ``UUID`` signature and a rule that accepts a ``UUID``."""
    annotations = generated._get_kwargs.__annotations__
    assert "UUID" in str(annotations["uuids"]) and "UUID" in str(annotations["uuid"])
    assert generated.OPERATION.parameter("uuids").item.format == "uuid"


def test_the_registry_row_carries_the_rate_limit_group_and_error_names(generated: ModuleType) -> None:
    operation = generated.OPERATION
    assert (operation.method, operation.path) == ("GET", "/v1/things/{market}")
    assert (operation.rate_limit.group, operation.rate_limit.per_second) == ("things", 8)
    assert operation.error_names == {400: ("validation_error",)}
    assert operation.success_example == {"count": 1}
    assert {rule.location for rule in operation.parameters} == {"path", "query", "header"}

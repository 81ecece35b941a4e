"""The runtime modules as source (``runtime/upbit_client_runtime``), before they are copied into the client."""

from __future__ import annotations

import datetime

import pytest

from upbit_client_runtime.rules import Operation, ParameterRule, ValueRule, check_request, check_wire
from upbit_client_runtime.sdk_errors import InvalidRequest

OPERATION = Operation(
    operation_id="op",
    method="GET",
    path="/v1/x/{id}",
    module="m",
    parameters=(
        ParameterRule("id", "id", location="path", required=True, value=ValueRule(type="string", pattern="^[a-z]+$")),
        ParameterRule("count", "count", value=ValueRule(type="integer", minimum=1)),
        ParameterRule("flag", "flag", value=ValueRule(type="boolean")),
        ParameterRule("since", "since", value=ValueRule(type="string", format="date-time")),
        ParameterRule("trace", "X-Trace", location="header", value=ValueRule(type="string", max_length=4)),
        ParameterRule(
            "ids", "ids[]", is_array=True, max_items=2, item=ValueRule(type="integer", maximum=9), unique_items=True
        ),
    ),
)


def test_wire_values_are_read_as_the_client_would_have_passed_them() -> None:
    check_wire(
        OPERATION,
        [("count", "3"), ("flag", "true"), ("since", "2024-01-02T03:04:05+00:00"), ("ids[]", "1"), ("ids[]", "2")],
        {"id": "abc"},
        {"x-trace": "abcd"},
    )


@pytest.mark.parametrize(
    ("rule", "value"),
    [(ValueRule(type="integer"), 100), (ValueRule(type="boolean"), False), (ValueRule(type="string"), "desc")],
)
def test_a_value_goes_to_the_wire_and_back_unchanged(rule: ValueRule, value: object) -> None:
    assert isinstance(value, (str, int, bool))
    text = rule.to_wire(value)
    assert text == {100: "100", False: "false", "desc": "desc"}[value]
    assert rule.from_wire(text) == value and type(rule.from_wire(text)) is type(value)


@pytest.mark.parametrize(
    ("query", "path", "headers", "message"),
    [
        ([("count", "three")], {"id": "abc"}, {}, r"count: must be an integer \(type: integer\)"),
        ([("count", "0")], {"id": "abc"}, {}, r"count: must be at least 1"),
        ([("flag", "yes")], {"id": "abc"}, {}, r"flag: must be true or false"),
        ([("count", "1"), ("count", "2")], {"id": "abc"}, {}, r"count: is not a list .*given: 2 values"),
        ([("ids[]", "1"), ("ids[]", "1")], {"id": "abc"}, {}, r"ids\[\]: must not repeat an item"),
        ([("ids[]", "10")], {"id": "abc"}, {}, r"ids\[\]: every item must be at most 9"),
        ([], {"id": "ABC"}, {}, r"id: must match the pattern"),
        ([], {}, {}, r"id: is required"),
        ([], {"id": "abc"}, {"x-trace": "abcde"}, r"X-Trace: must be at most 4 characters long"),
    ],
)
def test_a_wire_request_that_breaks_a_rule_is_named(
    query: list[tuple[str, str]], path: dict[str, str], headers: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_wire(OPERATION, query, path, headers)


def test_the_unset_marker_counts_as_not_given() -> None:
    unset = object()
    check_request(OPERATION, {"id": "abc", "count": unset}, unset=unset)
    with pytest.raises(InvalidRequest, match=r"id: is required"):
        check_request(OPERATION, {"id": unset}, unset=unset)


def test_a_date_time_rule_takes_a_datetime_and_refuses_text() -> None:
    check_request(OPERATION, {"id": "abc", "since": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)})
    with pytest.raises(InvalidRequest, match=r"since: must be a datetime.datetime, not str \(format: date-time\)"):
        check_request(OPERATION, {"id": "abc", "since": "2024-01-01"})


def test_operation_parameter_names_a_missing_parameter() -> None:
    assert OPERATION.parameter("count").value.minimum == 1
    with pytest.raises(KeyError, match="op has no parameter 'nope'"):
        OPERATION.parameter("nope")


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (
            ParameterRule("uuids", "uuids[]", is_array=True, min_items=1, max_items=20, unique_items=True,
                          item=ValueRule(type="string", min_length=1, pattern="x", pattern_description="not blank")),
            "Optional. 1 to 20 items, no repeats, each a string of at least 1 character, not blank.",
        ),
        (ParameterRule("order_by", "order_by", value=ValueRule(type="string", enum=("asc", "desc"))),
         "Optional. One of 'asc', 'desc'."),
        (ParameterRule("n", "n", required=True, value=ValueRule(type="integer", format="int32", minimum=1, maximum=5)),
         "Required. An integer (int32), from 1 to 5."),
        (ParameterRule("s", "s", value=ValueRule(type="string", min_length=3, max_length=3, nullable=True)),
         "Optional. A string of exactly 3 characters, or None."),
        (ParameterRule("ids", "ids[]", is_array=True, max_items=7), "Optional. At most 7 items."),
    ],
)  # fmt: skip
def test_a_rule_describes_itself_in_words_with_the_specs_numbers(rule: ParameterRule, words: str) -> None:
    assert rule.describe() == words

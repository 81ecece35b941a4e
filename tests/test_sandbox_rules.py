"""The sandbox takes every parameter's rules from the registry it serves, each parameter on its own.

A spec change that gives ``uuids[]`` and ``identifiers[]`` different ``maxItems`` must move the
sandbox with it: it accepts exactly the spec's count of each and refuses one more, never the
smaller limit of the two for both (issue 17: after ``uuids`` 20 -> 10 it refused 20 identifiers).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import pytest
from attrs import evolve

from tests.sandbox_support import signed_call, wire_query
from upbit_client.registry import OPERATIONS
from upbit_client.rules import Operation, ParameterRule, ValueRule
from upbit_sandbox import ENDPOINT_PATH, LOOKUP_PATH, SandboxExchange, demo_uuid

LIMITS = {"uuids": 7, "identifiers": 13}
"""Two different limits, neither the spec's own, so only a sandbox reading this registry passes."""


def with_limits(operations: Mapping[str, Operation], name: str, limits: Mapping[str, int]) -> dict[str, Operation]:
    """A copy of ``operations`` where operation ``name``'s array parameters take ``limits`` items at most."""
    operation = operations[name]
    parameters = tuple(
        evolve(rule, max_items=limits[rule.python_name]) if rule.python_name in limits else rule
        for rule in operation.parameters
    )
    return {**operations, name: evolve(operation, parameters=parameters)}


def ids(kind: str, count: int) -> list[str]:
    return [f"{kind}-{n:03d}" for n in range(count)]


@pytest.mark.parametrize(("name", "method", "path"), [
    ("cancel_orders_by_ids", "DELETE", ENDPOINT_PATH),
    ("list_orders_by_ids", "GET", LOOKUP_PATH),
])  # fmt: skip
@pytest.mark.parametrize("kind", sorted(LIMITS))
def test_the_sandbox_accepts_each_parameters_own_max_items_and_refuses_one_more(
    name: str, method: str, path: str, kind: str
) -> None:
    exchange = SandboxExchange(operations=with_limits(OPERATIONS, name, LIMITS), rate_limit_per_second=None)
    at_limit = signed_call(exchange, wire_query(kind, ids(kind, LIMITS[kind])), method=method, path=path)
    assert at_limit.status == 200, at_limit.body
    over = signed_call(exchange, wire_query(kind, ids(kind, LIMITS[kind] + 1)), method=method, path=path)
    assert (over.status, over.error_name) == (400, "validation_error")
    assert f"maxItems: {LIMITS[kind]}" in over.body["error"]["message"]


@pytest.mark.parametrize("kind", ["uuids", "identifiers"])
def test_the_default_sandbox_accepts_the_specs_count_of_each_kind_and_refuses_one_more(kind: str) -> None:
    limit = OPERATIONS["cancel_orders_by_ids"].parameter(kind).max_items
    assert limit is not None
    exchange = SandboxExchange(rate_limit_per_second=None)
    assert signed_call(exchange, wire_query(kind, ids(kind, limit))).status == 200
    assert signed_call(exchange, wire_query(kind, ids(kind, limit + 1))).status == 400


def test_the_lookups_order_by_values_are_the_served_registrys_enum() -> None:
    lookup = OPERATIONS["list_orders_by_ids"]
    only_asc = tuple(
        evolve(rule, value=evolve(rule.value, enum=("asc",))) if rule.python_name == "order_by" else rule
        for rule in lookup.parameters
    )
    exchange = SandboxExchange(operations={**OPERATIONS, "list_orders_by_ids": evolve(lookup, parameters=only_asc)})
    query = wire_query("uuids", ["u-1"])
    assert signed_call(exchange, query + "&order_by=asc", method="GET", path=LOOKUP_PATH).status == 200
    refused = signed_call(exchange, query + "&order_by=desc", method="GET", path=LOOKUP_PATH)
    assert (refused.status, refused.error_name) == (400, "validation_error")


# --- every parameter the spec declares, and no other (issue 24, item 5) ------------------------------------

NOTE = ParameterRule(
    python_name="note", wire_name="note", location="query", value=ValueRule(type="string", enum=("urgent", "routine"))
)
"""A new optional parameter, as a spec change would add it: built in memory, never written into openapi.yaml."""
PRIORITY = ParameterRule(
    python_name="priority", wire_name="priority", value=ValueRule(type="integer", minimum=1, maximum=5)
)
TAGS = ParameterRule(
    python_name="tags",
    wire_name="tags[]",
    value=ValueRule(type="array"),
    is_array=True,
    max_items=2,
    item=ValueRule(type="string", min_length=1),
)


def with_parameters(name: str, *rules: ParameterRule) -> dict[str, Operation]:
    """The registry with operation ``name`` declaring ``rules`` besides its own parameters."""
    operation = OPERATIONS[name]
    return {**OPERATIONS, name: evolve(operation, parameters=(*operation.parameters, *rules))}


def cancel_with(exchange: SandboxExchange, extra: str) -> tuple[int, str | None, str]:
    answer = signed_call(exchange, wire_query("identifiers", ["demo-0001"]) + "&" + extra)
    message = answer.body["error"]["message"] if answer.error_name else ""
    return answer.status, answer.error_name, message


def demo_exchange(operations: Mapping[str, Operation] = OPERATIONS) -> SandboxExchange:
    exchange = SandboxExchange(operations=operations, rate_limit_per_second=None)
    exchange.seed_demo_orders(open_orders=2)
    return exchange


def test_a_new_optional_parameter_of_the_spec_is_accepted_and_the_cancel_carried_out() -> None:
    exchange = demo_exchange(with_parameters("cancel_orders_by_ids", NOTE, PRIORITY, TAGS))
    assert cancel_with(exchange, "note=urgent&priority=5&tags%5B%5D=a&tags%5B%5D=b") == (200, None, "")
    assert exchange.order(demo_uuid("demo-0001")).state == "cancel"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("note=soon", "note"),  # not in its enum
        ("priority=9", "maximum: 5"),
        ("priority=high", "priority"),  # not an integer
        ("tags%5B%5D=a&tags%5B%5D=b&tags%5B%5D=c", "maxItems: 2"),
        ("note=urgent&note=routine", "note"),  # not an array: one value only
    ],
)
def test_a_new_parameter_keeps_the_rules_the_spec_gives_it(extra: str, named: str) -> None:
    exchange = demo_exchange(with_parameters("cancel_orders_by_ids", NOTE, PRIORITY, TAGS))
    status, error, message = cancel_with(exchange, extra)
    assert (status, error) == (400, "validation_error") and named in message, message
    assert exchange.order(demo_uuid("demo-0001")).state == "wait"


def test_a_parameter_the_spec_does_not_declare_is_refused_naming_it_and_what_is_declared() -> None:
    exchange = demo_exchange()
    status, error, message = cancel_with(exchange, "note=urgent")
    assert (status, error) == (400, "validation_error")
    assert "Unknown parameter 'note'" in message
    assert all(rule.wire_name in message for rule in OPERATIONS["cancel_orders_by_ids"].parameters)
    assert exchange.order(demo_uuid("demo-0001")).state == "wait"


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_refuses_an_undeclared_parameter_by_name(name: str) -> None:
    operation = OPERATIONS[name]
    exchange = demo_exchange()
    answer = signed_call(exchange, "surprise=1", method=operation.method, path=operation.path)
    assert (answer.status, answer.error_name) == (400, "validation_error")
    assert "'surprise'" in answer.body["error"]["message"]


def a_valid_query(operation: Operation, rule: ParameterRule) -> str | None:
    """A query giving ``rule`` a value its schema allows (its default, else its enum's first), plus one of each
    exactly-one-of group; None for a parameter whose allowed values only a pattern describes."""
    value = rule.value.default if rule.value.default is not None else (rule.value.enum or (None,))[0]
    if value is None or rule.is_array or not isinstance(value, (str, int, float, bool)):
        return None
    pairs = [f"{quote(rule.wire_name, safe='')}={quote(rule.value.to_wire(value), safe='')}"]
    for group in operation.exactly_one_of:
        if rule.python_name not in group:
            pairs.append(f"{quote(operation.parameter(group[0]).wire_name, safe='')}=demo-0001")
    return "&".join(pairs)


SENDABLE = [
    (name, rule.python_name, query)
    for name, operation in sorted(OPERATIONS.items())
    for rule in operation.parameters
    if (query := a_valid_query(operation, rule)) is not None
]
"""Each parameter with a default or an enum; the id arrays (``maxItems`` above) and the pattern-only ones
(``tests/test_sandbox_open_orders.py``) have tests of their own."""


@pytest.mark.parametrize(("name", "parameter", "query"), SENDABLE, ids=[f"{n}.{p}" for n, p, _ in SENDABLE])
def test_every_parameter_the_spec_declares_is_accepted_with_a_value_it_allows(
    name: str, parameter: str, query: str
) -> None:
    operation = OPERATIONS[name]
    answer = signed_call(demo_exchange(), query, method=operation.method, path=operation.path)
    assert answer.status == operation.success_status, (parameter, answer.body)

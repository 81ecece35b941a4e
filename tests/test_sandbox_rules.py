"""The sandbox takes every parameter's rules from the registry it serves, each parameter on its own.

A spec change that gives ``uuids[]`` and ``identifiers[]`` different ``maxItems`` must move the
sandbox with it: it accepts exactly the spec's count of each and refuses one more, never the
smaller limit of the two for both (issue 17: after ``uuids`` 20 -> 10 it refused 20 identifiers).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from attrs import evolve

from tests.sandbox_support import signed_call, wire_query
from upbit_client.registry import OPERATIONS
from upbit_client.rules import Operation
from upbit_sandbox import ENDPOINT_PATH, LOOKUP_PATH, SandboxExchange

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

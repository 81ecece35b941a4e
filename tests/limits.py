"""The spec's limits as the tests use them, read from the generated registry (never written out).

A test that needs "a full chunk" or "one more id than a call takes" asks here, so a change of
``openapi.yaml`` fails only the tests about behaviour that really changed.
"""

from __future__ import annotations

import math

from upbit_client.registry import OPERATIONS

CANCEL = OPERATIONS["cancel_orders_by_ids"]
LOOKUP = OPERATIONS["list_orders_by_ids"]


def _max_items(operation_name: str, parameter: str) -> int:
    found = OPERATIONS[operation_name].parameter(parameter).max_items
    assert found is not None, f"{operation_name}.{parameter} has no maxItems in openapi.yaml"
    return found


UUIDS_PER_CANCEL = _max_items("cancel_orders_by_ids", "uuids")
"""``uuids[]`` ``maxItems`` of Order List Cancel: the batch's chunk size by uuids."""
IDENTIFIERS_PER_CANCEL = _max_items("cancel_orders_by_ids", "identifiers")
"""``identifiers[]`` ``maxItems`` of Order List Cancel."""
UUIDS_PER_LOOKUP = _max_items("list_orders_by_ids", "uuids")
"""``uuids[]`` ``maxItems`` of List Orders by IDs: ids per confirming lookup."""
CANCEL_PER_SECOND = CANCEL.rate_limit.per_second if CANCEL.rate_limit is not None else 0
"""Order List Cancel's rate limit: requests per window."""


def chunks(count: int, per_chunk: int = UUIDS_PER_CANCEL) -> int:
    """How many requests ``count`` ids take."""
    return math.ceil(count / per_chunk)

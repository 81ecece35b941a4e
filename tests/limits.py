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


def _maximum(operation_name: str, parameter: str) -> int:
    found = OPERATIONS[operation_name].parameter(parameter).value.maximum
    assert found is not None, f"{operation_name}.{parameter} has no maximum in openapi.yaml"
    return int(found)


OPEN_ORDERS_PER_PAGE = _maximum("list_open_orders", "limit")
"""``limit`` ``maximum`` of List Open Orders: the sweep lists this many orders a page."""


def pages(count: int, per_page: int = OPEN_ORDERS_PER_PAGE) -> int:
    """How many listings ``count`` open orders take: a short page ends the listing, a full one needs one more."""
    return count // per_page + 1

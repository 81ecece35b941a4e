"""The generated calls' docstrings say what they raise: ``InvalidRequest`` is raised before sending.

Every generated call checks its arguments against openapi.yaml's rules (``check_request``) and raises
``upbit_client.errors.InvalidRequest`` for a broken one; its "Raises" section names it
(templates/openapi-python-client-0.29.1/endpoint_macros.py.jinja).
"""

from __future__ import annotations

import importlib
import inspect

import pytest

from upbit_client.errors import InvalidRequest
from upbit_client.registry import OPERATIONS

CALLS = ("sync", "sync_detailed", "asyncio", "asyncio_detailed")


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_generated_call_names_invalid_request_in_its_raises_section(operation: str) -> None:
    module = importlib.import_module(OPERATIONS[operation].module)
    for name in CALLS:
        doc = inspect.getdoc(getattr(module, name)) or ""
        raises = doc.split("Raises:")[1].split("Returns:")[0]
        assert "errors.InvalidRequest: If an argument breaks a rule of openapi.yaml" in raises, (operation, name)


def test_a_broken_rule_raises_the_invalid_request_the_docstring_names() -> None:
    from upbit_client import Client
    from upbit_client.api.order import cancel_orders_by_ids

    with pytest.raises(InvalidRequest), Client(base_url="https://api.upbit.com") as client:
        cancel_orders_by_ids.sync_detailed(client=client, uuids=[])

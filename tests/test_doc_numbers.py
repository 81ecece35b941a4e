"""The numbers the README and docs/ take from the spec are the spec's (tools/doc_numbers.py).

Each such number is marked ``20<!-- spec: cancel_orders_by_ids.uuids.maxItems -->``; ``make api``
rewrites them from the generated registry, and these tests fail while one differs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attrs import evolve

import doc_numbers
from upbit_client.registry import OPERATIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("document", doc_numbers.documents(ROOT), ids=lambda path: path.name)
def test_every_marked_number_in_the_docs_is_the_specs(document: Path) -> None:
    stale = doc_numbers.stale(document.read_text(encoding="utf-8"), OPERATIONS)
    assert stale == [], f"{document.name}: {stale} (key, as written, in the spec): run `make api`"


def test_the_readme_marks_the_limits_of_one_call_and_the_pace() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    keys = {match.group(2) for match in doc_numbers.MARK.finditer(readme)}
    assert {
        "cancel_orders_by_ids.uuids.maxItems",
        "cancel_orders_by_ids.identifiers.maxItems",
        "cancel_orders_by_ids.per_second",
        "list_orders_by_ids.uuids.maxItems",
    } <= keys


def test_a_spec_change_is_found_stale_and_refreshed_with_the_sentence_kept() -> None:
    cancel = OPERATIONS["cancel_orders_by_ids"]
    tighter = {
        **OPERATIONS,
        "cancel_orders_by_ids": evolve(
            cancel,
            parameters=tuple(
                evolve(rule, max_items=10) if rule.python_name == "uuids" else rule for rule in cancel.parameters
            ),
        ),
    }
    text = (
        "One call takes 1 to 20<!-- spec: cancel_orders_by_ids.uuids.maxItems --> uuids; "
        "1,000 orders take 50<!-- spec: cancel_orders_by_ids.requests_for_1000 --> requests."
    )
    assert [key for key, _, _ in doc_numbers.stale(text, tighter)] == [
        "cancel_orders_by_ids.uuids.maxItems",
        "cancel_orders_by_ids.requests_for_1000",
    ]
    refreshed = doc_numbers.refresh(text, tighter)
    assert refreshed == (
        "One call takes 1 to 10<!-- spec: cancel_orders_by_ids.uuids.maxItems --> uuids; "
        "1,000 orders take 100<!-- spec: cancel_orders_by_ids.requests_for_1000 --> requests."
    )
    assert doc_numbers.stale(refreshed, tighter) == []


@pytest.mark.parametrize(
    "key",
    ["nothing_here.uuids.maxItems", "cancel_orders_by_ids.nobody.maxItems", "cancel_orders_by_ids.uuids.colour"],
)
def test_a_marker_naming_nothing_in_the_registry_is_an_error_naming_it(key: str) -> None:
    with pytest.raises(KeyError, match=key.split(".")[0]):
        doc_numbers.stale(f"5<!-- spec: {key} -->", OPERATIONS)

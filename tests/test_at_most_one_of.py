"""``x-at-most-one-of``: parameters that may not be given together, but may both be left out.

Upbit's Batch Cancel takes ``pairs`` or ``quote_currencies`` (or neither: every market), and List
Open Orders ``state`` or ``states[]`` (or neither: ``wait``). The spec says so with
``x-at-most-one-of``; the generator reads it into the registry and the rules refuse both before
sending; a group that names no parameter of the operation stops generation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.generation_support import ROOT, run_generate
from upbit_client.errors import InvalidRequest
from upbit_client.registry import OPERATIONS
from upbit_client.rules import ParameterRule, check_query

RULES = (ParameterRule("pairs", "pairs"), ParameterRule("quote_currencies", "quote_currencies"))
GROUP = (("pairs", "quote_currencies"),)


def test_the_registry_reads_the_groups_from_the_spec() -> None:
    assert OPERATIONS["cancel_open_orders"].at_most_one_of == GROUP
    assert OPERATIONS["list_open_orders"].at_most_one_of == (("state", "states"),)
    assert OPERATIONS["cancel_orders_by_ids"].at_most_one_of == ()


@pytest.mark.parametrize("values", [{}, {"pairs": "KRW-BTC"}, {"quote_currencies": "KRW"}])
def test_neither_or_one_of_the_group_is_fine(values: dict[str, object]) -> None:
    check_query(RULES, (), values, GROUP)


def test_both_of_the_group_are_refused_naming_both() -> None:
    with pytest.raises(InvalidRequest, match=r"pairs and quote_currencies: at most one of these may be given") as err:
        check_query(RULES, (), {"pairs": "KRW-BTC", "quote_currencies": "KRW"}, GROUP)
    assert (err.value.rule, err.value.given) == ("x-at-most-one-of", "both: pairs, quote_currencies")


def test_a_group_naming_no_parameter_of_the_operation_stops_generation(tmp_path: Path) -> None:
    spec = (ROOT / "openapi.yaml").read_text()
    broken = spec.replace('- ["pairs", "quote_currencies"]', '- ["pairs", "quote_currency"]', 1)
    assert broken != spec
    (tmp_path / "openapi.yaml").write_text(broken)
    output = tmp_path / "out" / "upbit_client"
    result = run_generate(tmp_path / "openapi.yaml", output)
    assert result.returncode == 1
    assert "x-at-most-one-of: names no parameter ['quote_currency']" in result.stderr
    assert not output.exists()

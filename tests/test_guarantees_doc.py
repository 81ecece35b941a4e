"""``docs/guarantees.md`` ties each promise to the test that holds it: every test it names must exist.

A test renamed or removed would otherwise leave a promise pointing at nothing, and the page would still
read as if it were checked.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").glob("*.py"):
        names.update(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), re.MULTILINE))
    return names


def test_every_test_the_guarantees_page_names_is_defined_in_the_suite() -> None:
    named = set(re.findall(r"`(test_\w+)`", (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")))
    assert len(named) > 100  # the page names its tests; a broken pattern would find none
    assert sorted(named - defined_tests()) == []


def test_every_test_file_the_package_and_its_design_docs_name_exists() -> None:
    """A docstring or design page that points at a test file which is not there sends the reader nowhere."""
    places = [*(ROOT / "cancel" / "upbit_cancel").glob("*.py"), ROOT / "docs" / "guarantees.md"]
    places.append(ROOT / "docs" / "architecture.md")
    named = {
        (place.name, name)
        for place in places
        for name in re.findall(r"tests/(test_\w+\.py)", place.read_text(encoding="utf-8"))
    }
    assert len(named) > 50  # they do name their tests; a broken pattern would find none
    assert sorted((place, name) for place, name in named if not (ROOT / "tests" / name).exists()) == []

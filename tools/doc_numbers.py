"""Numbers in the Markdown that come from the spec, each marked with where it comes from.

A number written as ``20<!-- spec: cancel_orders_by_ids.uuids.maxItems -->`` (the comment is
invisible once rendered) is the value of that rule in the generated registry. ``make api`` rewrites
every marked number from the registry (``refresh``); ``tests/test_doc_numbers.py`` fails while one
differs (``stale``). Keys:

- ``<operation>.<parameter>.<keyword>``: ``minItems``, ``maxItems``, ``minLength``, ``maxLength``,
  ``minimum``, ``maximum`` of that parameter (its Python name);
- ``<operation>.per_second``: requests per window of the operation's rate limit;
- ``<operation>.requests_for_1000``: requests 1,000 uuids take (``maxItems`` of ``uuids`` per request);
- ``<operation>.1000_minus_one_request``: 1,000 less one request's worth of uuids.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARK = re.compile(r"(\d[\d,]*)<!-- spec: ([A-Za-z0-9_.]+) -->")
KEYWORDS = {
    "minItems": "min_items",
    "maxItems": "max_items",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minimum": "minimum",
    "maximum": "maximum",
}


def documents(root: Path = ROOT) -> list[Path]:
    """The Markdown that may hold marked numbers: the README and docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def value(key: str, operations: Mapping[str, Any]) -> int:
    """The number ``key`` names; KeyError naming the key when the registry has no such thing."""
    name, _, rest = key.partition(".")
    if name not in operations:
        raise KeyError(f"{key}: no operation {name!r} in the registry")
    operation = operations[name]
    if rest == "per_second":
        if operation.rate_limit is None:
            raise KeyError(f"{key}: {name} has no x-rate-limit")
        return int(operation.rate_limit.per_second)
    if rest in ("requests_for_1000", "1000_minus_one_request"):
        per_request = value(f"{name}.uuids.maxItems", operations)
        return math.ceil(1000 / per_request) if rest == "requests_for_1000" else 1000 - per_request
    parameter, _, keyword = rest.partition(".")
    rules = {rule.python_name: rule for rule in operation.parameters}
    if parameter not in rules or keyword not in KEYWORDS:
        raise KeyError(f"{key}: expected <operation>.<parameter>.<{'|'.join(KEYWORDS)}>")
    rule = rules[parameter]
    field = KEYWORDS[keyword]
    found = getattr(rule, field) if hasattr(rule, field) else getattr(rule.value, field)
    if found is None:
        raise KeyError(f"{key}: {name}.{parameter} has no {keyword}")
    return int(found)


def _written(number: int, like: str) -> str:
    return f"{number:,}" if "," in like or number >= 10_000 else str(number)


def refresh(text: str, operations: Mapping[str, Any]) -> str:
    """``text`` with every marked number rewritten from the registry."""
    return MARK.sub(lambda m: f"{_written(value(m.group(2), operations), m.group(1))}<!-- spec: {m.group(2)} -->", text)


def stale(text: str, operations: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """(key, as written, the registry's value) for each marked number that differs."""
    found = []
    for match in MARK.finditer(text):
        actual = value(match.group(2), operations)
        if int(match.group(1).replace(",", "")) != actual:
            found.append((match.group(2), match.group(1), actual))
    return found

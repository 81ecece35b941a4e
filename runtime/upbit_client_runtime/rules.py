"""Request rules: what the OpenAPI document says a request must satisfy, checked before sending.

The generator enforces none of a parameter's schema keywords, so ``tools/generate.py`` reads them
from the spec (refusing any keyword it does not know) and renders them into ``registry.py`` as the
classes below; each generated call checks its arguments with ``check_request`` before building the
request. ``check_wire`` applies the same rules to a request as it arrives (the sandbox uses it).
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import cast

from attrs import define, field

from .sdk_errors import InvalidRequest

__all__ = [
    "Operation",
    "ParameterRule",
    "RateLimit",
    "ValueRule",
    "check_query",
    "check_request",
    "check_wire",
]

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_INTEGER_TEXT = re.compile(r"-?[0-9]+\Z")
_INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_STR_ONLY = frozenset((str,))
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _characters(count: int) -> str:
    return f"{count} character" if count == 1 else f"{count} characters"


def _pattern(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        # The spec's patterns are ECMA-262, where a final `$` matches only at the very end; Python's `$`
        # also matches before a trailing newline, which would let "abc\n" through.
        python_pattern = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern
        compiled = _PATTERNS[pattern] = re.compile(python_pattern)
    return compiled


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


Problem = tuple[str, str]
"""(what is wrong, the rule in the spec's words)"""


@define(frozen=True)
class ValueRule:
    """Constraints on one value (a parameter, or one item of an array parameter)."""

    type: str | None = None
    format: str | None = None
    nullable: bool = False
    enum: tuple[object, ...] | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    exclusive_minimum: int | float | None = None
    exclusive_maximum: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_description: str | None = None
    default: str | int | float | bool | None = None
    """The schema's ``default``: what the exchange assumes when the parameter is not sent (None: none documented)."""

    def _type_problem(self, value: object) -> Problem | None:
        """Whether ``value`` is of the Python type the generated signature declares for this schema."""
        kind, fmt = self.type, self.format
        if kind == "string" and fmt == "uuid":
            if isinstance(value, uuid.UUID) or (isinstance(value, str) and _UUID.match(value)):
                return None
            if isinstance(value, str):
                return "must be a uuid (8-4-4-4-12 hex digits)", "format: uuid"
            return f"must be a UUID or a uuid string, not {type(value).__name__}", "format: uuid"
        if kind == "string" and fmt == "date-time":
            if isinstance(value, datetime.datetime):
                return None
            return f"must be a datetime.datetime, not {type(value).__name__}", "format: date-time"
        if kind == "string" and fmt == "date":
            if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
                return None
            return f"must be a datetime.date, not {type(value).__name__}", "format: date"
        ok: bool
        if kind == "string":
            ok = isinstance(value, str)
        elif kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "number":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind == "boolean":
            ok = isinstance(value, bool)
        else:
            ok = True
        if not ok:
            return f"must be of type {kind}, not {type(value).__name__}", f"type: {kind}"
        if fmt in _INT_BOUNDS and isinstance(value, int):
            low, high = _INT_BOUNDS[fmt]
            if not low <= value <= high:
                return f"must fit in {fmt} ({low} to {high})", f"format: {fmt}"
        return None

    def problem(self, value: object) -> Problem | None:
        """The (problem, rule) that ``value`` breaks, or None when it is fine."""
        if value is None and self.nullable:
            return None
        found = self._type_problem(value)
        if found is not None:
            return found
        if self.enum is not None and value not in self.enum:
            return f"must be one of {list(self.enum)}", "enum"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                return f"must be at least {self.minimum}", f"minimum: {self.minimum}"
            if self.maximum is not None and value > self.maximum:
                return f"must be at most {self.maximum}", f"maximum: {self.maximum}"
            if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
                return f"must be more than {self.exclusive_minimum}", f"exclusiveMinimum: {self.exclusive_minimum}"
            if self.exclusive_maximum is not None and value >= self.exclusive_maximum:
                return f"must be less than {self.exclusive_maximum}", f"exclusiveMaximum: {self.exclusive_maximum}"
        text = value if isinstance(value, str) else str(value) if isinstance(value, uuid.UUID) else None
        if text is None and isinstance(value, datetime.date):
            text = value.isoformat()
        if text is not None:
            if self.min_length is not None and len(text) < self.min_length:
                return f"must be at least {_characters(self.min_length)} long", f"minLength: {self.min_length}"
            if self.max_length is not None and len(text) > self.max_length:
                return f"must be at most {_characters(self.max_length)} long", f"maxLength: {self.max_length}"
            if self.pattern is not None and _pattern(self.pattern).search(text) is None:
                return (
                    f"must be {self.pattern_description}" if self.pattern_description else "must match the pattern",
                    f"pattern: {self.pattern}",
                )
        return None

    def all_fine(self, values: Sequence[object]) -> bool:
        """True when every one of ``values`` is surely fine: strings under a plain string rule, checked
        all at once (the common case, an array of ids); False means "ask ``problem`` one by one"."""
        if self.enum is not None or self.type not in (None, "string") or self.format is not None or not values:
            return False
        if not set(map(type, values)) <= _STR_ONLY:
            return False
        strings = cast(Sequence[str], values)
        if self.min_length is not None and min(map(len, strings)) < self.min_length:
            return False
        if self.max_length is not None and max(map(len, strings)) > self.max_length:
            return False
        return self.pattern is None or all(map(_pattern(self.pattern).search, strings))

    def describe(self) -> str:
        """The rule in words, for docstrings and help: "a string of at least 1 character, not blank"."""
        kind = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false"}
        parts = [f"a {self.format}" if self.type == "string" and self.format else kind.get(self.type or "", "a value")]
        if self.type != "string" and self.format:
            parts[0] += f" ({self.format})"
        if self.enum is not None:
            parts = ["one of " + ", ".join(repr(value) for value in self.enum)]
        if self.minimum is not None and self.maximum is not None:
            parts.append(f"from {self.minimum} to {self.maximum}")
        elif self.minimum is not None:
            parts.append(f"at least {self.minimum}")
        elif self.maximum is not None:
            parts.append(f"at most {self.maximum}")
        if self.exclusive_minimum is not None:
            parts.append(f"more than {self.exclusive_minimum}")
        if self.exclusive_maximum is not None:
            parts.append(f"less than {self.exclusive_maximum}")
        if self.min_length is not None and self.min_length == self.max_length:
            parts[0] += f" of exactly {_characters(self.min_length)}"
        elif self.min_length is not None and self.max_length is not None:
            parts[0] += f" of {self.min_length} to {_characters(self.max_length)}"
        elif self.min_length is not None:
            parts[0] += f" of at least {_characters(self.min_length)}"
        elif self.max_length is not None:
            parts[0] += f" of at most {_characters(self.max_length)}"
        if self.pattern is not None:
            parts.append(self.pattern_description or f"matching {self.pattern}")
        if self.nullable:
            parts.append("or None")
        return ", ".join(parts)

    def to_wire(self, value: str | int | float | bool) -> str:
        """``value`` as the query string carries it (before percent-encoding): JSON-style booleans."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def from_wire(self, text: str) -> object:
        """The Python value a client would have passed to send ``text``; ValueError if none could."""
        if self.type == "integer":
            if not _INTEGER_TEXT.match(text):
                raise ValueError("must be an integer")
            return int(text)
        if self.type == "number":
            return float(text) if not _INTEGER_TEXT.match(text) else int(text)
        if self.type == "boolean":
            if text not in ("true", "false"):
                raise ValueError("must be true or false")
            return text == "true"
        if self.type == "string" and self.format == "date-time":
            return datetime.datetime.fromisoformat(text)
        if self.type == "string" and self.format == "date":
            return datetime.date.fromisoformat(text)
        return text


@define(frozen=True)
class ParameterRule:
    """What the OpenAPI document says about one parameter of an operation."""

    python_name: str
    wire_name: str
    location: str = "query"
    required: bool = False
    value: ValueRule = field(factory=ValueRule)
    is_array: bool = False
    min_items: int | None = None
    max_items: int | None = None
    unique_items: bool = False
    item: ValueRule | None = None

    def describe(
        self, exactly_one_of: Sequence[Sequence[str]] = (), at_most_one_of: Sequence[Sequence[str]] = ()
    ) -> str:
        """The parameter's rules in words: "Optional. 1 to 20 items, each a string of at least 1 character."."""
        words = ["Required." if self.required else "Optional."]
        if self.is_array:
            low, high = self.min_items, self.max_items
            if low is not None and high is not None:
                count = f"{low} to {high} items"
            elif high is not None:
                count = f"at most {high} items"
            elif low is not None:
                count = f"at least {low} item{'s' if low != 1 else ''}"
            else:
                count = "a list"
            repeats = ", no repeats" if self.unique_items else ""
            each = f", each {self.item.describe()}" if self.item is not None else ""
            words.append(f"{count[0].upper()}{count[1:]}{repeats}{each}.")
        else:
            text = self.value.describe()
            words.append(f"{text[0].upper()}{text[1:]}.")
        for group in exactly_one_of:
            if self.python_name in group:
                words.append(f"Exactly one of {', '.join(group)} must be given.")
        for group in at_most_one_of:
            if self.python_name in group:
                words.append(f"At most one of {', '.join(group)} may be given.")
        return " ".join(words)


@define(frozen=True)
class RateLimit:
    """The operation's rate-limit group and its budget per window (``x-rate-limit``).

    ``per_second`` requests may arrive in one window of ``window_seconds`` whole seconds of the
    exchange's clock (1 for every group but ``order-cancel-all``: one request per 2 s). ``scope`` is
    who shares the budget: ``pocket``, every API key issued for one pocket of the account.
    """

    group: str
    per_second: int
    scope: str = "pocket"
    window_seconds: int = 1

    def describe(self) -> str:
        """The budget in words: "30 requests per second (group default, shared per pocket)"."""
        window = "second" if self.window_seconds == 1 else f"{self.window_seconds} seconds"
        return f"{self.per_second} requests per {window} (group {self.group}, shared per {self.scope})"


@define(frozen=True)
class Operation:
    """One operation of the OpenAPI document, as the generated registry lists it."""

    operation_id: str
    method: str
    path: str
    module: str
    parameters: tuple[ParameterRule, ...] = ()
    exactly_one_of: tuple[tuple[str, ...], ...] = ()
    rate_limit: RateLimit | None = None
    at_most_one_of: tuple[tuple[str, ...], ...] = ()
    """Groups of parameters of which at most one may be given (``x-at-most-one-of``)."""
    error_names: Mapping[int, tuple[str, ...]] = field(factory=dict)
    success_status: int = 200
    success_example: object = None

    def parameter(self, python_name: str) -> ParameterRule:
        """The rule of the parameter called ``python_name`` in the generated function."""
        for rule in self.parameters:
            if rule.python_name == python_name:
                return rule
        raise KeyError(f"{self.operation_id} has no parameter {python_name!r}")


def _check_array(rule: ParameterRule, value: object) -> None:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InvalidRequest(
            rule.wire_name, "type: array", _describe(value), f"must be a list, not {type(value).__name__}"
        )
    if rule.min_items is not None and len(value) < rule.min_items:
        raise InvalidRequest(
            rule.wire_name,
            f"minItems: {rule.min_items}",
            f"{len(value)} items",
            f"needs at least {rule.min_items} item{'s' if rule.min_items != 1 else ''}",
        )
    if rule.max_items is not None and len(value) > rule.max_items:
        raise InvalidRequest(
            rule.wire_name,
            f"maxItems: {rule.max_items}",
            f"{len(value)} items",
            f"takes at most {rule.max_items} items per request",
        )
    if rule.item is not None and not rule.item.all_fine(value):
        for index, item in enumerate(value):
            found = rule.item.problem(item)
            if found is not None:
                raise InvalidRequest(
                    rule.wire_name, found[1], f"item {index} = {_describe(item)}", f"every item {found[0]}"
                )
    if rule.unique_items:
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            key = repr(str(item) if isinstance(item, uuid.UUID) else item)
            if key in seen:
                raise InvalidRequest(
                    rule.wire_name,
                    "uniqueItems: true",
                    f"item {index} = {_describe(item)}, the same as item {seen[key]}",
                    "must not repeat an item",
                )
            seen[key] = index


def check_query(
    rules: Sequence[ParameterRule],
    exactly_one_of: Sequence[Sequence[str]],
    values: Mapping[str, object],
    at_most_one_of: Sequence[Sequence[str]] = (),
) -> None:
    """Raise ``InvalidRequest`` for the first rule of the document that ``values`` break.

    ``values`` maps the generated function's parameter names to what was given; a parameter that was
    not given is absent. ``None`` is "not given" for a nullable parameter and refused otherwise.
    """
    given = {name for name, value in values.items() if value is not None}
    for rule in rules:
        if rule.python_name not in values or (values[rule.python_name] is None and rule.value.nullable):
            if rule.required:
                raise InvalidRequest(rule.wire_name, "required: true", "nothing", "is required")
            continue
        value = values[rule.python_name]
        if value is None:
            raise InvalidRequest(rule.wire_name, "nullable: false", "None", "must not be None")
        if rule.is_array:
            _check_array(rule, value)
            continue
        found = rule.value.problem(value)
        if found is not None:
            raise InvalidRequest(rule.wire_name, found[1], _describe(value), found[0])
    for group in exactly_one_of:
        present = [name for name in group if name in given]
        if len(present) != 1:
            by_python_name = {rule.python_name: rule.wire_name for rule in rules}
            wire_names = " and ".join(by_python_name.get(name, name) for name in group)
            what = "neither" if not present else "both: " + ", ".join(by_python_name.get(n, n) for n in present)
            raise InvalidRequest(wire_names, "x-exactly-one-of", what, "exactly one of these must be given")
    for group in at_most_one_of:
        present = [name for name in group if name in given]
        if len(present) > 1:
            by_python_name = {rule.python_name: rule.wire_name for rule in rules}
            wire_names = " and ".join(by_python_name.get(name, name) for name in group)
            what = "both: " + ", ".join(by_python_name.get(n, n) for n in present)
            raise InvalidRequest(wire_names, "x-at-most-one-of", what, "at most one of these may be given")


def check_request(operation: Operation, values: Mapping[str, object], unset: object = None) -> None:
    """Raise ``InvalidRequest`` if the arguments of a call of ``operation`` break a rule of the document.

    A value that ``is unset`` (the generated package's ``UNSET``) counts as not given.
    """
    given = values if unset is None else {name: value for name, value in values.items() if value is not unset}
    check_query(operation.parameters, operation.exactly_one_of, given, operation.at_most_one_of)


def check_wire(
    operation: Operation,
    query: Sequence[tuple[str, str]],
    path: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Apply ``operation``'s rules to a request as it arrives: decoded query pairs in wire order,
    the path parameters matched from the URL and the request headers (keys in lower case)."""
    values: dict[str, object] = {}
    for rule in operation.parameters:
        if rule.location == "query":
            texts = [text for key, text in query if key == rule.wire_name]
        elif rule.location == "path":
            texts = [path[rule.wire_name]] if path and rule.wire_name in path else []
        else:
            header = (headers or {}).get(rule.wire_name.lower())
            texts = [header] if header is not None else []
        if not texts:
            continue
        converter = rule.item if rule.is_array and rule.item is not None else rule.value
        converted: list[object] = []
        for text in texts:
            try:
                converted.append(converter.from_wire(text))
            except ValueError as exc:
                raise InvalidRequest(rule.wire_name, f"type: {converter.type}", _describe(text), str(exc)) from None
        if rule.is_array:
            values[rule.python_name] = converted
        elif len(converted) > 1:
            raise InvalidRequest(rule.wire_name, f"type: {rule.value.type}", f"{len(texts)} values", "is not a list")
        else:
            values[rule.python_name] = converted[0]
    check_request(operation, values)

"""Contains some shared types for properties"""

import re
from collections.abc import Mapping, MutableMapping
from http import HTTPStatus
from typing import IO, Any, BinaryIO, Generic, Literal, TypeVar, cast
from urllib.parse import quote_plus

import httpx
from attrs import define

from .errors import InvalidRequest


class Unset:
    def __bool__(self) -> Literal[False]:
        return False


UNSET: Unset = Unset()

# The types that `httpx.Client(files=)` can accept, copied from that library.
FileContent = IO[bytes] | bytes | str
FileTypes = (
    # (filename, file (or bytes), content_type)
    tuple[str | None, FileContent, str | None]
    # (filename, file (or bytes), content_type, headers)
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]
)
RequestFiles = list[tuple[str, FileTypes]]


@define
class File:
    """Contains information for file uploads"""

    payload: BinaryIO
    file_name: str | None = None
    mime_type: str | None = None

    def to_tuple(self) -> FileTypes:
        """Return a tuple representation that httpx will accept for multipart/form-data"""
        return self.file_name, self.payload, self.mime_type


T = TypeVar("T")


@define
class Response(Generic[T]):
    """A response from an endpoint"""

    status_code: HTTPStatus
    content: bytes
    headers: MutableMapping[str, str]
    parsed: T | None


# Request rules: what the OpenAPI document says a request must satisfy, checked before sending
# because the generator itself enforces none of it (minItems, maxItems, pattern, x-exactly-one-of).

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def _characters(count: int) -> str:
    return f"{count} character" if count == 1 else f"{count} characters"


@define(frozen=True)
class ValueRule:
    """Constraints on one scalar value (a parameter, or one item of an array parameter)"""

    type: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[object, ...] | None = None
    pattern_description: str | None = None

    def problem(self, value: object) -> tuple[str, str] | None:
        """The (problem, rule) that ``value`` breaks, or None when it is fine"""
        if self.type is not None:
            expected = _PYTHON_TYPES.get(self.type, (object,))
            if (
                isinstance(value, bool)
                and bool not in expected
                or not isinstance(value, expected)
            ):
                return (
                    f"must be of type {self.type}, not {type(value).__name__}",
                    f"type: {self.type}",
                )
        if isinstance(value, str):
            if self.min_length is not None and len(value) < self.min_length:
                return (
                    f"must be at least {_characters(self.min_length)} long",
                    f"minLength: {self.min_length}",
                )
            if self.max_length is not None and len(value) > self.max_length:
                return (
                    f"must be at most {_characters(self.max_length)} long",
                    f"maxLength: {self.max_length}",
                )
            if (
                self.pattern is not None
                and _pattern(self.pattern).search(value) is None
            ):
                return (
                    f"must be {self.pattern_description}"
                    if self.pattern_description
                    else "must match the pattern",
                    f"pattern: {self.pattern}",
                )
        if self.enum is not None and value not in self.enum:
            return f"must be one of {list(self.enum)}", "enum"
        return None

    def all_fine(self, values: list[object] | tuple[object, ...]) -> bool:
        """True when every one of ``values`` is surely fine: strings under a string rule, checked
        all at once (the common case, an array of ids); False means "ask ``problem`` one by one" """
        if self.enum is not None or self.type not in (None, "string") or not values:
            return False
        if not set(map(type, values)) <= _STR_ONLY:
            return False
        strings = cast(list[str], values)
        if self.min_length is not None and min(map(len, strings)) < self.min_length:
            return False
        if self.max_length is not None and max(map(len, strings)) > self.max_length:
            return False
        return self.pattern is None or all(map(_pattern(self.pattern).search, strings))


_STR_ONLY = frozenset((str,))
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        # The spec's patterns are ECMA-262, where a final `$` matches only at the very end; Python's `$`
        # also matches before a trailing newline, which would let "abc\n" through.
        python_pattern = (
            pattern[:-1] + r"\Z"
            if pattern.endswith("$") and not pattern.endswith(r"\$")
            else pattern
        )
        compiled = _PATTERNS[pattern] = re.compile(python_pattern)
    return compiled


@define(frozen=True)
class ParameterRule:
    """What the OpenAPI document says about one query parameter"""

    python_name: str
    wire_name: str
    required: bool = False
    value: ValueRule = ValueRule()
    is_array: bool = False
    min_items: int | None = None
    max_items: int | None = None
    item: ValueRule | None = None


@define(frozen=True)
class RateLimit:
    """The operation's rate-limit group and its budget per whole-second window (``x-rate-limit``)"""

    group: str
    per_second: int
    scope: str = "account"


# Fast request building: httpx parses and re-validates the URL once per step when it is handed a
# relative path plus ``params=`` (merge with base_url, then merge the params: three full parses of
# a long query). Encoding the query here, byte for byte as httpx would (``urlencode`` with
# ``quote_plus``, JSON-style booleans), and handing httpx one absolute URL gets that down to one.

_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_SCALARS = (str, int, float)


def _query_text(value: object) -> str | None:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, _SCALARS):
        text = str(value)
        return text if _UNRESERVED.fullmatch(text) else quote_plus(text, safe="")
    return None


def encode_query(params: Mapping[str, object]) -> str | None:
    """The query string httpx would send for ``params``, or None for values it is not sure of"""
    parts: list[str] = []
    for key, value in params.items():
        if not isinstance(key, str):
            return None
        name = key if _UNRESERVED.fullmatch(key) else quote_plus(key, safe="")
        if isinstance(value, (list, tuple)):
            if (
                value
                and set(map(type, value)) <= _STR_ONLY
                and _UNRESERVED.fullmatch("".join(value))
            ):
                # The common case (a list of ids): nothing to escape, so one check for all of them.
                parts.append(f"{name}=" + f"&{name}=".join(value))
                continue
            for item in value:
                text = _query_text(item)
                if text is None:
                    return None
                parts.append(f"{name}={text}")
        else:
            text = _query_text(value)
            if text is None:
                return None
            parts.append(f"{name}={text}")
    return "&".join(parts)


_BASE_PREFIXES: dict[int, tuple[httpx.URL, str | None]] = {}


def _base_prefix(base: httpx.URL) -> str | None:
    """``base`` as the string to put a path after, or None when httpx's merging must do it"""
    cached = _BASE_PREFIXES.get(id(base))
    if cached is not None and cached[0] is base:
        return cached[1]
    prefix: str | None = None
    if base.is_absolute_url and not base.query and not base.fragment:
        prefix = str(base)
        if not prefix.endswith("/"):
            prefix += "/"  # "http://host" has the empty path, which httpx merges as "/"
    if len(_BASE_PREFIXES) >= 64:
        _BASE_PREFIXES.clear()
    _BASE_PREFIXES[id(base)] = (
        base,
        prefix,
    )  # holding ``base`` keeps its id from being reused
    return prefix


def prepare_request(
    http: httpx.Client | httpx.AsyncClient, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """``kwargs`` with the base URL joined and ``params`` encoded into one absolute ``url`` when
    that gives the same request as httpx's own merging; otherwise ``kwargs`` unchanged"""
    url = kwargs["url"]
    if not isinstance(url, str) or "?" in url or "#" in url or http.params:
        return kwargs
    prefix = _base_prefix(http.base_url)
    if prefix is None:
        return kwargs
    params = kwargs.get("params")
    query = encode_query(params) if params else ""
    if query is None:
        return kwargs
    path = prefix + url.lstrip("/")
    fast = {key: value for key, value in kwargs.items() if key != "params"}
    fast["url"] = f"{path}?{query}" if query else path
    return fast


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_query(
    rules: tuple[ParameterRule, ...],
    exactly_one_of: tuple[tuple[str, ...], ...],
    values: Mapping[str, object],
) -> None:
    """Raise ``InvalidRequest`` for the first rule of the document that ``values`` break"""
    given = {
        name
        for name, value in values.items()
        if value is not UNSET and value is not None
    }
    for rule in rules:
        if rule.python_name not in given:
            if rule.required:
                raise InvalidRequest(
                    rule.wire_name, "required: true", "nothing", "is required"
                )
            continue
        value = values[rule.python_name]
        if not rule.is_array:
            found = rule.value.problem(value)
            if found is not None:
                raise InvalidRequest(
                    rule.wire_name, found[1], _describe(value), found[0]
                )
            continue
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise InvalidRequest(
                rule.wire_name,
                "type: array",
                _describe(value),
                f"must be a list, not {type(value).__name__}",
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
                        rule.wire_name,
                        found[1],
                        f"item {index} = {_describe(item)}",
                        f"every item {found[0]}",
                    )
    for group in exactly_one_of:
        present = [name for name in group if name in given]
        if len(present) != 1:
            by_python_name = {rule.python_name: rule.wire_name for rule in rules}
            wire_names = " and ".join(by_python_name.get(name, name) for name in group)
            what = (
                "neither"
                if not present
                else "both: " + ", ".join(by_python_name.get(n, n) for n in present)
            )
            raise InvalidRequest(
                wire_names,
                "x-exactly-one-of",
                what,
                "exactly one of these must be given",
            )


__all__ = [
    "UNSET",
    "File",
    "FileTypes",
    "ParameterRule",
    "RateLimit",
    "RequestFiles",
    "Response",
    "Unset",
    "ValueRule",
    "check_query",
    "encode_query",
    "prepare_request",
]

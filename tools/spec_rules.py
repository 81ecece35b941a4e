"""Read every rule of the spec's parameters, refusing what the SDK cannot honour.

The generator drops most of a parameter schema (``minItems``, ``pattern``, ``uniqueItems``...), every
``x-`` extension and any key beside a ``$ref``. This module reads them from the raw document
instead, as the classes of ``upbit_client_runtime.rules`` that the generated ``registry.py`` lists.
A keyword it does not know stops generation with a ``SpecError`` naming the keyword, the parameter
and the spec location: a rule of the spec is either checked before sending or refused here, never
silently dropped.

``flatten_parameters`` also merges the keys beside a ``$ref`` into a copy of the document handed to
the generator, so the generated Python type follows the same schema the rule is read from (an
inline or sibling ``format: uuid`` gives a ``UUID`` signature and a uuid rule alike).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from upbit_client_runtime.rules import Operation, ParameterRule, RateLimit, ValueRule, check_query
from upbit_client_runtime.sdk_errors import InvalidRequest

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

PARAMETER_KEYS = {"name", "in", "required", "schema", "description", "example", "examples", "style", "explode"}
PARAMETER_KEYS |= {"deprecated"}
SCALAR_KEYS = {"type", "format", "enum", "nullable", "default", "description", "title", "example", "deprecated"}
SCALAR_KEYS |= {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern"}
SCALAR_KEYS |= {"x-pattern-description"}
ARRAY_KEYS = {"type", "items", "minItems", "maxItems", "uniqueItems", "nullable", "default", "description", "title"}
ARRAY_KEYS |= {"example", "deprecated"}
OPERATION_EXTENSIONS = {"x-exactly-one-of", "x-at-most-one-of", "x-rate-limit"}
RATE_LIMIT_KEYS = {"group", "per_second", "window_seconds", "scope"}
FORMATS = {"string": {"uuid", "date-time", "date"}, "integer": {"int32", "int64"}, "number": {"float", "double"}}
TYPES = {"string", "integer", "number", "boolean"}
LOCATIONS = {"query", "path", "header"}


class SpecError(Exception):
    """The spec cannot be generated as written; the message names the location and what is wrong."""

    def __init__(self, location: str, problem: str):
        self.location = location
        super().__init__(f"{location}: {problem}")


def resolve(document: Mapping[str, Any], node: Any, location: str) -> Any:
    """``node`` with local ``$ref``s followed; keys beside a ``$ref`` are kept and win over the target's."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and "$ref" in node:
        reference = node["$ref"]
        if not isinstance(reference, str) or not reference.startswith("#/"):
            raise SpecError(location, f"$ref {reference!r} is not a local reference (#/...)")
        if reference in seen:
            raise SpecError(location, f"$ref {reference!r} refers to itself")
        seen.add(reference)
        target: Any = document
        for part in reference.removeprefix("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise SpecError(location, f"$ref {reference!r} does not resolve (no {part!r})")
            target = target[part]
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        node = {**target, **siblings} if isinstance(target, Mapping) else target
    return node


def _flat_schema(document: Mapping[str, Any], schema: Any, location: str) -> dict[str, Any]:
    schema = resolve(document, schema if schema is not None else {}, location)
    if not isinstance(schema, Mapping):
        raise SpecError(location, f"a schema must be a mapping, not {schema!r}")
    flat = dict(schema)
    if "items" in flat:
        flat["items"] = _flat_schema(document, flat["items"], f"{location}.items")
    return flat


def _parameter_locations(document: Mapping[str, Any]) -> list[tuple[str, str, str, list[Any]]]:
    found = []
    for path, item in (document.get("paths") or {}).items():
        for method in HTTP_METHODS:
            if isinstance(item, Mapping) and method in item:
                shared = list(item.get("parameters", []))
                found.append((path, method, f"paths.{path}.{method}", shared))
    return found


def flatten_parameters(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` whose operations list their parameters inline: ``$ref``s followed with
    their sibling keys merged, path-level parameters copied into each operation."""
    flat = copy.deepcopy(dict(document))
    for path, method, location, shared in _parameter_locations(document):
        operation = flat["paths"][path][method]
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        own = list(operation.get("parameters", []))
        for index, parameter in [(f"paths.{path}.parameters[{n}]", p) for n, p in enumerate(shared)] + [
            (f"{location}.parameters[{n}]", p) for n, p in enumerate(own)
        ]:
            resolved = dict(resolve(document, parameter, index))
            if "schema" in resolved:
                resolved["schema"] = _flat_schema(document, resolved["schema"], f"{index}.schema")
            merged[(str(resolved.get("name")), str(resolved.get("in")))] = resolved
        if merged:
            operation["parameters"] = list(merged.values())
        flat["paths"][path].pop("parameters", None)
    return flat


def _number(schema: Mapping[str, Any], key: str, location: str) -> int | float | None:
    value = schema.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(location, f"{key} must be a number, not {value!r}")
    return value


def _count(schema: Mapping[str, Any], key: str, location: str) -> int | None:
    value = schema.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError(location, f"{key} must be a whole number >= 0, not {value!r}")
    return value


def _unknown(keys: set[str], known: set[str], what: str, location: str) -> None:
    unknown = sorted(keys - known)
    if unknown:
        raise SpecError(
            location,
            f"{', '.join(unknown)} on {what}: the SDK does not enforce "
            f"{'this keyword' if len(unknown) == 1 else 'these keywords'}; remove it or teach tools/spec_rules.py",
        )


def value_rule(schema: Mapping[str, Any], what: str, location: str) -> ValueRule:
    """The rule of one scalar schema; SpecError for any keyword or value the SDK cannot check."""
    _unknown(set(schema), SCALAR_KEYS, what, location)
    kind = schema.get("type")
    if kind not in TYPES:
        raise SpecError(location, f"type {kind!r} of {what} is not supported (one of {sorted(TYPES)})")
    fmt = schema.get("format")
    if fmt is not None and fmt not in FORMATS.get(kind, set()):
        raise SpecError(location, f"format {fmt!r} of {what} is not supported for type {kind}")
    bounds: dict[str, int | float | None] = {}
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        value = schema.get(key)
        if isinstance(value, bool) and key.startswith("exclusive"):
            # OpenAPI 3.0: a boolean that makes minimum/maximum exclusive.
            bound = key.removeprefix("exclusive").lower()
            bounds[key] = _number(schema, bound, location) if value else None
            if value:
                bounds[bound] = None
            continue
        if key not in bounds:
            bounds[key] = _number(schema, key, location)
    if kind not in ("integer", "number") and any(value is not None for value in bounds.values()):
        raise SpecError(location, f"minimum/maximum on {what} of type {kind}: only numbers have bounds")
    enum = schema.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        raise SpecError(location, f"enum of {what} must be a non-empty list, not {enum!r}")
    pattern = schema.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SpecError(location, f"pattern of {what} does not compile: {exc}") from None
    if "x-pattern-description" in schema and pattern is None:
        raise SpecError(location, f"x-pattern-description on {what} without a pattern")
    return ValueRule(
        type=kind,
        format=fmt,
        nullable=bool(schema.get("nullable", False)),
        enum=tuple(enum) if enum is not None else None,
        minimum=bounds.get("minimum"),
        maximum=bounds.get("maximum"),
        exclusive_minimum=bounds.get("exclusiveMinimum"),
        exclusive_maximum=bounds.get("exclusiveMaximum"),
        min_length=_count(schema, "minLength", location),
        max_length=_count(schema, "maxLength", location),
        pattern=pattern,
        pattern_description=schema.get("x-pattern-description"),
        default=schema.get("default"),  # checked against the rule by _check_default
    )


def parameter_rule(parameter: Mapping[str, Any], python_name: str, location: str) -> ParameterRule:
    """The rule of one (flattened) parameter."""
    name = parameter.get("name")
    what = f"parameter {name!r}"
    _unknown({key for key in parameter if key != "schema"}, PARAMETER_KEYS, what, location)
    where = parameter.get("in")
    if where not in LOCATIONS:
        raise SpecError(location, f"{what} is in {where!r}: the SDK sends only {sorted(LOCATIONS)} parameters")
    if where == "query" and parameter.get("style", "form") != "form":
        raise SpecError(location, f"style {parameter['style']!r} of {what}: the generator sends only style form")
    if parameter.get("explode", True) is not True:
        raise SpecError(location, f"explode: false on {what}: the generator always sends repeated keys")
    if "schema" not in parameter:
        raise SpecError(location, f"{what} has no schema (content is not supported)")
    schema = parameter["schema"]
    schema_location = f"{location}.schema"
    required = bool(parameter.get("required", False))
    if schema.get("type") == "array":
        _unknown(set(schema), ARRAY_KEYS, what, schema_location)
        items = schema.get("items")
        if not isinstance(items, Mapping):
            raise SpecError(schema_location, f"array {what} has no items schema")
        rule = ParameterRule(
            python_name=python_name,
            wire_name=str(name),
            location=str(where),
            required=required,
            value=ValueRule(type="array", nullable=bool(schema.get("nullable", False))),
            is_array=True,
            min_items=_count(schema, "minItems", schema_location),
            max_items=_count(schema, "maxItems", schema_location),
            unique_items=bool(schema.get("uniqueItems", False)),
            item=value_rule(items, f"the items of {what}", f"{schema_location}.items"),
        )
    else:
        rule = ParameterRule(
            python_name=python_name,
            wire_name=str(name),
            location=str(where),
            required=required,
            value=value_rule(schema, what, schema_location),
        )
    _check_default(rule, schema, what, schema_location)
    return rule


def _check_default(rule: ParameterRule, schema: Mapping[str, Any], what: str, location: str) -> None:
    """A default the rules refuse would make every call without the parameter break the spec."""
    if "default" not in schema:
        return
    default = schema["default"]
    checked = rule.value if not rule.is_array else rule.item
    if checked is not None and checked.format in ("date-time", "date", "uuid"):
        try:
            default = [checked.from_wire(str(v)) for v in default] if rule.is_array else checked.from_wire(default)
        except (ValueError, TypeError) as exc:
            raise SpecError(location, f"default {schema['default']!r} of {what}: {exc}") from None
    try:
        check_query((rule,), (), {rule.python_name: default})
    except InvalidRequest as exc:
        raise SpecError(location, f"default {schema['default']!r} of {what} breaks its own rules: {exc}") from None


def _groups(
    operation: Mapping[str, Any], keyword: str, by_wire: Mapping[str, str], location: str
) -> tuple[tuple[str, ...], ...]:
    """The parameter groups of ``x-exactly-one-of`` or ``x-at-most-one-of``, by their Python names."""
    groups = []
    for group in operation.get(keyword, []):
        if not isinstance(group, list) or len(group) < 2:
            raise SpecError(f"{location}.{keyword}", f"each group must list two or more parameters; given: {group!r}")
        missing = [name for name in group if name not in by_wire]
        if missing:
            raise SpecError(f"{location}.{keyword}", f"names no parameter {missing}")
        groups.append(tuple(by_wire[name] for name in group))
    return tuple(groups)


def operation_record(
    document: Mapping[str, Any],
    path: str,
    method: str,
    module: str,
    python_names: Mapping[tuple[str, str], str],
) -> Operation:
    """One row of the registry: the operation at ``method path`` of the flattened ``document``."""
    location = f"paths.{path}.{method}"
    operation = document["paths"][path][method]
    _unknown({key for key in operation if key.startswith("x-")}, OPERATION_EXTENSIONS, "the operation", location)
    rules = []
    for index, parameter in enumerate(operation.get("parameters", [])):
        key = (str(parameter.get("in")), str(parameter.get("name")))
        python_name = python_names.get(key)
        if key[0] not in LOCATIONS:
            python_name = python_name or key[1]  # parameter_rule refuses it, naming the location
        if python_name is None:
            raise SpecError(f"{location}.parameters[{index}]", f"the generator made no argument of {key}")
        rules.append(parameter_rule(parameter, python_name, f"{location}.parameters[{index}]"))
    by_wire = {rule.wire_name: rule.python_name for rule in rules}
    groups = _groups(operation, "x-exactly-one-of", by_wire, location)
    at_most = _groups(operation, "x-at-most-one-of", by_wire, location)
    rate_limit = None
    if "x-rate-limit" in operation:
        limit = operation["x-rate-limit"]
        _unknown(set(limit), RATE_LIMIT_KEYS, "x-rate-limit", f"{location}.x-rate-limit")
        if not isinstance(limit.get("group"), str) or not isinstance(limit.get("per_second"), int):
            raise SpecError(f"{location}.x-rate-limit", "needs a string group and an integer per_second")
        window = limit.get("window_seconds", 1)
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise SpecError(
                f"{location}.x-rate-limit", f"window_seconds must be a whole number >= 1; given: {window!r}"
            )
        scope = limit.get("scope", "pocket")
        rate_limit = RateLimit(group=limit["group"], per_second=limit["per_second"], scope=scope, window_seconds=window)
    error_names: dict[int, tuple[str, ...]] = {}
    success_status, success_example = 200, None
    for status, response in sorted((operation.get("responses") or {}).items(), key=lambda item: str(item[0])):
        if not str(status).isdigit():
            continue
        response = resolve(document, response, f"{location}.responses.{status}")
        code = int(status)
        if 200 <= code < 300 and success_example is None:
            success_status = code
            media = (response.get("content") or {}).get("application/json") or {}
            if "example" in media:
                success_example = media["example"]
            elif media.get("examples"):
                first = resolve(document, next(iter(media["examples"].values())), f"{location}.responses.{status}")
                success_example = first.get("value")
        if "x-error-names" in response:
            error_names[code] = tuple(str(name) for name in response["x-error-names"])
    return Operation(
        operation_id=str(operation.get("operationId", module)),
        method=method.upper(),
        path=path,
        module=module,
        parameters=tuple(rules),
        exactly_one_of=groups,
        at_most_one_of=at_most,
        rate_limit=rate_limit,
        error_names=error_names,
        success_status=success_status,
        success_example=success_example,
    )

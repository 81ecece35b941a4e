"""The public API and the spec's request rules, as a committed report, and the gate that guards it.

``make api`` writes ``api/report.json`` (compared by the gate) and ``api/report.txt`` (the same, to
read) from the code: the public API of ``upbit_client``, ``upbit_auth``, ``upbit_cancel`` and
``upbit_sandbox`` (read statically by griffe: names, kinds, signatures, annotations, bases) and every
operation's request rules from the generated registry (``upbit_client.registry.OPERATIONS``). It
also appends each change to ``CHANGELOG.md`` under ``## [Unreleased]``.

``make api`` also rewrites the numbers of the Markdown that come from the spec (``tools/doc_numbers.py``).

``make api-check`` (part of ``make test``) fails when the code's API differs from the committed
report, naming each change and whether it breaks callers, or when the version in ``pyproject.toml``
is lower than the changes since the last release (the newest ``## [x.y.z]`` of ``CHANGELOG.md``)
need: a breaking change a major bump, an additive one a minor bump; or when a hand-written ``Literal``
that mirrors a value set of the spec no longer holds it (``tools/spec_mirrors.py``).

What is public: for the hand-written packages, the package's ``__all__`` (its face; the modules
behind it may change); for the generated ``upbit_client``, every module whose name has no leading
underscore, with its ``__all__`` or else every name it defines. Classes list their public members
and ``__init__``. The report holds no line numbers, paths or hashes, and is sorted, so only a change
of the API changes it.
"""

from __future__ import annotations

import argparse
import enum
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import api_changelog
import griffe
from packaging.version import Version

import doc_numbers
import spec_mirrors

ROOT = Path(__file__).resolve().parent.parent
REPORT = Path("api") / "report.json"
TEXT = Path("api") / "report.txt"
CHANGELOG = Path("CHANGELOG.md")
PYPROJECT = Path("pyproject.toml")
# Each package and the folder it lives in.
PACKAGES = {
    "upbit_auth": "auth_plugin",
    "upbit_cancel": "cancel",
    "upbit_client": "generated",
    "upbit_sandbox": "sandbox",
}
WHOLE = {"upbit_client"}  # every public module, not only the face
KEPT_LABELS = {"property", "classmethod", "staticmethod", "async", "abstractmethod", "writable"}
DATA_MODULES = ("upbit_client.spec.",)  # values left out of the report
CHANGES_HEADING = "### API changes (make api)"
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+[^\]]*)\]", re.MULTILINE)
ABOUT = "Written by `make api` (tools/api_report.py) from the code; do not edit. `make api-check` compares it."

Entry = dict[str, Any]
Report = dict[str, Any]


class Level(enum.IntEnum):
    """How a change affects callers, and so which part of the version it needs bumped."""

    NONE = 0
    ADDITIVE = 1  # a minor bump
    BREAKING = 2  # a major bump

    @property
    def word(self) -> str:
        return {Level.NONE: "none", Level.ADDITIVE: "additive", Level.BREAKING: "breaking"}[self]

    @classmethod
    def from_word(cls, word: str) -> Level:
        return {level.word: level for level in cls}[word]


@dataclass(frozen=True)
class Change:
    level: Level
    where: str
    what: str
    why: str = ""

    def __str__(self) -> str:
        why = f" ({self.why})" if self.why else ""
        return f"{self.level.word}: {self.where}: {self.what}{why}"


# ---------------------------------------------------------------- reading the code


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _literal(value: object) -> str | None:
    """An attribute's value when it is a plain expression worth comparing (no call), else None."""
    text = _text(value)
    return text if text is not None and "(" not in text and len(text) <= 300 else None


def _function(function: griffe.Function) -> Entry:
    parameters = [
        {
            "name": parameter.name,
            "kind": parameter.kind.value if parameter.kind else None,
            "annotation": _text(parameter.annotation),
            "default": _text(parameter.default),
        }
        for parameter in function.parameters
    ]
    return {"kind": "function", "parameters": parameters, "returns": _text(function.returns)}


def _target(member: griffe.Object | griffe.Alias) -> griffe.Object | griffe.Alias:
    if not member.is_alias:
        return member
    try:
        return member.final_target  # type: ignore[union-attr]
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return member


def _literal_values(expr: object, obj: griffe.Object, depth: int = 0) -> list[str] | None:
    """The values of a ``Literal[...]`` type, through names bound to one (a generated enum), else None.

    ``OrderSide = _SpecOrderSide`` and ``Literal['ask', 'bid']`` hold the same values: the gate compares
    values, not how they are written.
    """
    if depth > 8:
        return None
    if isinstance(expr, griffe.ExprName):
        try:
            found = _target(obj.modules_collection[expr.canonical_path])
        except (KeyError, ValueError, griffe.AliasResolutionError):
            return None
        if isinstance(found, griffe.Attribute | griffe.TypeAlias) and found.value is not None:
            return _literal_values(found.value, found, depth + 1)
        return None
    if not (isinstance(expr, griffe.ExprSubscript) and getattr(expr.left, "canonical_path", None) in LITERAL_PATHS):
        return None
    items = expr.slice.elements if isinstance(expr.slice, griffe.ExprTuple) else [expr.slice]
    values: list[str] = []
    for item in items:
        more = [str(item)] if isinstance(item, str) else _literal_values(item, obj, depth + 1)
        if more is None:
            return None
        values += [value for value in more if value not in values]
    return values


LITERAL_PATHS = {"typing.Literal", "typing_extensions.Literal"}


def _describe(member: griffe.Object | griffe.Alias, path: str, entries: dict[str, Entry]) -> None:
    """Put ``member`` (and, for a class, its public members) into ``entries`` under ``path``."""
    obj = _target(member)
    if obj.is_alias:  # outside the packages read (httpx, the standard library): name it only
        entries[path] = {"kind": "alias", "target": obj.target_path}  # type: ignore[union-attr]
        return
    labels = sorted(set(obj.labels) & KEPT_LABELS)
    entry: Entry
    if isinstance(obj, griffe.Function):
        entry = _function(obj)
    elif isinstance(obj, griffe.Class):
        entry = {"kind": "class", "bases": [str(base) for base in obj.bases]}
        for name, child in obj.all_members.items():
            own = not child.is_alias or getattr(child, "inherited", False)  # inherited: from a base of ours
            if (not name.startswith("_") or name == "__init__") and own:
                _describe(child, f"{path}.{name}", entries)
    elif isinstance(obj, griffe.Attribute):
        # An instance attribute's value is the expression its __init__ assigns, not a value callers see;
        # which document the client was generated from is data, not API (the report's "spec" has its version).
        assigned_in_init = "instance-attribute" in obj.labels and "class-attribute" not in obj.labels
        value = None if assigned_in_init or path.startswith(DATA_MODULES) else _literal(obj.value)
        entry = {"kind": "attribute", "annotation": _text(obj.annotation), "value": value}
        literal = _literal_values(obj.value, obj) if value is not None else None
        if literal is not None and _literal(obj.value) != f"Literal[{', '.join(literal)}]":
            entry["values"] = literal
    elif isinstance(obj, griffe.TypeAlias):
        entry = {"kind": "type alias", "value": _text(obj.value)}
    else:
        entry = {"kind": obj.kind.value}
    if labels:
        entry["labels"] = labels
    entries[path] = entry


def _walk_module(module: griffe.Module, path: str, package: str, entries: dict[str, Entry]) -> None:
    entries[path] = {"kind": "module"}
    exports = [str(name) for name in module.exports] if module.exports is not None else None
    for name, member in module.members.items():
        if name.startswith("_") or (isinstance(_target(member), griffe.Module) and not member.is_alias):
            continue
        if exports is not None:
            if name not in exports:
                continue
            target = _target(member)
            if member.is_alias and not target.is_alias and target.path.startswith(package + "."):
                entries[f"{path}.{name}"] = {"kind": "alias", "target": target.path}
                continue
        elif member.is_alias:  # an import, not a name this module defines
            continue
        _describe(member, f"{path}.{name}", entries)
    for name, submodule in module.modules.items():
        if not name.startswith("_") and not submodule.is_alias:  # an imported module is not a submodule
            _walk_module(submodule, f"{path}.{name}", package, entries)


def python_api(root: Path = ROOT) -> dict[str, Entry]:
    """Every public name of the four packages, by dotted path."""
    loader = griffe.GriffeLoader(search_paths=[str(root / folder) for folder in PACKAGES.values()])
    for package in PACKAGES:
        loader.load(package)
    loader.resolve_aliases(implicit=False, external=None)
    entries: dict[str, Entry] = {}
    for package in PACKAGES:
        module = loader.modules_collection[package]
        if package in WHOLE:
            _walk_module(module, package, package, entries)
            continue
        entries[package] = {"kind": "module"}
        for name in sorted(str(name) for name in module.exports or ()):
            _describe(module[name], f"{package}.{name}", entries)
    return dict(sorted(entries.items()))


# Spec keywords, as the registry's fields are called in openapi.yaml.
VALUE_KEYWORDS = {
    "type": "type",
    "format": "format",
    "nullable": "nullable",
    "enum": "enum",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusive_minimum": "exclusiveMinimum",
    "exclusive_maximum": "exclusiveMaximum",
    "min_length": "minLength",
    "max_length": "maxLength",
    "pattern": "pattern",
}


def _value_rule(rule: Any) -> Entry:
    found: Entry = {}
    for field, keyword in VALUE_KEYWORDS.items():
        value = getattr(rule, field)
        if value is None or value is False:
            continue
        found[keyword] = list(value) if isinstance(value, tuple) else value
    return found


def _parameter(rule: Any) -> Entry:
    entry: Entry = {"in": rule.location, "name": rule.wire_name, "required": rule.required, **_value_rule(rule.value)}
    if rule.is_array:
        entry.update(minItems=rule.min_items, maxItems=rule.max_items, uniqueItems=rule.unique_items)
        entry["items"] = _value_rule(rule.item) if rule.item is not None else {}
    return entry


def _generated(root: Path) -> tuple[Any, Mapping[str, Any]]:
    """The tree's generated package and its registry (``OPERATIONS``), not one imported before.

    Whatever ``upbit_client`` modules the process had are put back afterwards, so a caller that
    imported the package (a test) keeps using the same module objects.
    """

    def ours(name: str) -> bool:
        return name == "upbit_client" or name.startswith("upbit_client.")

    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(root / "generated"))
    try:
        import upbit_client
        from upbit_client.registry import OPERATIONS
    finally:
        sys.path.remove(str(root / "generated"))
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
    return upbit_client, OPERATIONS


def operation_rules(root: Path = ROOT) -> tuple[dict[str, Entry], Entry]:
    """The request rules of every operation of the registry, and the spec's version."""
    upbit_client, OPERATIONS = _generated(root)
    operations: dict[str, Entry] = {}
    for name, operation in sorted(OPERATIONS.items()):
        limit = operation.rate_limit
        operations[name] = {
            "method": operation.method,
            "path": operation.path,
            "operation_id": operation.operation_id,
            "parameters": {rule.python_name: _parameter(rule) for rule in operation.parameters},
            "exactly_one_of": sorted(sorted(group) for group in operation.exactly_one_of),
            "rate_limit": None
            if limit is None
            else {
                "group": limit.group,
                "per_second": limit.per_second,
                "scope": limit.scope,
                "window_seconds": limit.window_seconds,
            },
            "success_status": operation.success_status,
            "error_names": {str(status): sorted(names) for status, names in sorted(operation.error_names.items())},
        }
    spec = {"version": getattr(upbit_client, "SPEC_VERSION", None)}
    return operations, spec


def current_api(root: Path = ROOT) -> Report:
    operations, spec = operation_rules(root)
    return {"spec": spec, "python": python_api(root), "operations": operations}


# ---------------------------------------------------------------- comparing


def _limit_change(where: str, keyword: str, old: Any, new: Any, lower_bound: bool) -> Change:
    text = f"{keyword} {old} -> {new}" if old is not None and new is not None else ""
    if old is None:
        return Change(Level.BREAKING, where, f"{keyword} {new} added", "a new limit")
    if new is None:
        return Change(Level.ADDITIVE, where, f"{keyword} {old} removed", "a limit lifted")
    tighter = new > old if lower_bound else new < old
    if tighter:
        return Change(Level.BREAKING, where, text, "a tighter limit")
    return Change(Level.ADDITIVE, where, text, "a looser limit")


LOWER_BOUNDS = {"minimum", "exclusiveMinimum", "minLength", "minItems"}
UPPER_BOUNDS = {"maximum", "exclusiveMaximum", "maxLength", "maxItems"}
# Keywords that only loosen when they go from true to false.
NARROWING_FLAGS = {"required", "uniqueItems"}


def _rule_changes(where: str, old: Entry, new: Entry, prefix: str = "") -> list[Change]:
    changes: list[Change] = []
    for keyword in sorted(set(old) | set(new)):
        before, after = old.get(keyword), new.get(keyword)
        if before == after:
            continue
        name = f"{prefix}{keyword}"
        if keyword == "items":
            changes += _rule_changes(where, before or {}, after or {}, prefix=f"{prefix}items ")
        elif keyword in LOWER_BOUNDS or keyword in UPPER_BOUNDS:
            changes.append(_limit_change(where, name, before, after, keyword in LOWER_BOUNDS))
        elif keyword == "enum":
            if before is None:
                changes.append(Change(Level.BREAKING, where, f"{name} {after} added", "only these values now"))
            elif after is None:
                changes.append(Change(Level.ADDITIVE, where, f"{name} removed", "any value now"))
            else:
                gone = [value for value in before if value not in after]
                came = [value for value in after if value not in before]
                if gone:
                    changes.append(Change(Level.BREAKING, where, f"{name} values {gone} removed", "a removed value"))
                if came:
                    changes.append(Change(Level.ADDITIVE, where, f"{name} values {came} added", "a new value"))
        elif keyword in NARROWING_FLAGS:
            if after:
                changes.append(Change(Level.BREAKING, where, f"{name} {before} -> {after}", "now demanded"))
            else:
                changes.append(Change(Level.ADDITIVE, where, f"{name} {before} -> {after}", "no longer demanded"))
        elif keyword == "nullable":
            level = Level.ADDITIVE if after else Level.BREAKING
            changes.append(Change(level, where, f"{name} {before} -> {after}", ""))
        elif keyword == "pattern" and after is None:
            changes.append(Change(Level.ADDITIVE, where, f"{name} removed", "a limit lifted"))
        else:
            changes.append(Change(Level.BREAKING, where, f"{name} {before!r} -> {after!r}", "a changed rule"))
    return changes


def _operation_changes(old: Mapping[str, Entry], new: Mapping[str, Entry]) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(set(old) - set(new)):
        changes.append(Change(Level.BREAKING, name, "operation removed", "a removed operation"))
    for name in sorted(set(new) - set(old)):
        changes.append(Change(Level.ADDITIVE, name, f"operation added ({new[name]['method']} {new[name]['path']})"))
    for name in sorted(set(old) & set(new)):
        before, after = old[name], new[name]
        for key in ("method", "path", "operation_id", "success_status"):
            if before[key] != after[key]:
                changes.append(Change(Level.BREAKING, name, f"{key} {before[key]} -> {after[key]}"))
        params_old, params_new = before["parameters"], after["parameters"]
        gone, came = sorted(set(params_old) - set(params_new)), sorted(set(params_new) - set(params_old))
        if len(gone) == 1 and len(came) == 1 and _same_but_name(params_old[gone[0]], params_new[came[0]]):
            what = f"parameter {gone[0]} renamed to {came[0]}"
            changes.append(Change(Level.BREAKING, name, what, f"migrate: {gone[0]}= -> {came[0]}="))
            gone = came = []
        for param in gone:
            changes.append(Change(Level.BREAKING, name, f"parameter {param} removed", "a removed parameter"))
        for param in came:
            if params_new[param]["required"]:
                changes.append(Change(Level.BREAKING, name, f"parameter {param} added", "a new required parameter"))
            else:
                changes.append(Change(Level.ADDITIVE, name, f"parameter {param} added", "optional"))
        for param in sorted(set(params_old) & set(params_new)):
            changes += _rule_changes(name, params_old[param], params_new[param], prefix=f"{param} ")
        groups_old = {tuple(group) for group in before["exactly_one_of"]}
        groups_new = {tuple(group) for group in after["exactly_one_of"]}
        for group in sorted(groups_new - groups_old):
            changes.append(Change(Level.BREAKING, name, f"exactly one of {', '.join(group)} added", "a new rule"))
        for group in sorted(groups_old - groups_new):
            changes.append(Change(Level.ADDITIVE, name, f"exactly one of {', '.join(group)} removed", "a rule lifted"))
        changes += _rate_limit_changes(name, before["rate_limit"], after["rate_limit"])
        for status in sorted(set(before["error_names"]) | set(after["error_names"])):
            old_names, new_names = before["error_names"].get(status, []), after["error_names"].get(status, [])
            for error in sorted(set(new_names) - set(old_names)):
                changes.append(Change(Level.ADDITIVE, name, f"error name {error} ({status}) added", "a new answer"))
            for error in sorted(set(old_names) - set(new_names)):
                changes.append(Change(Level.ADDITIVE, name, f"error name {error} ({status}) removed"))
    return changes


def _same_but_name(before: Entry, after: Entry) -> bool:
    return {**before, "name": None} == {**after, "name": None}


def _rate_limit_changes(name: str, before: Entry | None, after: Entry | None) -> list[Change]:
    if before == after:
        return []
    if before is None or after is None:
        level = Level.BREAKING if after is not None else Level.ADDITIVE
        return [Change(level, name, f"rate limit {before} -> {after}")]
    changes: list[Change] = []
    for key in ("group", "scope"):
        if before[key] != after[key]:
            changes.append(Change(Level.BREAKING, name, f"rate limit {key} {before[key]} -> {after[key]}"))
    # Requests per second: fewer per second, or the same over a longer window, is tighter.
    old_rate = before["per_second"] / before["window_seconds"]
    new_rate = after["per_second"] / after["window_seconds"]
    for key in ("per_second", "window_seconds"):
        if before[key] != after[key]:
            what = f"rate limit {key} {before[key]} -> {after[key]}"
            tighter = new_rate < old_rate or (new_rate == old_rate and key == "window_seconds")
            level = Level.BREAKING if tighter else Level.ADDITIVE
            changes.append(Change(level, name, what, "a tighter limit" if tighter else "a looser limit"))
    return changes


POSITIONAL = {"positional-only", "positional or keyword"}
VARIADIC = {"variadic positional", "variadic keyword"}


def _function_changes(where: str, old: Entry, new: Entry) -> list[Change]:
    changes: list[Change] = []
    params_old = {param["name"]: param for param in old["parameters"]}
    params_new = {param["name"]: param for param in new["parameters"]}
    positions_old = [p["name"] for p in old["parameters"] if p["kind"] in POSITIONAL]
    positions_new = [p["name"] for p in new["parameters"] if p["kind"] in POSITIONAL]
    renamed = _renamed_parameters(old["parameters"], new["parameters"])
    for old_name, new_name in renamed.items():
        what = f"parameter {old_name} renamed to {new_name}"
        changes.append(Change(Level.BREAKING, where, what, f"migrate: {old_name}= -> {new_name}="))
    for name in params_old:
        if name not in params_new and name not in renamed:
            changes.append(Change(Level.BREAKING, where, f"parameter {name} removed", "a removed parameter"))
    for name, param in params_new.items():
        if name in params_old or name in renamed.values():
            continue
        if param["default"] is None and param["kind"] not in VARIADIC:
            changes.append(Change(Level.BREAKING, where, f"parameter {name} added", "a new required parameter"))
        else:
            changes.append(Change(Level.ADDITIVE, where, f"parameter {name} added", "optional"))
    for name in [name for name in params_old if name in params_new]:
        before, after = params_old[name], params_new[name]
        if before["kind"] != after["kind"]:
            changes.append(Change(Level.BREAKING, where, f"parameter {name} kind {before['kind']} -> {after['kind']}"))
        if before["default"] != after["default"]:
            if after["default"] is None:
                changes.append(Change(Level.BREAKING, where, f"parameter {name} lost its default", "now required"))
            elif before["default"] is None:
                changes.append(Change(Level.ADDITIVE, where, f"parameter {name} default {after['default']} added"))
            else:
                what = f"parameter {name} default {before['default']} -> {after['default']}"
                changes.append(Change(Level.BREAKING, where, what, "a changed default"))
        if before["annotation"] != after["annotation"]:
            what = f"parameter {name} type {before['annotation']} -> {after['annotation']}"
            changes.append(Change(Level.BREAKING, where, what, "a changed type"))
        if name in positions_old and name in positions_new and positions_old.index(name) != positions_new.index(name):
            changes.append(Change(Level.BREAKING, where, f"parameter {name} moved", "a changed position"))
    if old["returns"] != new["returns"]:
        what = f"returns {old['returns']} -> {new['returns']}"
        changes.append(Change(Level.BREAKING, where, what, "a changed return type"))
    return changes


def _renamed_parameters(old: list[Entry], new: list[Entry]) -> dict[str, str]:
    """Old name -> new name of a parameter that is the same in all but its name, at the same position."""
    names_old, names_new = [p["name"] for p in old], [p["name"] for p in new]
    gone = [(i, p) for i, p in enumerate(old) if p["name"] not in names_new]
    came = [(i, p) for i, p in enumerate(new) if p["name"] not in names_old]
    if len(gone) != 1 or len(came) != 1 or gone[0][0] != came[0][0]:
        return {}
    (_, before), (_, after) = gone[0], came[0]
    same = all(before[key] == after[key] for key in ("kind", "annotation", "default"))
    return {before["name"]: after["name"]} if same else {}


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _renames(old: Mapping[str, Entry], new: Mapping[str, Entry], removed: set[str], added: set[str]) -> dict[str, str]:
    """Old path -> new path of a name that went and came back under another name, beside it and the same.

    Only where that is unambiguous: exactly one name of its parent went and one came, with equal entries
    (kind, type, signature) and, for a class, equal members.
    """
    tops_gone = [path for path in removed if _parent(path) not in removed]
    tops_came = [path for path in added if _parent(path) not in added]
    found: dict[str, str] = {}
    for parent in {_parent(path) for path in tops_gone}:
        gone = [path for path in tops_gone if _parent(path) == parent]
        came = [path for path in tops_came if _parent(path) == parent]
        if len(gone) == 1 and len(came) == 1 and _same_shape(old, new, gone[0], came[0]):
            found[gone[0]] = came[0]
    return found


def _same_shape(old: Mapping[str, Entry], new: Mapping[str, Entry], before: str, after: str) -> bool:
    inside_old = {path[len(before) :]: entry for path, entry in old.items() if path.startswith(before + ".")}
    inside_new = {path[len(after) :]: entry for path, entry in new.items() if path.startswith(after + ".")}
    return old[before] == new[after] and inside_old == inside_new


def _python_changes(old: Mapping[str, Entry], new: Mapping[str, Entry]) -> list[Change]:
    changes: list[Change] = []

    def under(path: str, paths: Iterable[str]) -> bool:
        return any(path.startswith(other + ".") for other in paths)

    removed = set(old) - set(new)
    added = set(new) - set(old)
    renames = _renames(old, new, removed, added)
    for old_path, new_path in sorted(renames.items()):
        old_name, new_name = old_path.rpartition(".")[2], new_path.rpartition(".")[2]
        what = f"{old_name} renamed to {new_name}"
        changes.append(Change(Level.BREAKING, _parent(old_path), what, f"migrate: .{old_name} -> .{new_name}"))
    removed -= {path for path in removed if path in renames or under(path, renames)}
    added -= {path for path in added if path in renames.values() or under(path, renames.values())}
    for path in sorted(removed):
        if not under(path, removed):
            changes.append(Change(Level.BREAKING, path, "removed", "a removed name"))
    for path in sorted(added):
        if not under(path, added):
            changes.append(Change(Level.ADDITIVE, path, f"added ({new[path]['kind']})"))
    for path in sorted(set(old) & set(new)):
        before, after = old[path], new[path]
        if before == after:
            continue
        if before["kind"] != after["kind"]:
            changes.append(Change(Level.BREAKING, path, f"kind {before['kind']} -> {after['kind']}"))
            continue
        if before.get("labels") != after.get("labels"):
            what = f"labels {before.get('labels', [])} -> {after.get('labels', [])}"
            changes.append(Change(Level.BREAKING, path, what))
        if before["kind"] == "function":
            changes += _function_changes(path, before, after)
        elif before["kind"] == "class":
            gone = [base for base in before["bases"] if base not in after["bases"]]
            came = [base for base in after["bases"] if base not in before["bases"]]
            if gone:
                changes.append(Change(Level.BREAKING, path, f"bases {gone} removed", "a removed base class"))
            if came:
                changes.append(Change(Level.ADDITIVE, path, f"bases {came} added"))
        else:
            changes += _attribute_changes(path, before, after)
    return changes


def _values(entry: Entry) -> list[str] | None:
    """The values of a ``Literal`` attribute, as resolved (``values``) or as written (``value``)."""
    if entry.get("values") is not None:
        return list(entry["values"])
    found = LITERAL.match(entry.get("value") or "")
    return [value.strip() for value in found.group(1).split(",")] if found else None


def _attribute_changes(path: str, before: Entry, after: Entry) -> list[Change]:
    """An attribute's or alias's changes; a ``Literal`` is compared by its values, not how it is written."""
    old_values, new_values = _values(before), _values(after)
    if old_values is not None and new_values is not None:
        if set(old_values) == set(new_values):
            written = f"{before.get('value')} -> {after.get('value')}"
            return [Change(Level.NONE, path, f"written as {written}", "the same values")] if before != after else []
        return [_value_change(path, "value", f"Literal[{', '.join(old_values)}]", f"Literal[{', '.join(new_values)}]")]
    changes: list[Change] = []
    for key in ("annotation", "value", "target"):
        if before.get(key) == after.get(key):
            continue
        if key == "annotation" and before.get(key) is None and after.get("value") is None:
            what = f"annotated {after.get(key)}"
            changes.append(Change(Level.ADDITIVE, path, what, "type checkers inferred its type before"))
        else:
            changes.append(_value_change(path, key, before.get(key), after.get(key)))
    return changes


LITERAL = re.compile(r"(?:typing\.)?Literal\[(.*)\]\Z")


def _value_change(path: str, key: str, before: str | None, after: str | None) -> Change:
    """A changed annotation or value; a ``Literal[...]`` change names the values gone and come.

    Both directions break someone: a caller passing a removed value, or a caller whose exhaustive
    handling of an answer's values meets a new one.
    """
    old, new = LITERAL.match(before or ""), LITERAL.match(after or "")
    if old and new:
        old_values = [value.strip() for value in old.group(1).split(",")]
        new_values = [value.strip() for value in new.group(1).split(",")]
        gone = [value for value in old_values if value not in new_values]
        came = [value for value in new_values if value not in old_values]
        parts = [f"values {', '.join(gone)} removed"] if gone else []
        parts += [f"values {', '.join(came)} added"] if came else []
        if parts:
            return Change(Level.BREAKING, path, f"Literal {'; '.join(parts)}", "callers may pass or meet other values")
    return Change(Level.BREAKING, path, f"{key} {before} -> {after}", "a changed type or value")


def compare(old: Report, new: Report) -> list[Change]:
    """Every difference between two reports' APIs, each with how it affects callers."""
    changes = _operation_changes(old.get("operations", {}), new["operations"])
    changes += _python_changes(old.get("python", {}), new["python"])
    old_spec, new_spec = old.get("spec", {}).get("version"), new["spec"].get("version")
    if old_spec != new_spec:
        changes.append(Change(Level.NONE, "openapi.yaml", f"info.version {old_spec} -> {new_spec}"))
    return changes


# ---------------------------------------------------------------- versions


def bump(base: str, level: Level) -> str:
    major, minor = Version(base).release[:2]
    if level is Level.BREAKING:
        return f"{major + 1}.0.0"
    if level is Level.ADDITIVE:
        return f"{major}.{minor + 1}.0"
    return base


def last_release(changelog: str) -> str:
    """The newest released version of the changelog (``## [x.y.z] - date``)."""
    found = RELEASE.search(changelog)
    return found.group(1) if found else "0.0.0"


def project_version(pyproject: str) -> str:
    """The release ``pyproject.toml`` works towards (``make version``); builds before it are its ``.devN``."""
    return str(tomllib.loads(pyproject)["tool"]["hatch"]["metadata"]["hooks"]["custom"]["release"])


@dataclass(frozen=True)
class Pending:
    """What the API changed since ``release``, and so the lowest version it may ship as."""

    release: str
    level: Level
    changes: tuple[str, ...]

    @property
    def requires(self) -> str:
        return bump(self.release, self.level)

    def then(self, release: str, changes: list[Change]) -> Pending:
        """This record after ``changes``; a newer ``release`` starts the count again."""
        keep = self if release == self.release else Pending(release, Level.NONE, ())
        counted = [change for change in changes if change.level is not Level.NONE]
        level = max([keep.level, *(change.level for change in counted)])
        return Pending(release, level, keep.changes + tuple(str(change) for change in counted))

    def as_json(self) -> Entry:
        return {
            "release": self.release,
            "level": self.level.word,
            "requires": self.requires,
            "changes": list(self.changes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, release: str) -> Pending:
        if not data:
            return cls(release, Level.NONE, ())
        return cls(str(data["release"]), Level.from_word(str(data["level"])), tuple(data["changes"]))


def _needed(pending: Pending, version: str) -> str | None:
    """The version to ask for when ``version`` is too low for ``pending``, else None."""
    return pending.requires if Version(version) < Version(pending.requires) else None


def check(committed: Report | None, current: Report, changelog: str, version: str) -> tuple[list[Change], list[str]]:
    """The changes since the committed report, and the problems that fail the gate (none: it passes)."""
    release = last_release(changelog)
    if committed is None:
        return [], [f"{REPORT} is missing: run `make api` to write it, and commit it."]
    changes = compare(committed, current)
    pending = Pending.from_json(committed.get("since_release"), release).then(release, changes)
    problems: list[str] = []
    needed = _needed(pending, version)
    if changes:
        lines = "\n".join(f"  {change}" for change in changes)
        count = f"{len(changes)} change{'s' if len(changes) != 1 else ''}"
        problems.append(f"the code's API differs from {REPORT} ({count}):\n{lines}")
    if needed is not None:
        level = {Level.BREAKING: "a major", Level.ADDITIVE: "a minor"}[pending.level]
        problems.append(
            f"{pending.level.word} changes since release {release} (the newest in {CHANGELOG}) need {level} bump: "
            f"version {needed} or later; {PYPROJECT} says {version}."
        )
    if problems:
        steps = ["`make api` (rewrites the report and adds the changes to CHANGELOG.md)"] if changes else []
        if needed is not None:
            steps.append(f"`make version V={needed}`")
        problems.append(f"To accept: {' and '.join(steps)}, then edit the CHANGELOG.md words and commit them.")
    return changes, problems


# ---------------------------------------------------------------- writing


def render_json(api: Report, pending: Pending) -> str:
    report = {"about": ABOUT, "since_release": pending.as_json(), **api}
    return json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _signature(entry: Entry) -> str:
    parts: list[str] = []
    seen_keyword_only = False
    for param in entry["parameters"]:
        kind = param["kind"]
        text = param["name"]
        if kind == "variadic positional":
            text, seen_keyword_only = f"*{text}", True
        elif kind == "variadic keyword":
            text = f"**{text}"
        elif kind == "keyword-only" and not seen_keyword_only:
            parts.append("*")
            seen_keyword_only = True
        if param["annotation"]:
            text += f": {param['annotation']}"
        if param["default"] is not None:
            text += f" = {param['default']}" if param["annotation"] else f"={param['default']}"
        parts.append(text)
    returns = f" -> {entry['returns']}" if entry["returns"] else ""
    return f"({', '.join(parts)}){returns}"


def _rule_text(rule: Entry) -> str:
    return ", ".join(f"{key} {json.dumps(value)}" for key, value in rule.items() if key != "items")


def render_text(api: Report, pending: Pending) -> str:
    lines = [f"# {ABOUT}", f"# since release {pending.release}: {pending.level.word}, requires {pending.requires}"]
    lines += [f"#   {change}" for change in pending.changes]
    lines += [f"spec info.version {api['spec'].get('version')}", ""]
    for name, operation in api["operations"].items():
        limit = operation["rate_limit"]
        pace = "" if limit is None else f", {limit['per_second']} per {limit['window_seconds']} s per {limit['scope']}"
        group = limit and limit["group"]
        lines.append(f"operation {name}: {operation['method']} {operation['path']} (group {group}{pace})")
        for param, rule in operation["parameters"].items():
            items = f"; items: {_rule_text(rule['items'])}" if "items" in rule else ""
            lines.append(f"  {param}: {_rule_text(rule)}{items}")
        for group in operation["exactly_one_of"]:
            lines.append(f"  exactly one of: {', '.join(group)}")
        lines.append(f"  answers: {operation['success_status']}, errors {json.dumps(operation['error_names'])}")
    lines.append("")
    for path, entry in api["python"].items():
        labels = f" [{', '.join(entry['labels'])}]" if entry.get("labels") else ""
        kind = entry["kind"]
        if kind == "function":
            lines.append(f"{path}{_signature(entry)}{labels}")
        elif kind == "class":
            bases = f"({', '.join(entry['bases'])})" if entry["bases"] else ""
            lines.append(f"class {path}{bases}{labels}")
        elif kind == "attribute":
            annotation = f": {entry['annotation']}" if entry["annotation"] else ""
            value = f" = {entry['value']}" if entry["value"] is not None else ""
            lines.append(f"{path}{annotation}{value}{labels}")
        elif kind == "alias":
            lines.append(f"{path} -> {entry['target']}")
        elif kind == "type alias":
            lines.append(f"type {path} = {entry['value']}")
        else:
            lines.append(f"{kind} {path}")
    return "\n".join(lines) + "\n"


def add_to_changelog(changelog: str, changes: list[Change]) -> str:
    """``changelog`` with ``changes`` listed under ``## [Unreleased]`` / ``### API changes (make api)``."""
    counted = [change for change in changes if change.level is not Level.NONE]
    if not counted:
        return changelog
    bullets = "".join(f"- {line}\n" for line in api_changelog.lines(counted))
    start = changelog.find("## [Unreleased]")
    if start < 0:
        first = RELEASE.search(changelog)
        at = first.start() if first else len(changelog)
        changelog = changelog[:at] + "## [Unreleased]\n\n" + changelog[at:]
        start = at
    following = RELEASE.search(changelog, start + 1)
    end = following.start() if following else len(changelog)
    section = changelog[start:end].rstrip("\n") + "\n"
    heading = section.find(CHANGES_HEADING)
    if heading < 0:
        section += f"\n{CHANGES_HEADING}\n{bullets}"
    else:
        following_heading = section.find("\n### ", heading + 1)
        cut = len(section) if following_heading < 0 else following_heading + 1
        section = section[:cut].rstrip("\n") + "\n" + bullets + ("\n" + section[cut:] if cut < len(section) else "")
    section += "\n"
    return changelog[:start] + section + changelog[end:]


def _read(root: Path, path: Path) -> str:
    return (root / path).read_text(encoding="utf-8")


def _committed(root: Path) -> Report | None:
    path = root / REPORT
    found: Report | None = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    return found


def write(root: Path = ROOT) -> int:
    """``make api``: the report from the code, and its changes in the changelog."""
    committed = _committed(root)
    current = current_api(root)
    changelog = _read(root, CHANGELOG)
    release = last_release(changelog)
    changes = compare(committed, current) if committed is not None else []
    pending = Pending.from_json(committed.get("since_release") if committed else None, release).then(release, changes)
    (root / REPORT).parent.mkdir(exist_ok=True)
    (root / REPORT).write_text(render_json(current, pending), encoding="utf-8")
    (root / TEXT).write_text(render_text(current, pending), encoding="utf-8")
    (root / CHANGELOG).write_text(add_to_changelog(changelog, changes), encoding="utf-8")
    _, operations = _generated(root)
    for document in doc_numbers.documents(root):
        text = document.read_text(encoding="utf-8")
        if doc_numbers.stale(text, operations):
            document.write_text(doc_numbers.refresh(text, operations), encoding="utf-8")
            print(f"{document.relative_to(root)}: the numbers from the spec rewritten; read the sentences around them.")
    for change in changes:
        print(f"  {change}")
    version = project_version(_read(root, PYPROJECT))
    count = f"{len(changes)} change{'s' if len(changes) != 1 else ''}"
    print(f"Wrote {REPORT} and {TEXT}: {count}; since release {release} it needs version {pending.requires}.")
    needed = _needed(pending, version)
    if needed is not None:
        print(f"{PYPROJECT} says {version}: run `make version V={needed}`.")
    if changes:
        print(f"The changes are listed in {CHANGELOG} under [Unreleased]: edit the words.")
    return 0


def gate(root: Path = ROOT) -> int:
    """``make api-check``: 0 when the committed report is the code's API and the version suits it."""
    version = project_version(_read(root, PYPROJECT))
    _, problems = check(_committed(root), current_api(root), _read(root, CHANGELOG), version)
    # Hand-written Literals that repeat a value set of the spec must still hold all of it.
    problems += spec_mirrors.problems(root, _generated(root)[1])
    if problems:
        print("make api-check: " + "\n".join(problems), file=sys.stderr)
        return 1
    print(f"{REPORT} matches the code; version {version} suits it.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=("write", "check"))
    args = parser.parse_args(argv)
    return write() if args.command == "write" else gate()


if __name__ == "__main__":
    sys.exit(main())

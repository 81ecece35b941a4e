"""The API gate's logic (tools/api_report.py) on made-up before/after reports.

``make api-check`` runs the same ``check`` on the committed ``api/report.json`` and the code.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

import api_report
from api_report import Level, Pending

ROOT = Path(__file__).resolve().parent.parent
CHANGELOG = """# Changelog

## [Unreleased]

### Fixed
- something.

## [2.0.0] - 2026-11-26

- the release.
"""


def parameter(**rules: Any) -> dict[str, Any]:
    return {"in": "query", "name": "uuids[]", "required": False, "type": "array", **rules}


def function(*params: tuple[str, str | None], returns: str = "None") -> dict[str, Any]:
    return {
        "kind": "function",
        "parameters": [
            {"name": name, "kind": "keyword-only", "annotation": "int", "default": default} for name, default in params
        ],
        "returns": returns,
    }


def report() -> dict[str, Any]:
    return {
        "spec": {"version": "1.0"},
        "operations": {
            "cancel_orders_by_ids": {
                "method": "DELETE",
                "path": "/v1/orders/uuids",
                "operation_id": "cancelOrdersByIds",
                "parameters": {
                    "uuids": parameter(minItems=1, maxItems=20, uniqueItems=False, items={"type": "string"}),
                    "order_by": parameter(name="order_by", type="string", enum=["asc", "desc"]),
                },
                "exactly_one_of": [],
                "rate_limit": {"group": "default", "per_second": 30, "scope": "pocket", "window_seconds": 1},
                "success_status": 200,
                "error_names": {"400": ["validation_error"]},
            }
        },
        "python": {
            "upbit_cancel": {"kind": "module"},
            "upbit_cancel.connect": function(("timeout", "10.0")),
            "upbit_cancel.cancel_orders": function(("confirm", "True")),
        },
    }


def changed(edit: Any) -> list[str]:
    after = report()
    edit(after)
    return [str(change) for change in api_report.compare(report(), after)]


def cancel(after: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = after["operations"]["cancel_orders_by_ids"]
    return operation


def test_a_lower_max_items_is_named_as_a_breaking_tighter_limit() -> None:
    found = changed(lambda after: cancel(after)["parameters"]["uuids"].update(maxItems=10))
    assert found == ["breaking: cancel_orders_by_ids: uuids maxItems 20 -> 10 (a tighter limit)"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda a: cancel(a)["parameters"]["uuids"].update(maxItems=30),
            "additive: cancel_orders_by_ids: uuids maxItems 20 -> 30",
        ),
        (
            lambda a: cancel(a)["parameters"]["uuids"].update(minItems=2),
            "breaking: cancel_orders_by_ids: uuids minItems 1 -> 2",
        ),
        (
            lambda a: cancel(a)["parameters"]["uuids"]["items"].update(maxLength=36),
            "breaking: cancel_orders_by_ids: uuids items maxLength 36 added",
        ),
        (
            lambda a: cancel(a)["parameters"]["order_by"].update(enum=["asc"]),
            "breaking: cancel_orders_by_ids: order_by enum values ['desc'] removed",
        ),
        (
            lambda a: cancel(a)["parameters"]["order_by"].update(enum=["asc", "desc", "x"]),
            "additive: cancel_orders_by_ids: order_by enum values ['x'] added",
        ),
        (
            lambda a: cancel(a)["parameters"]["order_by"].update(required=True),
            "breaking: cancel_orders_by_ids: order_by required False -> True",
        ),
        (
            lambda a: cancel(a)["parameters"].update(pocket=parameter(name="pocket", required=True)),
            "breaking: cancel_orders_by_ids: parameter pocket added (a new required parameter)",
        ),
        (
            lambda a: cancel(a)["parameters"].update(pocket=parameter(name="pocket")),
            "additive: cancel_orders_by_ids: parameter pocket added (optional)",
        ),
        (
            lambda a: cancel(a)["parameters"].pop("order_by"),
            "breaking: cancel_orders_by_ids: parameter order_by removed",
        ),
        (
            lambda a: cancel(a)["rate_limit"].update(per_second=10),
            "breaking: cancel_orders_by_ids: rate limit per_second 30 -> 10 (a tighter limit)",
        ),
        (
            lambda a: cancel(a)["exactly_one_of"].append(["a", "b"]),
            "breaking: cancel_orders_by_ids: exactly one of a, b added",
        ),
        (lambda a: a["operations"].pop("cancel_orders_by_ids"), "breaking: cancel_orders_by_ids: operation removed"),
        (
            lambda a: a["operations"].update(other=copy.deepcopy(cancel(a))),
            "additive: other: operation added (DELETE /v1/orders/uuids)",
        ),
        (lambda a: a["python"].pop("upbit_cancel.connect"), "breaking: upbit_cancel.connect: removed (a removed name)"),
        (
            lambda a: a["python"].update({"upbit_cancel.reset": function()}),
            "additive: upbit_cancel.reset: added (function)",
        ),
        (
            lambda a: a["python"].update({"upbit_cancel.connect": function()}),
            "breaking: upbit_cancel.connect: parameter timeout removed",
        ),
        (
            lambda a: a["python"].update({"upbit_cancel.connect": function(("timeout", "10.0"), ("pocket", None))}),
            "breaking: upbit_cancel.connect: parameter pocket added (a new required parameter)",
        ),
        (
            lambda a: a["python"].update({"upbit_cancel.connect": function(("timeout", "10.0"), ("pocket", "None"))}),
            "additive: upbit_cancel.connect: parameter pocket added (optional)",
        ),
        (
            lambda a: a["python"].update({"upbit_cancel.connect": function(("timeout", "10.0"), returns="int")}),
            "breaking: upbit_cancel.connect: returns None -> int",
        ),
    ],
)
def test_each_change_is_named_with_whether_it_breaks_callers(edit: Any, expected: str) -> None:
    found = changed(edit)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_literal_type_that_gains_a_value_names_it_as_breaking() -> None:
    before = report()
    before["python"]["upbit_cancel.FailureReason"] = {
        "kind": "attribute",
        "annotation": None,
        "value": "Literal['a', 'b']",
    }
    after = copy.deepcopy(before)
    after["python"]["upbit_cancel.FailureReason"]["value"] = "Literal['a', 'c', 'b']"
    assert [str(change) for change in api_report.compare(before, after)] == [
        "breaking: upbit_cancel.FailureReason: Literal values 'c' added (callers may pass or meet other values)"
    ]


def test_a_change_of_the_spec_version_alone_needs_no_bump() -> None:
    after = report()
    after["spec"]["version"] = "1.1"
    changes = api_report.compare(report(), after)
    assert [change.level for change in changes] == [Level.NONE]
    _, problems = api_report.check(committed(report()), after, CHANGELOG, "2.0.0")
    assert len(problems) == 2 and "make api" in problems[-1] and "make version" not in problems[-1]


def committed(api: dict[str, Any], pending: Pending | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(api_report.render_json(api, pending or Pending("2.0.0", Level.NONE, ())))
    return data


def tighter() -> dict[str, Any]:
    after = report()
    cancel(after)["parameters"]["uuids"]["maxItems"] = 10
    return after


def test_the_gate_fails_on_a_breaking_change_naming_it_and_asking_for_the_next_major() -> None:
    changes, problems = api_report.check(committed(report()), tighter(), CHANGELOG, "2.0.0")
    text = "\n".join(problems)
    assert [change.level for change in changes] == [Level.BREAKING]
    assert "breaking: cancel_orders_by_ids: uuids maxItems 20 -> 10" in text
    assert "version 3.0.0 or later" in text and "`make api`" in text and "`make version V=3.0.0`" in text


def test_with_the_major_bump_the_gate_still_asks_for_make_api_but_not_for_a_version() -> None:
    _, problems = api_report.check(committed(report()), tighter(), CHANGELOG, "3.0.0")
    text = "\n".join(problems)
    assert "`make api`" in text and "make version" not in text


def test_after_make_api_the_gate_asks_for_the_bump_until_it_is_made() -> None:
    pending = Pending.from_json(None, "2.0.0").then("2.0.0", api_report.compare(report(), tighter()))
    assert pending.requires == "3.0.0"
    accepted = committed(tighter(), pending)
    _, problems = api_report.check(accepted, tighter(), CHANGELOG, "2.0.0")
    assert len(problems) == 2 and "version 3.0.0 or later" in problems[0] and "V=3.0.0" in problems[1]
    assert api_report.check(accepted, tighter(), CHANGELOG, "3.0.0") == ([], [])


def test_an_additive_change_needs_a_minor_bump_and_a_later_breaking_one_a_major() -> None:
    added = report()
    added["python"]["upbit_cancel.reset"] = function()
    first = Pending.from_json(None, "2.0.0").then("2.0.0", api_report.compare(report(), added))
    assert first.requires == "2.1.0"
    _, problems = api_report.check(committed(report()), added, CHANGELOG, "2.1.0")
    assert problems and "make version" not in "\n".join(problems)
    both = copy.deepcopy(added)
    cancel(both)["parameters"]["uuids"]["maxItems"] = 10
    second = first.then("2.0.0", api_report.compare(added, both))
    assert second.requires == "3.0.0" and len(second.changes) == 2


def test_a_release_in_the_changelog_starts_the_count_again() -> None:
    pending = Pending("2.0.0", Level.BREAKING, ("breaking: x",))
    released = CHANGELOG.replace("## [2.0.0]", "## [3.0.0] - 2026-12-01\n\n## [2.0.0]")
    assert api_report.last_release(released) == "3.0.0"
    assert api_report.check(committed(tighter(), pending), tighter(), released, "3.0.0") == ([], [])
    added = tighter()
    added["python"]["upbit_cancel.reset"] = function()
    _, problems = api_report.check(committed(tighter(), pending), added, released, "3.0.0")
    assert "version 3.1.0 or later" in "\n".join(problems)


def test_the_changes_go_under_unreleased_in_one_subsection_and_releases_are_untouched() -> None:
    first = api_report.compare(report(), tighter())
    once = api_report.add_to_changelog(CHANGELOG, first)
    added = tighter()
    added["python"]["upbit_cancel.reset"] = function()
    twice = api_report.add_to_changelog(once, api_report.compare(tighter(), added))
    unreleased, released = twice.split("## [2.0.0]")
    assert released == CHANGELOG.split("## [2.0.0]")[1]
    assert unreleased.count(api_report.CHANGES_HEADING) == 1
    section = unreleased.split(api_report.CHANGES_HEADING)[1]
    assert section.strip().splitlines() == [
        "- breaking: cancel_orders_by_ids: uuids maxItems 20 -> 10 (a tighter limit)",
        "- additive: upbit_cancel.reset: added (function)",
    ]
    assert "### Fixed\n- something." in unreleased
    assert api_report.add_to_changelog(CHANGELOG, []) == CHANGELOG


def test_the_report_is_the_same_for_the_same_api_whatever_the_order_it_was_read_in() -> None:
    api = report()
    shuffled = {**api, "python": dict(reversed(list(api["python"].items())))}
    pending = Pending("2.0.0", Level.NONE, ())
    assert api_report.render_json(api, pending) == api_report.render_json(shuffled, pending)


def test_the_committed_report_holds_no_paths_or_line_numbers() -> None:
    text = (ROOT / "api" / "report.json").read_text(encoding="utf-8")
    assert str(ROOT) not in text and "lineno" not in text and "/work/" not in text and "/tmp/" not in text
    data = json.loads(text)
    assert list(data["python"]) == sorted(data["python"])
    assert {"upbit_auth", "upbit_cancel", "upbit_client", "upbit_sandbox"} <= set(data["python"])
    assert data["operations"]["cancel_orders_by_ids"]["parameters"]["uuids"]["maxItems"] >= 1


def test_on_a_copy_of_the_tree_a_lower_max_items_fails_the_gate_until_make_api_and_a_major_bump(
    tmp_path: Path,
) -> None:
    """The wiring end to end, on the real code: the registry as `make generate` would leave it."""
    import shutil
    import subprocess
    import sys

    for name in ("generated", "auth_plugin", "cancel", "sandbox", "tools", "api", "docs"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("CHANGELOG.md", "README.md", "pyproject.toml"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    registry = tmp_path / "generated" / "upbit_client" / "registry.py"
    source = registry.read_text(encoding="utf-8")
    committed = json.loads((ROOT / "api" / "report.json").read_text(encoding="utf-8"))
    before = committed["operations"]["cancel_orders_by_ids"]["parameters"]["uuids"]["maxItems"]
    registry.write_text(source.replace(f"max_items={before},", "max_items=3,", 1), encoding="utf-8")

    def tool(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(tmp_path / "tools" / argv[0]), *argv[1:]]
        return subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)

    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    needed = api_report.bump(api_report.last_release(changelog), Level.BREAKING)
    version = api_report.project_version((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    failed = tool("api_report.py", "check")
    assert failed.returncode == 1
    assert f"breaking: cancel_orders_by_ids: uuids maxItems {before} -> 3 (a tighter limit)" in failed.stderr
    bump_needed = Version(version) < Version(needed)
    assert (f"`make version V={needed}`" in failed.stderr) == bump_needed, failed.stderr
    assert tool("api_report.py", "write").returncode == 0
    assert f"uuids maxItems {before} -> 3" in (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8")
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "to 3<!-- spec: cancel_orders_by_ids.uuids.maxItems --> uuids" in readme
    if bump_needed:
        assert tool("api_report.py", "check").returncode == 1
        assert tool("version.py", needed).returncode == 0
    passed = tool("api_report.py", "check")
    assert passed.returncode == 0, passed.stderr


def with_generated_calls(api: dict[str, Any], *params: tuple[str, str | None]) -> dict[str, Any]:
    """``api`` with the four generated functions of ``cancel_orders_by_ids``, each taking ``params``."""
    for name in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
        api["python"][f"upbit_client.api.order.cancel_orders_by_ids.{name}"] = function(("uuids", "UNSET"), *params)
    return api


def test_a_new_optional_parameter_is_one_changelog_line_naming_the_generated_functions() -> None:
    before = with_generated_calls(report())
    after = with_generated_calls(report(), ("note", "UNSET"))
    cancel(after)["parameters"]["note"] = parameter(name="note", type="string")
    changes = api_report.compare(before, after)
    assert len(changes) == 5  # the gate names every place
    section = api_report.add_to_changelog(CHANGELOG, changes).split(api_report.CHANGES_HEADING)[1]
    assert section.split("\n## ")[0].strip().splitlines() == [
        "- additive: cancel_orders_by_ids: parameter note added (optional); "
        "generated asyncio, asyncio_detailed, sync, sync_detailed follow"
    ]


def test_a_change_of_the_generated_functions_alone_is_one_line_for_all_of_them() -> None:
    before = with_generated_calls(report())
    after = with_generated_calls(report(), ("trace", "None"))
    assert api_changelog_lines(before, after) == [
        "additive: cancel_orders_by_ids (generated asyncio, asyncio_detailed, sync, sync_detailed): "
        "parameter trace added (optional)"
    ]


def api_changelog_lines(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    import api_changelog

    return api_changelog.lines(api_report.compare(before, after))


def model(*fields: str) -> dict[str, Any]:
    """A generated model's entries: its attributes and ``__init__``."""
    path = "upbit_client.models.cancel_orders_result.CancelOrdersResult"
    entries: dict[str, Any] = {path: {"kind": "class", "bases": []}}
    for name in fields:
        entries[f"{path}.{name}"] = {
            "kind": "attribute",
            "annotation": "CancelOrdersGroup | None | Unset",
            "value": None,
        }
    init = function(*((name, "UNSET") for name in fields))
    entries[f"{path}.__init__"] = init
    return entries


def test_a_renamed_response_field_is_named_breaking_with_its_migration_not_removed_and_added() -> None:
    before, after = report(), report()
    before["python"].update(model("success", "failed"))
    after["python"].update(model("success", "failures"))
    found = [str(change) for change in api_report.compare(before, after)]
    assert found == [
        "breaking: upbit_client.models.cancel_orders_result.CancelOrdersResult: failed renamed to failures "
        "(migrate: .failed -> .failures)",
        "breaking: upbit_client.models.cancel_orders_result.CancelOrdersResult.__init__: parameter failed renamed "
        "to failures (migrate: failed= -> failures=)",
    ]
    changelog = api_changelog_lines(before, after)
    assert changelog == [found[0]]  # the class's own rename says it: its __init__ follows


def test_two_names_gone_and_two_come_are_not_guessed_as_renames() -> None:
    before, after = report(), report()
    before["python"].update(model("success", "failed"))
    after["python"].update(model("succeeded", "failures"))
    found = "\n".join(str(change) for change in api_report.compare(before, after))
    assert "renamed" not in found and "failed: removed" in found and "failures: added" in found


def test_a_renamed_operation_parameter_is_named_with_its_migration() -> None:
    after = report()
    cancel(after)["parameters"]["sort"] = cancel(after)["parameters"].pop("order_by")
    assert changed(lambda a: a.update(after)) == [
        "breaking: cancel_orders_by_ids: parameter order_by renamed to sort (migrate: order_by= -> sort=)"
    ]


def literal_alias(value: str, values: list[str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": "attribute", "annotation": "TypeAlias", "value": value}
    if values is not None:
        entry["values"] = values
    return entry


def test_a_literal_now_made_from_a_generated_enum_with_the_same_values_needs_no_bump() -> None:
    before, after = report(), report()
    before["python"]["upbit_cancel.OpenState"] = {
        "kind": "attribute",
        "annotation": None,
        "value": "Literal['wait', 'watch']",
    }
    after["python"]["upbit_cancel.OpenState"] = literal_alias("OpenOrderState", ["'wait'", "'watch'"])
    (change,) = api_report.compare(before, after)
    assert change.level is Level.NONE and "the same values" in str(change)
    after["python"]["upbit_cancel.OpenState"]["values"].append("'prewait'")
    assert [str(change) for change in api_report.compare(before, after)] == [
        "breaking: upbit_cancel.OpenState: Literal values 'prewait' added (callers may pass or meet other values)"
    ]


def test_an_annotation_added_where_the_type_was_inferred_is_additive() -> None:
    before, after = report(), report()
    before["python"]["upbit_cancel.Pacer.store"] = {"kind": "attribute", "annotation": None, "value": None}
    after["python"]["upbit_cancel.Pacer.store"] = {"kind": "attribute", "annotation": "str | None", "value": None}
    assert [str(change) for change in api_report.compare(before, after)] == [
        "additive: upbit_cancel.Pacer.store: annotated str | None (type checkers inferred its type before)"
    ]


def test_the_public_types_made_from_generated_enums_carry_their_values_in_the_report() -> None:
    python = api_report.python_api()
    assert python["upbit_cancel.OpenState"]["values"] == ["'wait'", "'watch'"]
    assert python["upbit_cancel.OrderState"]["values"] == ["'wait'", "'watch'", "'done'", "'cancel'"]
    assert "values" not in python["upbit_cancel.FailureReason"]  # written out: its value says it


def test_a_generated_enums_value_set_follows_its_literal_in_the_changelog() -> None:
    module = "upbit_client.models.open_order_state"
    before, after = report(), report()
    for api, values in ((before, "'wait', 'watch'"), (after, "'wait', 'watch', 'prewait'")):
        api["python"][f"{module}.OpenOrderState"] = literal_alias(f"Literal[{values}]")
        api["python"][f"{module}.OPEN_ORDER_STATE_VALUES"] = literal_alias("{" + values + "}")
    assert len(api_report.compare(before, after)) == 2  # the gate names both
    assert api_changelog_lines(before, after) == [
        f"breaking: Literal values 'prewait' added (callers may pass or meet other values): {module}.OpenOrderState"
    ]


def test_the_types_that_gain_the_same_value_share_one_changelog_line() -> None:
    before, after = report(), report()
    for name in ("upbit_client.models.open_order_state.OpenOrderState", "upbit_cancel.OpenState"):
        before["python"][name] = literal_alias("Literal['wait', 'watch']")
        after["python"][name] = literal_alias("OpenOrderState", ["'wait'", "'watch'", "'prewait'"])
    assert api_changelog_lines(before, after) == [
        "breaking: Literal values 'prewait' added (callers may pass or meet other values): "
        "upbit_cancel.OpenState, upbit_client.models.open_order_state.OpenOrderState"
    ]

"""``make generate``: atomic, refuses what it cannot enforce, small template overrides, stamped output."""

from __future__ import annotations

import difflib
import hashlib
import re
import shutil
from pathlib import Path

import openapi_python_client
import pytest
import yaml

from tests.generation_support import ROOT, run_generate

GENERATED = ROOT / "generated" / "upbit_client"
TEMPLATES = ROOT / "templates" / f"openapi-python-client-{openapi_python_client.__version__}"
UPSTREAM_TEMPLATES = Path(openapi_python_client.__file__).parent / "templates"
TEMPLATE_DIFF_CEILING = 150
"""The most lines the overrides may differ from the pinned generator's own templates (issue 11)."""

SPEC_WITH_ONE_PARAMETER = """\
openapi: 3.0.3
info: {title: One parameter, version: "1.0"}
paths:
  /v1/x:
    get:
      operationId: getX
      parameters:
        - PARAMETER
      responses:
        "200": {description: ok}
components:
  schemas:
    Text: {type: string}
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture
def committed_copy(tmp_path: Path) -> Path:
    """A copy of the committed output, to regenerate over."""
    output = tmp_path / "out" / "upbit_client"
    shutil.copytree(GENERATED, output, ignore=shutil.ignore_patterns("__pycache__"))
    return output


def spec_with(tmp_path: Path, parameter: str) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_WITH_ONE_PARAMETER.replace("PARAMETER", parameter))
    return spec


def test_a_broken_ref_fails_and_leaves_the_output_byte_identical(tmp_path: Path, committed_copy: Path) -> None:
    text = (ROOT / "openapi.yaml").read_text()
    assert text.count('$ref: "#/components/schemas/OrderIdText"') >= 2  # the first one is the cancel's uuids[]
    spec = tmp_path / "openapi.yaml"
    spec.write_text(text.replace('$ref: "#/components/schemas/OrderIdText"', '$ref: "#/components/schemas/Nope"', 1))
    before = snapshot(committed_copy)
    result = run_generate(spec, committed_copy)
    assert result.returncode != 0
    # The first reference in the document is named by its location (which operation comes first may change).
    assert re.search(r"paths\./v1/orders/uuids\.(get|delete)\.parameters\[\d+\]\.schema\.items", result.stderr)
    assert "'#/components/schemas/Nope' does not resolve" in result.stderr
    assert snapshot(committed_copy) == before
    assert sorted(path.name for path in committed_copy.parent.iterdir()) == ["upbit_client"]


def test_a_failing_post_hook_leaves_the_output_byte_identical(tmp_path: Path, committed_copy: Path) -> None:
    """A crash after the generator has started writing (here: a post hook that fails) changes nothing."""
    config = tmp_path / "config.yaml"
    config.write_text((ROOT / "generator-config.yaml").read_text() + '  - "ruff check --isolated --select=ALL ."\n')
    before = snapshot(committed_copy)
    result = run_generate(ROOT / "openapi.yaml", committed_copy, config)
    assert result.returncode != 0
    assert "ruff failed" in result.stderr
    assert snapshot(committed_copy) == before


REFUSED: list[tuple[str, str, str]] = [
    ("multipleOf", "{name: n, in: query, schema: {type: integer, multipleOf: 2}}", "multipleOf on parameter 'n'"),
    (
        "unknown format",
        "{name: e, in: query, schema: {type: string, format: email}}",
        "format 'email' of parameter 'e'",
    ),
    ("unknown extension", "{name: n, in: query, x-secret: 1, schema: {type: string}}", "x-secret on parameter 'n'"),
    ("allowEmptyValue", "{name: n, in: query, allowEmptyValue: true, schema: {type: string}}", "allowEmptyValue"),
    ("explode false", "{name: a, in: query, explode: false, schema: {type: array, items: {type: string}}}", "explode"),
    ("cookie", "{name: c, in: cookie, schema: {type: string}}", "parameter 'c' is in 'cookie'"),
    ("object", "{name: o, in: query, schema: {type: object}}", "type 'object' of parameter 'o'"),
    ("oneOf", "{name: u, in: query, schema: {oneOf: [{type: string}]}}", "oneOf on parameter 'u'"),
    (
        "unknown key beside a $ref",
        '{name: t, in: query, schema: {$ref: "#/components/schemas/Text", multipleOf: 3}}',
        "multipleOf on parameter 't'",
    ),
    ("a default that breaks the rule", "{name: d, in: query, schema: {type: integer, maximum: 5, default: 9}}", "9"),
]


@pytest.mark.parametrize(("case", "parameter", "named"), REFUSED, ids=[case for case, _, _ in REFUSED])
def test_a_keyword_the_sdk_cannot_enforce_stops_generation_naming_it(
    tmp_path: Path, case: str, parameter: str, named: str
) -> None:
    output = tmp_path / "out" / "upbit_client"
    result = run_generate(spec_with(tmp_path, parameter), output)
    assert result.returncode == 1, result.stdout
    assert "paths./v1/x.get.parameters[0]" in result.stderr
    assert named in result.stderr
    assert not output.exists()


def test_a_spec_that_only_uses_known_keywords_generates(tmp_path: Path) -> None:
    """The refusals above are about the keyword, not the little spec around it."""
    output = tmp_path / "out" / "upbit_client"
    result = run_generate(spec_with(tmp_path, "{name: n, in: query, schema: {type: integer, maximum: 5}}"), output)
    assert result.returncode == 0, result.stderr
    assert "maximum=5" in (output / "registry.py").read_text()


def test_a_documented_default_is_carried_into_the_registry(tmp_path: Path) -> None:
    """What the exchange assumes for a parameter not sent is a rule of the API: the sandbox reads it from here."""
    output = tmp_path / "out" / "upbit_client"
    parameter = "{name: n, in: query, schema: {type: integer, maximum: 5, default: 3}}"
    result = run_generate(spec_with(tmp_path, parameter), output)
    assert result.returncode == 0, result.stderr
    assert "default=3" in (output / "registry.py").read_text()


def changed_lines(override: Path) -> int:
    upstream = UPSTREAM_TEMPLATES / override.relative_to(TEMPLATES)
    assert upstream.exists(), f"{override} overrides no template of the generator"
    diff = difflib.unified_diff(upstream.read_text().splitlines(), override.read_text().splitlines(), lineterm="")
    return sum(1 for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))


def test_the_template_overrides_stay_within_the_diff_ceiling() -> None:
    overrides = sorted(path for path in TEMPLATES.rglob("*.jinja"))
    assert overrides, "no overrides found: is the pinned generator installed?"
    total = sum(changed_lines(path) for path in overrides)
    assert 0 < total <= TEMPLATE_DIFF_CEILING, f"{total} changed lines (ceiling {TEMPLATE_DIFF_CEILING})"


def test_every_override_says_why() -> None:
    for override in TEMPLATES.rglob("*.jinja"):
        assert "Upbit SDK" in override.read_text(), f"{override.name} has no comment saying why it differs"


def test_every_generated_file_names_the_generator_and_only_spec_py_holds_the_hash() -> None:
    """A spec change changes spec.py (and what it really changes), not the first line of every file."""
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    digest = hashlib.sha256((ROOT / "openapi.yaml").read_bytes()).hexdigest()
    expected = f"# Generated by openapi-python-client {openapi_python_client.__version__} "
    for source in GENERATED.rglob("*.py"):
        text = source.read_text()
        assert text.splitlines()[0].startswith(expected), source
        assert (digest[:16] in text) == (source.name == "spec.py"), source
    spec = (GENERATED / "spec.py").read_text()
    assert f'SPEC_SHA256: str = "{digest}"' in spec
    assert f'SPEC_VERSION: str = "{document["info"]["version"]}"' in spec


def test_the_runtime_modules_are_copied_unchanged_below_the_header() -> None:
    for name in ("rules.py", "fast_request.py", "sdk_errors.py"):
        copy = (GENERATED / name).read_text()
        assert copy.split("\n", 1)[1] == (ROOT / "runtime" / "upbit_client_runtime" / name).read_text()

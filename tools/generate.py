"""Regenerate ``generated/upbit_client`` from ``openapi.yaml`` with the pinned openapi-python-client.

Atomic: the generator, its post hooks and the extra files below are run in a temporary folder;
``generated/upbit_client`` is replaced only when all of it succeeded, so a broken spec or template
leaves the committed output byte-identical. Errors name the spec location.

Besides the generator's own output this writes into the package:

- ``sdk_errors.py``, ``rules.py``, ``fast_request.py``: copies of ``runtime/upbit_client_runtime/``
  (plain Python, linted, typed and tested there);
- ``spec.py``: ``SPEC_TITLE``, ``SPEC_VERSION`` (``info.version``) and ``SPEC_SHA256`` of the spec;
- ``servers.py``: ``SERVERS`` and ``DEFAULT_SERVER``, with no import (so the command's ``--help`` loads no attrs);
- ``registry.py``: one table of the spec's operations (method, path, function module, parameter
  rules, rate-limit group, error names per status, the success example) and the servers, read by
  ``tools/spec_rules.py``, which refuses any parameter keyword it cannot enforce.

Every generated file starts with a header naming the generator version. Each parameter's docstring
states its rules, worded from the registry (``ParameterRule.describe``), and each operation's its
rate limit: the docs change with the spec.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "runtime"))

import openapi_python_client  # noqa: E402
from jinja2 import FileSystemBytecodeCache  # noqa: E402
from openapi_python_client import Project  # noqa: E402
from openapi_python_client.config import Config, ConfigFile, MetaType  # noqa: E402
from openapi_python_client.parser import GeneratorData  # noqa: E402
from openapi_python_client.parser.openapi import Endpoint  # noqa: E402
from openapi_python_client.schema.untrusted_string import UntrustedString  # noqa: E402
from openapi_python_client.strings import PythonIdentifier  # noqa: E402
from ruamel.yaml import YAML  # noqa: E402

from spec_rules import SpecError, flatten_parameters, operation_record  # noqa: E402
from upbit_client_runtime.rules import Operation  # noqa: E402

PINNED_GENERATOR = "0.29.1"
TEMPLATES = ROOT / "templates" / f"openapi-python-client-{PINNED_GENERATOR}"
RUNTIME = ROOT / "runtime" / "upbit_client_runtime"
RUNTIME_MODULES = ("sdk_errors.py", "rules.py", "fast_request.py")


def operation_records(project: Project, document: dict[str, Any]) -> list[tuple[str, Endpoint, Operation]]:
    """Every endpoint the generator made, with its registry row, by the name of its generated module."""
    records = []
    prefix = project.config.field_prefix
    for tag, collection in project.openapi.endpoint_collections_by_tag.items():
        for endpoint in collection.endpoints:
            module_name = PythonIdentifier(endpoint.name, prefix)
            python_names = {
                (where, prop.name.get_untrusted_value()): str(prop.python_name)
                for where, props in (
                    ("query", endpoint.query_parameters),
                    ("path", endpoint.path_parameters),
                    ("header", endpoint.header_parameters),
                )
                for prop in props
            }
            record = operation_record(
                document,
                endpoint.path.get_untrusted_value(),
                endpoint.method,
                f"{project.package_name}.api.{tag}.{module_name}",
                python_names,
            )
            records.append((str(module_name), endpoint, record))
    return sorted(records, key=lambda found: found[0])


def _one_paragraph(text: object) -> str:
    return " ".join(str(text or "").split())


def document_rules(endpoint: Endpoint, record: Operation, document: dict[str, Any]) -> None:
    """State the spec's rules in the generated docstrings: each parameter's (after the spec's own
    description of it) and the operation's rate limit, worded by the registry's rule classes."""
    spec_parameters = document["paths"][record.path][record.method.lower()].get("parameters", [])
    said = {(str(p.get("in")), str(p.get("name"))): _one_paragraph(p.get("description")) for p in spec_parameters}
    rules = {rule.python_name: rule for rule in record.parameters}
    for attribute in ("query_parameters", "path_parameters", "header_parameters"):
        documented = []
        for prop in getattr(endpoint, attribute):
            rule = rules.get(str(prop.python_name))
            if rule is not None:
                rules_text = rule.describe(record.exactly_one_of, record.at_most_one_of)
                parts = (said.get((rule.location, rule.wire_name)), rules_text)
                text = " ".join(part for part in parts if part)
                prop = attrs.evolve(prop, description=text)
            documented.append(prop)
        setattr(endpoint, attribute, documented)
    if record.rate_limit is not None:
        said_before = endpoint.description.get_untrusted_value().rstrip() if endpoint.description else ""
        rate = f"Rate limit: {record.rate_limit.describe()}."
        endpoint.description = UntrustedString(f"{said_before}\n\n{rate}" if said_before else rate)


def _server_lines(document: dict[str, Any]) -> list[str]:
    """``SERVERS`` and ``DEFAULT_SERVER`` of ``document``, as written in both ``servers.py`` and ``registry.py``."""
    servers = {
        str(server["x-upbit-region"]): str(server["url"])
        for server in document.get("servers", [])
        if "x-upbit-region" in server
    }
    default_server = str(document["servers"][0]["url"]) if document.get("servers") else None
    return [
        f"SERVERS: dict[str, str] = {servers!r}",
        '"""Region code (``x-upbit-region``) -> base URL, as listed under ``servers``."""',
        "",
        f"DEFAULT_SERVER: str | None = {default_server!r}",
        '"""The first server of the OpenAPI document."""',
        "",
    ]


def servers_source(document: dict[str, Any]) -> str:
    """``servers.py``: the document's servers with no import, so the command's ``--help`` loads no attrs.

    ``registry.py`` holds the same two values (its public names, unchanged); both are rendered here from
    the one document, so they cannot differ.
    """
    header = '"""The servers of the OpenAPI document, importing nothing. Rendered by tools/generate.py."""'
    return "\n".join([header, "", *_server_lines(document)])


def registry_source(records: list[tuple[str, Endpoint, Operation]], document: dict[str, Any]) -> str:
    """``registry.py``: the operations of ``document`` as the generator named them."""
    lines = [
        '"""The operations of the OpenAPI document, one row each, and its servers.',
        "",
        "Each row: method, path, the generated function module, every parameter rule (checked before",
        "sending), the rate-limit group (``x-rate-limit``), the error names per status",
        "(``x-error-names``) and the documented success example. Rendered by tools/generate.py.",
        '"""',
        "",
        "from .rules import Operation, ParameterRule, RateLimit, ValueRule",
        "",
        *_server_lines(document),
        "OPERATIONS: dict[str, Operation] = {",
        *(f"    {name!r}: {record!r}," for name, _, record in records),
        "}",
        '"""Every operation of the document, by the name of its generated module."""',
        "",
    ]
    return "\n".join(lines)


class UpbitProject(Project):
    """The generator's project, plus the registry (written before the post hooks format it)."""

    document: dict[str, Any]
    spec_bytes: bytes

    def _build_api(self) -> None:
        records = operation_records(self, self.document)
        for _, endpoint, record in records:
            document_rules(endpoint, record, self.document)
        super()._build_api()
        (self.package_dir / "registry.py").write_text(registry_source(records, self.document), encoding="utf-8")
        (self.package_dir / "spec.py").write_text(spec_source(self.spec_bytes, self.document), encoding="utf-8")
        (self.package_dir / "servers.py").write_text(servers_source(self.document), encoding="utf-8")


def spec_source(spec: bytes, document: dict[str, Any]) -> str:
    """``spec.py``: which document the package was generated from (the one file its hash changes)."""
    info = document.get("info", {})
    return "\n".join(
        [
            '"""The OpenAPI document this package was generated from. Rendered by tools/generate.py."""',
            "",
            f"SPEC_TITLE: str = {str(info.get('title', ''))!r}",
            '"""``info.title`` of the document."""',
            "",
            f"SPEC_VERSION: str = {str(info.get('version', ''))!r}",
            '"""``info.version`` of the document."""',
            "",
            f"SPEC_SHA256: str = {hashlib.sha256(spec).hexdigest()!r}",
            '"""SHA-256 of the document as it was read (its bytes), in hex digits."""',
            "",
        ]
    )


def header(spec: Path) -> str:
    # No hash here: a change of the spec changes spec.py (SPEC_SHA256), not the first line of every file.
    return (
        f"# Generated by openapi-python-client {PINNED_GENERATOR} and tools/generate.py from {spec.name}. "
        "Do not edit: run make generate.\n"
    )


def build(spec: Path, config_path: Path, package_dir: Path) -> None:
    """Generate the package into ``package_dir`` (which must not exist); SpecError on any problem."""
    raw = YAML(typ="safe").load(spec.read_bytes())
    if not isinstance(raw, dict):
        raise SpecError(str(spec), "is not an OpenAPI document (not a mapping)")
    document = flatten_parameters(raw)
    config = Config.from_sources(
        ConfigFile.load_from_path(config_path), MetaType.NONE, spec, "utf-8", True, output_path=package_dir
    )
    openapi = GeneratorData.from_dict(document, config=config)
    if not isinstance(openapi, GeneratorData):
        raise SpecError(str(spec), f"{openapi.header}\n{openapi.detail or ''}")
    project = UpbitProject(openapi=openapi, config=config, custom_template_path=TEMPLATES)
    # Compiled templates are cached by their source's checksum: the same output, half the time.
    cache = Path(tempfile.gettempdir()) / f"upbit-generate-jinja-{os.getuid()}"
    cache.mkdir(mode=0o700, exist_ok=True)
    project.env.bytecode_cache = FileSystemBytecodeCache(str(cache))
    project.document = document
    project.spec_bytes = spec.read_bytes()
    problems = project.build()
    # Treat warnings as failures too: a skipped endpoint (e.g. a broken $ref) is only a warning to the generator.
    if problems:
        details = [f"{problem.level.name}: {problem.header}\n{problem.detail or ''}" for problem in problems]
        raise SpecError(str(spec), "\n".join(details))
    for name in RUNTIME_MODULES:  # after the post hooks: copied as they are, not re-formatted
        shutil.copyfile(RUNTIME / name, package_dir / name)
    (package_dir / "py.typed").write_text("")
    shutil.rmtree(package_dir / ".ruff_cache", ignore_errors=True)
    first_line = header(spec)
    for source in package_dir.rglob("*.py"):
        source.write_text(first_line + source.read_text(encoding="utf-8"), encoding="utf-8")


def replace(output: Path, built: Path) -> None:
    """Put ``built`` where ``output`` is: a copy beside it first, then two renames."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.new-", dir=output.parent))
    old = output.parent / f".{output.name}.old-{os.getpid()}"
    try:
        shutil.copytree(built, staging / output.name)
        if output.exists():
            output.rename(old)
        try:
            (staging / output.name).rename(output)
        except OSError:
            if old.exists():
                old.rename(output)  # put the previous output back before reporting the failure
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "openapi.yaml")
    parser.add_argument("--config", type=Path, default=ROOT / "generator-config.yaml")
    parser.add_argument("--output", type=Path, default=ROOT / "generated" / "upbit_client")
    args = parser.parse_args()

    if openapi_python_client.__version__ != PINNED_GENERATOR:
        print(
            f"openapi-python-client {openapi_python_client.__version__} is installed, the templates are for "
            f"{PINNED_GENERATOR}: install the pinned version (make generate does).",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="upbit-generate-") as scratch:
        built = Path(scratch) / args.output.name
        try:
            build(args.spec, args.config, built)
        except SpecError as exc:
            print(f"make generate: {exc}\n{args.output} is unchanged.", file=sys.stderr)
            return 1
        except Exception as exc:  # a template error, a crash in a hook: still leave the output alone
            print(f"make generate: {type(exc).__name__}: {exc}\n{args.output} is unchanged.", file=sys.stderr)
            return 1
        replace(args.output, built)
    print(f"Generated {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

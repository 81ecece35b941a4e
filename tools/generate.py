"""Regenerate ``generated/upbit_client`` from ``openapi.yaml`` with the pinned openapi-python-client.

The generator drops the parts of a parameter schema it does not model (``minItems``, ``maxItems``,
``pattern``...) and every ``x-`` extension, yet the SDK must refuse before sending a request the
spec says can never succeed. So this runs the generator as its CLI would, but also hands the
templates in ``templates/openapi-python-client-<version>/`` the raw spec facts they need to render
those checks. Nothing here writes Python by itself: every generated line comes from a template.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import openapi_python_client
from openapi_python_client import Project
from openapi_python_client.config import Config, ConfigFile, MetaType
from openapi_python_client.parser import GeneratorData
from ruamel.yaml import YAML

PINNED_GENERATOR = "0.29.1"
ROOT = Path(__file__).resolve().parent.parent


def _deref(document: dict[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s (``#/components/...``) until a plain node is reached."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _value_rule(document: dict[str, Any], schema: Any) -> dict[str, Any]:
    schema = _deref(document, schema) or {}
    return {
        "type": schema.get("type"),
        "min_length": schema.get("minLength"),
        "max_length": schema.get("maxLength"),
        "pattern": schema.get("pattern"),
        "enum": schema.get("enum"),
        "pattern_description": schema.get("x-pattern-description"),
    }


def operation_facts(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The request rules of one operation, in the shape the endpoint template renders."""
    operation = document["paths"][path][method]
    query = []
    for parameter in operation.get("parameters", []):
        parameter = _deref(document, parameter)
        if parameter.get("in") != "query":
            continue
        schema = _deref(document, parameter.get("schema", {}))
        rule = {
            "wire_name": parameter["name"],
            "required": bool(parameter.get("required", False)),
            "value": _value_rule(document, schema),
            "min_items": None,
            "max_items": None,
            "item": None,
        }
        if schema.get("type") == "array":
            rule["min_items"] = schema.get("minItems")
            rule["max_items"] = schema.get("maxItems")
            rule["item"] = _value_rule(document, schema.get("items"))
            rule["value"] = _value_rule(document, {})
        query.append(rule)
    rate_limit = operation.get("x-rate-limit")
    return {
        "operation_id": operation.get("operationId"),
        "query": query,
        "exactly_one_of": [list(group) for group in operation.get("x-exactly-one-of", [])],
        "rate_limit": rate_limit,
    }


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
    templates = ROOT / "templates" / f"openapi-python-client-{PINNED_GENERATOR}"

    document = YAML(typ="safe").load(args.spec.read_bytes())
    config = Config.from_sources(
        ConfigFile.load_from_path(args.config),
        MetaType.NONE,
        args.spec,
        "utf-8",
        True,
        output_path=args.output,
    )
    openapi = GeneratorData.from_dict(document, config=config)
    if not isinstance(openapi, GeneratorData):
        print(f"{openapi.header}\n{openapi.detail or ''}", file=sys.stderr)
        return 1

    # --overwrite only replaces api/ and models/: start from an empty folder so no stale file survives.
    shutil.rmtree(args.output, ignore_errors=True)
    project = Project(openapi=openapi, config=config, custom_template_path=templates)
    project.env.globals.update(
        operation_facts=lambda endpoint: operation_facts(
            document, endpoint.path.get_untrusted_value(), endpoint.method
        ),
        servers={
            str(server["x-upbit-region"]): str(server["url"])
            for server in document.get("servers", [])
            if "x-upbit-region" in server
        },
        default_server=str(document["servers"][0]["url"]) if document.get("servers") else None,
    )
    problems = project.build()
    # Treat warnings as failures too: a skipped endpoint is only a warning to the generator.
    for problem in problems:
        print(f"{problem.level.name}: {problem.header}\n{problem.detail or ''}", file=sys.stderr)
    if problems:
        return 1
    (args.output / "py.typed").write_text("")
    shutil.rmtree(args.output / ".ruff_cache", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

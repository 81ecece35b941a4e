"""``make verifytypes``: each installed package's type completeness, as a team's type checker sees it.

A team that imports the SDK type-checks its own code with mypy or pyright. A public symbol whose type
the package leaves to inference (``self.count = 0`` without an annotation, a logger without one) is
"ambiguous": checkers may infer different types, and pyright's strict mode reports it as partially
unknown in the caller's code. ``basedpyright --verifytypes PACKAGE --ignoreexternal`` scores a package
by the share of its exported symbols whose types are known; this fails when a package scores below
``MINIMUM`` and names each ambiguous symbol with its file and line.

basedpyright (pinned in requirements-dev.txt) bundles its node runtime, so this runs offline once the
venv is installed. It reads the packages as installed in the venv whose python it is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = ("upbit_cancel", "upbit_auth", "upbit_sandbox", "upbit_client")
MINIMUM = 0.99


def completeness(package: str, python: str) -> dict[str, Any]:
    """basedpyright's ``typeCompleteness`` report of ``package`` (JSON), as installed for ``python``."""
    bin_dir = str(Path(python).parent)
    tool = shutil.which("basedpyright", path=bin_dir) or "basedpyright"
    command = [tool, "--verifytypes", package, "--ignoreexternal", "--outputjson"]
    # basedpyright asks the ``python`` first on PATH for its search paths (``--pythonpath`` alone did not
    # find the venv's editable installs): that python is the venv's.
    environment = {**os.environ, "PATH": os.pathsep.join((bin_dir, os.environ.get("PATH", "")))}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    try:
        report: dict[str, Any] = json.loads(done.stdout)["typeCompleteness"]
    except (ValueError, KeyError):
        raise SystemExit(f"basedpyright --verifytypes {package} gave no report:\n{done.stdout}{done.stderr}") from None
    if not report.get("packageRootDirectory"):
        raise SystemExit(f"basedpyright did not find {package} installed for {python}")
    return report


def ambiguous(report: dict[str, Any]) -> list[str]:
    """``file:line: symbol: message`` for each error basedpyright reports on an exported symbol."""
    found: list[str] = []
    for symbol in report["symbols"]:
        for diagnostic in symbol["diagnostics"]:
            if diagnostic["severity"] != "error":
                continue
            where = diagnostic.get("file", "?")
            if "range" in diagnostic:
                where += f":{diagnostic['range']['start']['line'] + 1}"
            found.append(f"{where}: {symbol['name']}: {' '.join(diagnostic['message'].split())}")
    return sorted(set(found))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", default=list(PACKAGES))
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose packages are read")
    parser.add_argument("--minimum", type=float, default=MINIMUM)
    options = parser.parse_args(argv)
    failed = []
    for package in options.packages:
        report = completeness(package, options.python)
        score, counts = report["completenessScore"], report["exportedSymbolCounts"]
        print(f"{package}: {score:.1%} ({counts['withAmbiguousType']} ambiguous, {counts['withUnknownType']} unknown)")
        if score < options.minimum:
            failed.append(package)
            print("\n".join(f"  {line}" for line in ambiguous(report)))
    if failed:
        print(f"type completeness below {options.minimum:.0%}: {', '.join(failed)} (annotate the symbols named above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

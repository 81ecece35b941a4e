"""One version for both distributions: ``make version V=3.0.0`` writes it wherever it is held.

The SDK (``pyproject.toml``) and the sandbox (``sandbox/pyproject.toml``) ship under one version,
and each pins the other to it (the sandbox's dependency on the SDK, the SDK's ``[sandbox]`` extra).
This writes all four from one argument; without one it prints the version and fails if the four
disagree. ``tests/test_packaging.py`` checks that they agree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
# Where the version is written: (file, pattern whose group 2 is the version).
PLACES = (
    (Path("pyproject.toml"), re.compile(r'(?m)^(version = ")([^"]*)(")')),
    (Path("pyproject.toml"), re.compile(r'("upbit-order-cancel-sandbox==)([^"]*)(")')),
    (Path("sandbox") / "pyproject.toml", re.compile(r'(?m)^(version = ")([^"]*)(")')),
    (Path("sandbox") / "pyproject.toml", re.compile(r'("upbit-order-cancel==)([^"]*)(")')),
)


class VersionError(Exception):
    """The version given, or the files holding it, are not as they must be."""


def versions(root: Path = ROOT) -> list[tuple[str, str]]:
    """(place, version) for each place the version is held."""
    found = []
    for path, pattern in PLACES:
        matches = pattern.findall((root / path).read_text(encoding="utf-8"))
        if len(matches) != 1:
            raise VersionError(f"{path}: expected one match of {pattern.pattern}, found {len(matches)}")
        found.append((f"{path} {pattern.pattern}", str(matches[0][1])))
    return found


def set_version(version: str, root: Path = ROOT) -> None:
    """Write ``version`` to every place; VersionError (nothing written) if it is not a plain version."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise VersionError(f"not a version: {version!r} (expected e.g. 3.0.0)") from None
    if str(parsed) != version or len(parsed.release) != 3:
        raise VersionError(f"write the version as major.minor.micro, e.g. {parsed.base_version}: given {version!r}")
    versions(root)  # every place is there before anything is written
    texts: dict[Path, str] = {}
    for path, pattern in PLACES:
        text = texts.get(path, (root / path).read_text(encoding="utf-8"))
        texts[path] = pattern.sub(lambda match: f"{match.group(1)}{version}{match.group(3)}", text, count=1)
    for path, text in texts.items():
        (root / path).write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    try:
        if argv and argv[0]:
            set_version(argv[0])
            print(f"version {argv[0]} written to {', '.join(sorted({str(path) for path, _ in PLACES}))}")
            return 0
        found = versions()
    except VersionError as error:
        print(f"make version: {error}", file=sys.stderr)
        return 2
    distinct = {version for _, version in found}
    if len(distinct) != 1:
        lines = "\n".join(f"  {version}  {place}" for place, version in found)
        print(f"make version: the places disagree:\n{lines}", file=sys.stderr)
        return 1
    print(distinct.pop())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""One version for both distributions: ``make version V=3.0.0`` writes it wherever it is held.

The SDK (``pyproject.toml``) and the sandbox (``sandbox/pyproject.toml``) ship under one version, and
each pins the other to exactly it (the sandbox's dependency on the SDK, the SDK's ``[sandbox]`` extra:
``=={version}`` in each file, filled in at build time by ``hatch_build.py``). Each file holds the
*release* it works towards, ``release = "X.Y.Z"`` under ``[tool.hatch.metadata.hooks.custom]``; this
writes both from one argument. Without one it prints the release and this tree's build version, and
fails if the two files disagree. ``tests/test_packaging.py`` checks that they agree.

The version of a build (``build_version``), so that every build sorts after the one before it and
installing a newer wheel file upgrades the older one:

- The releases are the changelog's ``## [X.Y.Z] - date`` headings (the project has no git tags); the
  newest one was released at the commit that added its heading. N counts the commits since that
  commit (``git rev-list --count``), or since the first commit when there is no release yet.
- While the release in ``pyproject.toml`` is not yet in the changelog, a build is ``X.Y.Z.devN``
  (``3.0.0.dev42``): PEP 440 sorts it after ``.dev41`` and before the release ``3.0.0``.
- At the release commit itself a build is ``X.Y.Z``; after it, until ``make version`` names the next
  release, ``X.Y.(Z+1).devN``.
- Without git history (a tree copied without ``.git``) a build is ``X.Y.Z.dev0``. A shallow clone
  counts wrong: CI clones with the whole history. Uncommitted changes do not change N: commit
  before building a wheel you hand to someone.

The sdist records the version in ``PKG-INFO`` and in ``upbit_auth/_build_version.py`` and
``upbit_cancel/_build_version.py``, so a wheel built from the sdist (no git there) keeps it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
# Where the version is written: (file, pattern whose group 2 is the version).
PLACES = (
    (Path("pyproject.toml"), re.compile(r'(?m)^(release = ")([^"]*)(")')),
    (Path("sandbox") / "pyproject.toml", re.compile(r'(?m)^(release = ")([^"]*)(")')),
)
RELEASED = re.compile(r"(?m)^## \[(\d+\.\d+\.\d+)\]")
"""A release heading of CHANGELOG.md; the first match is the newest release."""


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


def _git(root: Path, *args: str) -> str | None:
    """git's output in ``root``, or None when git or the history is not there."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def commits_since(root: Path, heading: str | None) -> int | None:
    """Commits in HEAD's history after the one that added ``heading`` to CHANGELOG.md (all, for None)."""
    if _git(root, "rev-parse", "--verify", "--quiet", "HEAD") is None:
        return None
    if heading is None:
        count = _git(root, "rev-list", "--count", "HEAD")
    else:
        # Every commit that changed how often the heading occurs, newest first: the last one added it.
        added = (_git(root, "log", "--format=%H", "-S", heading, "--", "CHANGELOG.md") or "").split()
        count = _git(root, "rev-list", "--count", f"{added[-1]}..HEAD") if added else None
    return int(count) if count is not None else None


def build_version(root: Path = ROOT, release: str | None = None) -> str:
    """The version of a build of the tree at ``root`` working towards ``release`` (the module's rules)."""
    if release is None:
        release = versions(root)[0][1]
    released = RELEASED.findall((root / "CHANGELOG.md").read_text(encoding="utf-8"))
    newest = released[0] if released else None
    count = commits_since(root, f"## [{newest}]" if newest else None)
    if count is None:
        return f"{release}.dev0"
    if newest != release:
        return f"{release}.dev{count}"
    if count == 0:
        return release
    major, minor, micro = Version(release).release
    return f"{major}.{minor}.{micro + 1}.dev{count}"


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
    print(f"release {distinct.pop()}; a build of this tree now: {build_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Every build between releases has its own version, later than the build before it (``tools/version.py``).

A team upgrades by installing the newer wheel file over the older one; that only works when the newer
build's version sorts after the older one's, so each commit's build is ``X.Y.Z.devN``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

import version
from tests.test_packaging import build, copy_of_the_tree, run, version_of

CHANGELOG = "# Changelog\n\n## [Unreleased]\n\n## [2.0.0] - 2026-11-26\n\n## [1.0.0] - 2026-11-25\n"


def git(root: Path, *args: str) -> None:
    run("git", "-C", root, "-c", "user.name=t", "-c", "user.email=t@example.com", *args)


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "--allow-empty", "-m", message)


def test_each_commit_after_the_last_release_builds_a_later_dev_version_and_a_release_commit_builds_the_release(
    tmp_path: Path,
) -> None:
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG, encoding="utf-8")
    git(tmp_path, "init", "--quiet")
    commit(tmp_path, "the 2.0.0 release")
    seen = [version.build_version(tmp_path, "3.0.0")]
    for number in (1, 2):
        commit(tmp_path, f"work {number}")
        seen.append(version.build_version(tmp_path, "3.0.0"))
    assert seen == ["3.0.0.dev0", "3.0.0.dev1", "3.0.0.dev2"]
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG.replace("[Unreleased]\n", "[3.0.0] - 2026-12-08\n"), "utf-8")
    commit(tmp_path, "the 3.0.0 release")
    seen.append(version.build_version(tmp_path, "3.0.0"))
    commit(tmp_path, "work after the release")
    seen.append(version.build_version(tmp_path, "3.0.0"))
    assert seen[3:] == ["3.0.0", "3.0.1.dev1"]
    assert sorted(seen, key=Version) == seen, "a later build must sort after an earlier one"


def test_a_tree_without_git_history_builds_the_releases_dev0(tmp_path: Path) -> None:
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG, encoding="utf-8")
    assert version.build_version(tmp_path, "3.0.0") == "3.0.0.dev0"


@pytest.mark.slow
def test_installing_the_next_commits_wheel_file_over_the_last_upgrades_it(tmp_path: Path) -> None:
    tree = copy_of_the_tree(tmp_path / "src")
    git(tree, "init", "--quiet")
    commit(tree, "one")
    first = build(tree, tmp_path / "first")
    commit(tree, "two")
    second = build(tree, tmp_path / "second")
    assert Version(version_of(second)) > Version(version_of(first))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--quiet")
    run(*pip, first)
    run(*pip, second)  # the wheel file alone: no --upgrade, no --force-reinstall
    installed = "from importlib.metadata import version; print(version('upbit-order-cancel'))"
    assert run(python, "-c", installed).stdout.strip() == version_of(second)
    # The version written into the package at build time moved with it.
    written = subprocess.run(
        [python, "-c", "from upbit_cancel._version import __version__; print(__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert written.stdout.strip() == version_of(second)

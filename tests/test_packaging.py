"""What a team gets from the wheels: an installable SDK with its version, commands and types, nothing stale.

These build real sdists and wheels (``python -m build``, as ``make dist`` does) and install them into
a fresh virtual environment, the way another team would consume the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import upbit_client
import version
from tests.conftest import Mypy

ROOT = Path(__file__).resolve().parent.parent
# The Pythons `.ci/run` tests (make test on 3.11, make test-pythons on 3.12 and 3.13): the classifiers name these.
TESTED_MINORS = (11, 12, 13)
RELEASE = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["metadata"]["hooks"][
    "custom"
]["release"]
SKIP_IN_COPY = {
    ".git", ".venv", "dist", "build", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"
}  # fmt: skip

CONSUMER = """\
from upbit_auth import UpbitAuth
from upbit_cancel import BatchResult, UpbitAPIError, __version__, cancel_orders, connect, unwrap
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange


def cancel_one(uuid: str) -> str:
    exchange = SandboxExchange()
    transport = exchange.transport()
    with connect(access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY, httpx_args={"transport": transport}) as client:
        try:
            return repr(unwrap(cancel_orders_by_ids.sync_detailed(client=client, uuids=[uuid])).to_dict())
        except UpbitAPIError as error:
            return error.name


def cancel_many(uuids: list[str]) -> BatchResult:
    return cancel_orders(connect(environ={"UPBIT_ACCESS_KEY": "a", "UPBIT_SECRET_KEY": "b"}), uuids=uuids)


auth: UpbitAuth = UpbitAuth("access", "secret")
version: str = __version__
"""


def run(*command: str | Path, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(map(str, command))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done


def build(source: Path, outdir: Path) -> Path:
    """An sdist and a wheel built from it, as ``make dist`` does; returns the wheel."""
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", outdir, source)
    (wheel,) = outdir.glob("*.whl")
    return wheel


def version_of(wheel: Path) -> str:
    """The version a wheel's file name carries (``name-version-tags.whl``)."""
    return wheel.name.split("-")[1]


def metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()


def copy_of_the_tree(destination: Path) -> Path:
    shutil.copytree(
        ROOT,
        destination,
        ignore=lambda folder, names: [n for n in names if n in SKIP_IN_COPY or n.endswith(".egg-info")],
    )
    return destination


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the working tree, free to change."""
    return copy_of_the_tree(tmp_path_factory.mktemp("tree") / "src")


@pytest.fixture(scope="module")
def wheels(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    return {"sdk": build(tree, out / "sdk"), "sandbox": build(tree / "sandbox", out / "sandbox")}


def test_wheels_install_into_a_fresh_venv_with_version_commands_and_types(
    wheels: dict[str, Path], tmp_path: Path, mypy: Mypy
) -> None:
    venv = tmp_path / "venv"
    # No pip inside (ensurepip is slow): this interpreter's pip installs into it.
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python, bin_dir = venv / "bin" / "python", venv / "bin"
    # The README's recipe: our two wheels named as files (so no index can offer another package of
    # those names), the [sandbox] extra satisfied by the sandbox's wheel; only httpx & co. from the index.
    run(
        sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
        f"upbit-order-cancel[sandbox] @ {wheels['sdk'].as_uri()}", wheels["sandbox"],
    )  # fmt: skip
    # A copy of the tree without its git history builds as the release's .dev0 (tools/version.py).
    built = version_of(wheels["sdk"])
    assert built == f"{RELEASE}.dev0" == version_of(wheels["sandbox"])
    spec = f"openapi.yaml {upbit_client.SPEC_VERSION}, sha256 {upbit_client.SPEC_SHA256}"
    assert run(bin_dir / "upbit-cancel", "--version").stdout.strip() == f"upbit-cancel {built} ({spec})"
    assert run(bin_dir / "upbit-sandbox", "--help").stdout.startswith("usage: upbit-sandbox")
    # The version is written into the packages at build time: importing them never asks importlib.metadata.
    code = (
        "import sys, upbit_auth, upbit_cancel, upbit_client, upbit_sandbox as _;"
        "print(upbit_auth.__version__, upbit_cancel.__version__, 'importlib.metadata' in sys.modules)"
    )
    imported = run(python, "-c", code, cwd=tmp_path)
    assert imported.stdout.split() == [built, built, "False"]
    lua = "from upbit_cancel.redis_connect import lua_script; print(lua_script('take').count('redis.call'))"
    assert int(run(python, "-c", lua, cwd=tmp_path).stdout) > 0
    consumer = tmp_path / "consumer" / "app.py"
    consumer.parent.mkdir()
    consumer.write_text(CONSUMER, encoding="utf-8")
    env_free = {name: value for name, value in os.environ.items() if name != "MYPYPATH"}
    checked = mypy.strict("--python-executable", str(python), "app.py", cwd=consumer.parent, env=env_free)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_sdk_wheel_holds_the_sdk_and_not_the_sandbox(wheels: dict[str, Path]) -> None:
    names = zipfile.ZipFile(wheels["sdk"]).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"upbit_auth", "upbit_cancel", "upbit_client"}
    assert {"upbit_auth/py.typed", "upbit_cancel/py.typed", "upbit_client/py.typed"} <= set(names)
    # The Redis store's scripts are package data, read with importlib.resources.
    assert {f"upbit_cancel/lua/{name}.lua" for name in ("take", "fill", "settle", "block")} <= set(names)
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    sandbox_names = zipfile.ZipFile(wheels["sandbox"]).namelist()
    assert {name.split("/")[0] for name in sandbox_names if ".dist-info" not in name} == {"upbit_sandbox"}


def pip_wheel(source: Path, outdir: Path) -> Path:
    """``pip wheel .`` in the tree itself, as someone building by hand would (no fresh sdist in between)."""
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", outdir, source)
    (wheel,) = outdir.glob("upbit_order_cancel-*.whl")
    return wheel


def test_pip_wheel_twice_around_deleting_a_module_ships_no_stale_module(tmp_path: Path) -> None:
    tree = copy_of_the_tree(tmp_path / "src")
    module = "upbit_cancel/remaining_req.py"
    assert module in zipfile.ZipFile(pip_wheel(tree, tmp_path / "first")).namelist()
    (tree / "cancel" / module).unlink()
    second = pip_wheel(tree, tmp_path / "second")
    assert module not in zipfile.ZipFile(second).namelist()
    assert "upbit_cancel/batch.py" in zipfile.ZipFile(second).namelist()
    assert not (tree / "build").exists(), "the build backend left a build/ folder in the tree"


def test_the_sdist_carries_the_changelog_the_spec_and_the_api_report(wheels: dict[str, Path]) -> None:
    (sdist,) = wheels["sdk"].parent.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"CHANGELOG.md", "README.md", "LICENSE", "openapi.yaml", "api/report.txt", "pyproject.toml"} <= names
    assert {"generated/upbit_client/spec.py", "cancel/upbit_cancel/py.typed"} <= names
    assert not any(name.startswith(("tests/", ".venv/", "dist/")) for name in names)


def test_make_version_writes_one_release_to_both_distributions(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "sandbox/pyproject.toml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    version.set_version("9.8.7", root=tmp_path)
    assert {found for _, found in version.versions(tmp_path)} == {"9.8.7"}
    for name in ("pyproject.toml", "sandbox/pyproject.toml"):
        hook = tomllib.loads((tmp_path / name).read_text(encoding="utf-8"))["tool"]["hatch"]["metadata"]["hooks"]
        assert hook["custom"]["release"] == "9.8.7"
    before = (tmp_path / "pyproject.toml").read_text(encoding="utf-8")
    for bad in ("3", "3.0", "v3.0.0", "three"):
        with pytest.raises(version.VersionError, match=bad):
            version.set_version(bad, root=tmp_path)
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == before


def test_the_sandbox_wheel_carries_and_pins_the_sdks_version_with_a_description_and_classifiers(
    wheels: dict[str, Path],
) -> None:
    assert len({found for _, found in version.versions(ROOT)}) == 1, version.versions(ROOT)
    built = version_of(wheels["sdk"])
    sdk, sandbox = metadata(wheels["sdk"]), metadata(wheels["sandbox"])
    assert f"Version: {built}\n" in sandbox
    assert f"Requires-Dist: upbit-order-cancel=={built}\n" in sandbox
    assert f"Requires-Dist: upbit-order-cancel-sandbox=={built}; extra == 'sandbox'\n" in sdk
    for text in (sdk, sandbox):
        assert "Description-Content-Type: text/markdown" in text
        classifiers = {line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Classifier:")}
        tested = {f"Programming Language :: Python :: 3.{minor}" for minor in TESTED_MINORS}
        assert {c for c in classifiers if c.startswith("Programming Language :: Python :: 3.")} == tested
    assert "# upbit-order-cancel-sandbox" in sandbox


def test_the_pythons_ci_tests_are_the_ones_the_classifiers_name() -> None:
    # .ci/run: make test on 3.11 (asserted there), make test-pythons on the Makefile's PYTHONS.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (line,) = [line for line in makefile.splitlines() if line.startswith("PYTHONS ?= ")]
    others = [int(version.split(".")[1]) for version in line.split("= ", 1)[1].split()]
    assert (11, *others) == TESTED_MINORS
    assert "sys.version_info[:2] == (3, 11)" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test-pythons" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


# A consumer's tests of their own bot with the sandbox's pytest plugin: no conftest, nothing imported
# from the plugin, and every expression typed without Any (mypy --disallow-any-expr).
CONSUMER_TESTS = """\
from upbit_cancel import ReportDict, cancel_orders
from upbit_client import Client
from upbit_sandbox import SandboxExchange


def test_a_418_blocks_this_test(upbit_exchange: SandboxExchange, upbit_client: Client) -> None:
    upbit_exchange.faults.blocked(seconds=600)
    assert cancel_orders(upbit_client, identifiers=["demo-0001"]).blocked is not None
    assert [record.fault for record in upbit_exchange.requests] == ["blocked"]


def test_the_next_test_is_not_blocked(upbit_client: Client) -> None:
    report: ReportDict = cancel_orders(upbit_client, identifiers=["demo-0001", "demo-0002"]).to_dict()
    assert [order["identifier"] for order in report["success"]["orders"]] == ["demo-0001", "demo-0002"]
    assert [order.get("state") for order in report["failed"]["orders"]] == []
"""


@pytest.mark.slow
def test_a_consumer_project_tests_its_bot_with_the_plugin_fixtures_typed_without_any(
    wheels: dict[str, Path], tmp_path: Path, mypy: Mypy
) -> None:
    entry_points = zipfile.ZipFile(wheels["sandbox"]).read(
        next(name for name in zipfile.ZipFile(wheels["sandbox"]).namelist() if name.endswith("entry_points.txt"))
    )
    assert b"[pytest11]" in entry_points and b"upbit_sandbox.pytest_plugin" in entry_points
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    pytest_pin = f"pytest=={pytest.__version__}"
    run(
        sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
        "--find-links", wheels["sandbox"].parent, pytest_pin,
        f"upbit-order-cancel[sandbox] @ {wheels['sdk'].as_uri()}",
    )  # fmt: skip
    project = tmp_path / "bot"
    project.mkdir()
    (project / "test_bot.py").write_text(CONSUMER_TESTS, encoding="utf-8")
    ran = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_bot.py", cwd=project)
    assert "2 passed" in ran.stdout
    env_free = {name: value for name, value in os.environ.items() if name != "MYPYPATH"}
    checked = mypy.strict(
        "--python-executable", str(python), "--disallow-any-expr", "--disallow-any-explicit", "test_bot.py",
        cwd=project, env=env_free,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr

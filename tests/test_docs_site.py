"""The documentation site builds with no warning, and documents every public name of every package.

The site is built once per run, as ``make docs`` builds it (``mkdocs build --strict``), into a temporary
folder. Nothing here is skipped: without MkDocs (``requirements-dev.txt``) the build, and so every test
of this module, fails.

- Every name of each package's ``__all__`` has a heading of its own (anchor ``package.Name``) on the
  package's reference page, and so does each fixture of the sandbox's pytest plugin: a name added to
  ``__all__`` later is rendered without editing the docs (``docs/reference/*.md`` render the package,
  mkdocs.yml picks what ``__all__`` names), and a name that is not rendered fails here.
- Every page under ``docs/`` is built and linked from the site's navigation (mkdocs.yml has no ``nav:``).
- ``docs/logging.md`` names every logger the code asks for (``logging.getLogger(...)``).
- The sdist carries the site's sources.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
import sys
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest

import upbit_client.api
import upbit_sandbox.pytest_plugin

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGES = ["upbit_auth", "upbit_cancel", "upbit_client", "upbit_sandbox"]
# Where each package's source lives in this tree.
SOURCES = ["auth_plugin", "cancel", "sandbox", "generated", "runtime"]
GET_LOGGER = re.compile(r"getLogger\(\s*(?:\"([^\"]+)\"|'([^']+)'|(__name__))\s*\)")


class Anchors(HTMLParser):
    """The ids of a page's headings, and the targets of its links."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: set[str] = set()
        self.links: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and values.get("id"):
            self.headings.add(str(values["id"]))
        if tag == "a" and values.get("href"):
            self.links.add(str(values["href"]))


def read(page: Path) -> Anchors:
    parser = Anchors()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def undocumented(package: str, names: list[str], page: Anchors) -> list[str]:
    """The names of ``package`` that have no heading of their own (``package.name``) on ``page``."""
    return [name for name in names if f"{package}.{name}" not in page.headings]


def public_names(package: str) -> list[str]:
    names = list(importlib.import_module(package).__all__)
    assert names, f"{package}.__all__ is empty"
    return names


def fixture_names() -> list[str]:
    """The fixtures the sandbox's pytest plugin hands out: its ``__all__``."""
    return list(upbit_sandbox.pytest_plugin.__all__)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built strictly (any warning fails) from this tree into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"mkdocs build --strict failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    assert "WARNING" not in done.stderr, done.stderr
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_a_package_exports_has_a_heading_on_its_reference_page(site: Path, package: str) -> None:
    page = read(site / "reference" / f"{package}.html")
    assert undocumented(package, public_names(package), page) == []


def test_every_fixture_of_the_pytest_plugin_has_a_heading_on_the_sandbox_page(site: Path) -> None:
    page = read(site / "reference" / "upbit_sandbox.html")
    assert undocumented("upbit_sandbox.pytest_plugin", fixture_names(), page) == []
    assert {"upbit_exchange", "upbit_client", "upbit_async_client"} <= set(fixture_names())


def test_every_operation_of_the_generated_client_has_its_four_calls_on_the_client_page(site: Path) -> None:
    page = read(site / "reference" / "upbit_client.html")
    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(upbit_client.api.__path__, "upbit_client.api.")
    ]
    operations = [module.__name__ for module in modules if hasattr(module, "sync_detailed")]
    calls = [
        f"{name}.{call}" for name in operations for call in ("sync", "sync_detailed", "asyncio", "asyncio_detailed")
    ]
    assert len(operations) >= 4, operations
    assert [call for call in calls if call not in page.headings] == []


def test_a_name_without_its_heading_is_reported_missing() -> None:
    page = Anchors()
    page.feed('<h2 id="upbit_cancel.connect">connect</h2><h2 id="upbit_cancel.Guard.beat">beat</h2>')
    assert undocumented("upbit_cancel", ["connect", "Guard", "cancel_orders"], page) == ["Guard", "cancel_orders"]


def test_every_page_under_docs_is_built_and_in_the_navigation(site: Path) -> None:
    sources = sorted(path.relative_to(DOCS) for path in DOCS.rglob("*.md"))
    assert len(sources) >= 10, sources
    home = read(site / "index.html")
    for source in sources:
        built = source.with_suffix(".html")
        assert (site / built).is_file(), f"docs/{source} was not built"
        if built != Path("index.html"):
            assert built.as_posix() in home.links, f"docs/{source} is not in the site's navigation"


def test_the_sdist_carries_the_sites_sources() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert {"/mkdocs.yml", "/docs"} <= set(include)


def loggers_in(source: str, module: str) -> set[str]:
    """The logger names ``source`` (the text of ``module``) asks for; ``__name__`` is the module's name."""
    return {literal or quoted or module for literal, quoted, _ in GET_LOGGER.findall(source)}


def test_the_logging_page_names_every_logger_the_code_uses() -> None:
    used: dict[str, str] = {}
    for root in SOURCES:
        for path in sorted((ROOT / root).rglob("*.py")):
            parts = path.relative_to(ROOT / root).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            for name in loggers_in(path.read_text(encoding="utf-8"), module):
                used.setdefault(name, str(path.relative_to(ROOT)))
    assert {"upbit_auth", "upbit_cancel", "upbit_cancel.batch"} <= set(used), used
    page = (DOCS / "logging.md").read_text(encoding="utf-8")
    unnamed = {name: where for name, where in used.items() if f"`{name}`" not in page}
    assert unnamed == {}, f"docs/logging.md does not name these loggers (name: first file asking for it): {unnamed}"


def test_a_logger_named_by_module_or_by_string_is_found() -> None:
    source = "a = logging.getLogger(__name__)\nb = logging.getLogger(\"upbit_cancel.hooks\")\nc = getLogger('x.y')"
    assert loggers_in(source, "upbit_cancel.guard") == {"upbit_cancel.guard", "upbit_cancel.hooks", "x.y"}

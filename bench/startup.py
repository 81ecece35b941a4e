"""Section 4's second environment: the SDK as a user installs it, from its wheel, with its dependencies only.

The development venv is an editable install with every test tool beside it: trio and h2 there make
``import httpcore`` twice as slow as in a user's environment (httpcore imports them when they are
installed), and an editable install has no ``_build_version.py``. So section 4 also builds the wheel
from a fresh sdist (as ``make dist`` does, without its test gate), installs it into a new venv with
its runtime dependencies only (from ``dist/`` when ``make wheelhouse`` filled it, else from the index),
and times the same commands there.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def user_install() -> Iterator[Path | None]:
    """A fresh venv with the wheel installed; its python, or None (with the reason printed) when it cannot be made."""
    with tempfile.TemporaryDirectory(prefix="bench-user-") as folder:
        where = Path(folder)
        try:
            _build_and_install(where)
        except (subprocess.CalledProcessError, OSError) as error:
            print(f"  (the user's environment could not be built: {error}; only the development venv is timed)")
            yield None
            return
        yield where / "venv" / "bin" / "python"


def _build_and_install(where: Path) -> None:
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "timeout": 600}
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(where), str(ROOT)], **quiet)
    subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], **quiet)
    wheel = next(where.glob("upbit_order_cancel-*.whl"))
    pip = [str(where / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    house = ROOT / "dist"
    source = ["--no-index", "--find-links", str(house)] if any(house.glob("httpx-*.whl")) else []
    subprocess.run([*pip, *source, str(wheel)], **quiet)

"""The installed distribution's version, without importing anything heavy: ``X.Y.Z.devN`` between releases.

``upbit_auth.__version__`` is the same number, but importing ``upbit_auth`` imports httpx and PyJWT;
``upbit_cancel.__version__`` must stay as cheap as the lazy package face (``upbit_cancel/__init__.py``).
A wheel carries it in ``_build_version.py`` (written by ``hatch_build.py`` at build time); an editable
install reads the metadata ``pip install -e .`` wrote. The rules of the number: ``tools/version.py``.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module

DISTRIBUTION = "upbit_order_cancel"


def _installed_version() -> str:
    """The version an installer recorded, read from the name of its ``{name}-{version}.dist-info`` folder.

    An installed distribution's metadata folder carries the version in its name (the wheel spec,
    PEP 427), so one listing of each ``sys.path`` folder finds it without importing
    ``importlib.metadata`` (~100 ms). Anything else (an egg-info, a zip) falls back to it.
    """
    prefix = DISTRIBUTION + "-"
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith(prefix) and name.endswith(".dist-info"):
                return name[len(prefix) : -len(".dist-info")]
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("upbit-order-cancel")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


__version__: str
try:
    # Written at build time only (never in the tree), hence found by name rather than imported statically.
    __version__ = import_module(f"{__package__}._build_version").__version__
except ImportError:  # an editable install, or a source tree
    __version__ = _installed_version()

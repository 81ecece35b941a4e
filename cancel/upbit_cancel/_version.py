"""The installed distribution's version, without importing anything heavy: ``X.Y.Z.devN`` between releases.

``upbit_auth.__version__`` is the same number, but importing ``upbit_auth`` imports httpx and PyJWT;
``upbit_cancel.__version__`` must stay as cheap as the lazy package face (``upbit_cancel/__init__.py``).
A wheel carries it in ``_build_version.py`` (written by ``hatch_build.py`` at build time); an editable
install reads the metadata ``pip install -e .`` wrote. The rules of the number: ``tools/version.py``.
"""

from __future__ import annotations

from importlib import import_module

__version__: str
try:
    # Written at build time only (never in the tree), hence found by name rather than imported statically.
    __version__ = import_module(f"{__package__}._build_version").__version__
except ImportError:  # an editable install, or a source tree
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("upbit-order-cancel")
    except PackageNotFoundError:  # running from a source tree that was never installed
        __version__ = "0+unknown"

"""The installed distribution's version: ``X.Y.Z.devN`` between releases (``tools/version.py``).

A wheel carries it in ``_build_version.py``, written by ``hatch_build.py`` at build time, so importing
it costs nothing; an editable install (``pip install -e .``) has no such file and reads the installed
metadata instead (about 100 ms of ``importlib.metadata``), which ``pip install -e .`` wrote.
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

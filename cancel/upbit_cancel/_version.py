"""The installed distribution's version, without importing anything heavy.

``upbit_auth.__version__`` reads the same metadata, but importing ``upbit_auth`` imports httpx and
PyJWT; ``upbit_cancel.__version__`` must stay as cheap as the lazy package face
(``upbit_cancel/__init__.py``). One number, kept in ``pyproject.toml``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("upbit-order-cancel")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

"""The auth hook: ``UpbitAuth`` signs every request to Upbit with a query-hash JWT; keys and signing.

It depends on httpx, PyJWT and the generated error root only, so a team that just signs requests
needs nothing else from this project.

Use it as ``httpx_args={"auth": UpbitAuth.from_env()}`` on the generated ``upbit_client.Client``, or
on any ``httpx.Client``; ``upbit_cancel.connect()`` builds such a client for you.

The package is a lazy face (PEP 562), as ``upbit_cancel``'s is: ``import upbit_auth`` (or of its
light ``upbit_auth.variables``) loads neither httpx nor PyJWT; a name of ``__all__`` loads its module
the first time it is used, then is an ordinary attribute. Type checkers read the ``TYPE_CHECKING``
imports below, which name every export explicitly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._version import __version__
    from .auth import SecretKey, UpbitAuth, key_pair_from_env
    from .errors import MissingCredentials
    from .signing import Algorithm, build_claims, query_hash, sign
    from .variables import KEY_PAIRS, POCKET_VARIABLE

__all__ = [
    "KEY_PAIRS",
    "POCKET_VARIABLE",
    "Algorithm",
    "MissingCredentials",
    "SecretKey",
    "UpbitAuth",
    "__version__",
    "build_claims",
    "key_pair_from_env",
    "query_hash",
    "sign",
]

# Each name of ``__all__`` -> the module that defines it (``__version__``: an editable install reads
# it through ``importlib.metadata``, ~100 ms, so it too waits for its first use).
_HOMES = {
    "KEY_PAIRS": "variables",
    "POCKET_VARIABLE": "variables",
    "Algorithm": "signing",
    "MissingCredentials": "errors",
    "SecretKey": "auth",
    "UpbitAuth": "auth",
    "__version__": "_version",
    "build_claims": "signing",
    "key_pair_from_env": "auth",
    "query_hash": "signing",
    "sign": "signing",
}


def __getattr__(name: str) -> Any:
    """A name of ``__all__``, loaded from its module on first use and kept as an attribute."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

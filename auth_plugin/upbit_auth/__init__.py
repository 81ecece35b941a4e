"""The auth hook: ``UpbitAuth`` signs every request to Upbit with a query-hash JWT; keys and signing.

It depends on httpx, PyJWT and the generated error root only, so a team that just signs requests
needs nothing else from this project.

Use it as ``httpx_args={"auth": UpbitAuth.from_env()}`` on the generated ``upbit_client.Client``, or
on any ``httpx.Client``; ``upbit_cancel.connect()`` builds such a client for you.
"""

from typing import TYPE_CHECKING, Any

from .auth import KEY_PAIRS, POCKET_VARIABLE, SecretKey, UpbitAuth, key_pair_from_env
from .errors import MissingCredentials
from .signing import Algorithm, build_claims, query_hash, sign

if TYPE_CHECKING:
    from ._version import __version__

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


def __getattr__(name: str) -> Any:
    """``__version__`` on first use: an editable install reads it through ``importlib.metadata`` (~100 ms)."""
    if name == "__version__":
        from ._version import __version__

        return __version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

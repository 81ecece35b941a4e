"""The auth hook: ``UpbitAuth`` signs every request to Upbit with a query-hash JWT; keys and signing.

It depends on httpx, PyJWT and the generated error root only, so a team that just signs requests
needs nothing else from this project.

Use it as ``httpx_args={"auth": UpbitAuth.from_env()}`` on the generated ``upbit_client.Client``, or
on any ``httpx.Client``; ``upbit_cancel.connect()`` builds such a client for you.
"""

from ._version import __version__
from .auth import KEY_PAIRS, POCKET_VARIABLE, SecretKey, UpbitAuth, key_pair_from_env
from .errors import MissingCredentials
from .signing import Algorithm, build_claims, query_hash, sign

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

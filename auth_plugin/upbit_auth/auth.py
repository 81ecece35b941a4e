"""``UpbitAuth``: the httpx auth hook that signs every request to Upbit with a query-hash JWT.

It sits in httpx's auth flow, after the base URL is joined and the parameters are encoded, so
the hash covers exactly the query string that goes on the wire. Every pass through the flow
(every retry included) gets a fresh nonce, since Upbit rejects a reused one (``nonce_used``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Mapping

import httpx

from .errors import MissingCredentials
from .signing import SUPPORTED_ALGORITHMS, Algorithm, build_claims, sign

ACCESS_KEY_VARIABLES = ("UPBIT_OPEN_API_ACCESS_KEY", "UPBIT_ACCESS_KEY")
SECRET_KEY_VARIABLES = ("UPBIT_OPEN_API_SECRET_KEY", "UPBIT_SECRET_KEY")


class SecretKey:
    """Holds the secret key so that no ``repr``, ``str``, log line or traceback can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretKey('********')"

    __str__ = __repr__

    def __reduce__(self) -> str:
        raise TypeError("SecretKey cannot be pickled")


def _masked(access_key: str) -> str:
    return access_key[:4] + "…" if len(access_key) > 8 else "…"


class UpbitAuth(httpx.Auth):
    """Signs each request with ``Authorization: Bearer <JWT>`` as Upbit requires.

    Works with both ``httpx.Client`` and ``httpx.AsyncClient`` (signing does no I/O), and so with
    the generated ``upbit_client.Client`` through ``httpx_args={"auth": UpbitAuth(...)}``.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(self, access_key: str, secret_key: str, algorithm: Algorithm = "HS512") -> None:
        if not isinstance(access_key, str) or not access_key.strip():
            raise MissingCredentials("access key must be a non-empty string; given: an empty or non-string value")
        if not isinstance(secret_key, str) or not secret_key:
            raise MissingCredentials("secret key must be a non-empty string; given: an empty or non-string value")
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(SUPPORTED_ALGORITHMS)}; given: {algorithm!r}")
        self.access_key = access_key
        self.algorithm: Algorithm = algorithm
        self._secret = SecretKey(secret_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, algorithm: Algorithm = "HS512") -> UpbitAuth:
        """Read the keys from ``UPBIT_OPEN_API_ACCESS_KEY`` / ``UPBIT_OPEN_API_SECRET_KEY``.

        ``UPBIT_ACCESS_KEY`` / ``UPBIT_SECRET_KEY`` (the names the official SDK and CLI use) are
        accepted as a fallback.
        """
        env = os.environ if environ is None else environ
        access_key = next((env[name] for name in ACCESS_KEY_VARIABLES if env.get(name)), None)
        secret_key = next((env[name] for name in SECRET_KEY_VARIABLES if env.get(name)), None)
        if access_key is None or secret_key is None:
            missing = [
                f"{names[0]} (or {names[1]})"
                for names, value in ((ACCESS_KEY_VARIABLES, access_key), (SECRET_KEY_VARIABLES, secret_key))
                if value is None
            ]
            raise MissingCredentials(f"{' and '.join(missing)} not set in the environment")
        return cls(access_key, secret_key, algorithm=algorithm)

    def token_for(self, raw_query: bytes | str = b"") -> str:
        """A fresh token (new nonce) for a request whose wire query string is ``raw_query``."""
        claims = build_claims(self.access_key, str(uuid.uuid4()), raw_query)
        return sign(claims, self._secret.reveal(), self.algorithm)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token_for(request.url.query)}"
        yield request

    def __repr__(self) -> str:
        return (
            f"UpbitAuth(access_key={_masked(self.access_key)!r}, secret_key={self._secret!r}, "
            f"algorithm={self.algorithm!r})"
        )

    __str__ = __repr__

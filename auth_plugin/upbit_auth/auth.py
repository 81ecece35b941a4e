"""``UpbitAuth``: the httpx auth hook that signs every request to Upbit with a query-hash JWT.

It sits in httpx's auth flow, after the base URL is joined and the parameters are encoded, so
the hash covers exactly the query string that goes on the wire. Every pass through the flow
(every retry included) gets a fresh nonce, since Upbit rejects a reused one (``nonce_used``).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Generator, Mapping

import httpx

from .errors import MissingCredentials
from .signing import SUPPORTED_ALGORITHMS, Algorithm, build_claims, sign
from .variables import KEY_PAIRS as KEY_PAIRS
from .variables import POCKET_VARIABLE as POCKET_VARIABLE
from .variables import SECRET_KEY_VARIABLES as SECRET_KEY_VARIABLES

POCKET_EXTENSION = "upbit_pocket"
"""The httpx request extension ``UpbitAuth`` names its pocket in, for a transport below it (``PacedTransport``)."""

log: logging.Logger = logging.getLogger("upbit_auth")
log.addHandler(logging.NullHandler())


def key_pair_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str, tuple[str, str]]:
    """``(access_key, secret_key, (access_variable, secret_variable))`` from the first complete pair.

    Raises ``MissingCredentials`` naming the variables that were found (never their values) when
    no pair is complete. A half-set pair next to a complete one is ignored with a warning on the
    ``upbit_auth`` logger, since a stale variable is the usual cause of ``invalid_access_key``.
    """
    env = os.environ if environ is None else environ
    found = [name for pair in KEY_PAIRS for name in pair if env.get(name)]
    for access_name, secret_name in KEY_PAIRS:
        if env.get(access_name) and env.get(secret_name):
            ignored = [name for name in found if name not in (access_name, secret_name)]
            if ignored:
                log.warning(
                    "using %s and %s; ignoring %s (not a complete pair)", access_name, secret_name, ", ".join(ignored)
                )
            return env[access_name], env[secret_name], (access_name, secret_name)
    wanted = " or ".join(f"{access} and {secret}" for access, secret in KEY_PAIRS)
    if not found:
        raise MissingCredentials(f"no API keys in the environment: set {wanted}")
    raise MissingCredentials(
        f"no complete key pair in the environment: found only {', '.join(found)}; "
        f"set {wanted} (both keys from the same pair)"
    )


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

    Both keys are stripped of surrounding whitespace: Upbit's keys never hold any, and a key read from
    a file (``open(...).read()``, not ``$(cat ...)``) keeps its trailing newline, which would otherwise
    sign every request with the wrong secret (401 ``jwt_verification``, with nothing to show why).
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self, access_key: str, secret_key: str, algorithm: Algorithm = "HS512", *, pocket: str | None = None
    ) -> None:
        if not isinstance(access_key, str) or not access_key.strip():
            raise MissingCredentials("access key must be a non-empty string; given: an empty or non-string value")
        if not isinstance(secret_key, str) or not secret_key.strip():
            raise MissingCredentials("secret key must be a non-empty string; given: an empty or non-string value")
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(SUPPORTED_ALGORITHMS)}; given: {algorithm!r}")
        if pocket is not None and (not isinstance(pocket, str) or not pocket.strip()):
            raise ValueError(f"pocket must be a non-empty name or None; given: {pocket!r}")
        self.access_key: str = access_key.strip()
        self.algorithm: Algorithm = algorithm
        self.pocket = pocket
        """The pocket this key belongs to, as the user names it: every key named into one pocket shares its
        rate-limit budget and its 418 block (Upbit counts both per pocket). None: the key is its own pocket."""
        # The environment variables the keys were read from, when they came from the environment.
        self.key_source: tuple[str, str] | None = None
        self._secret = SecretKey(secret_key.strip())

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, algorithm: Algorithm = "HS512", *, pocket: str | None = None
    ) -> UpbitAuth:
        """Read one key pair: ``UPBIT_OPEN_API_ACCESS_KEY`` / ``UPBIT_OPEN_API_SECRET_KEY``, else
        ``UPBIT_ACCESS_KEY`` / ``UPBIT_SECRET_KEY`` (the official SDK's and CLI's names).

        Both keys come from the same pair; ``key_source`` says which variables were read. The pocket is
        ``pocket`` if given, else ``UPBIT_POCKET`` if set, else None (the key is its own pocket).
        """
        access_key, secret_key, source = key_pair_from_env(environ)
        env = os.environ if environ is None else environ
        auth = cls(access_key, secret_key, algorithm=algorithm, pocket=pocket or env.get(POCKET_VARIABLE) or None)
        auth.key_source = source
        return auth

    def token_for(self, raw_query: bytes | str = b"") -> str:
        """A fresh token (new nonce) for a request whose wire query string is ``raw_query``."""
        claims = build_claims(self.access_key, str(uuid.uuid4()), raw_query)
        return sign(claims, self._secret.reveal(), self.algorithm)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token_for(request.url.query)}"
        if self.pocket is not None:
            request.extensions[POCKET_EXTENSION] = self.pocket
        yield request

    def __repr__(self) -> str:
        return (
            f"UpbitAuth(access_key={_masked(self.access_key)!r}, secret_key={self._secret!r}, "
            f"algorithm={self.algorithm!r}" + (f", pocket={self.pocket!r})" if self.pocket is not None else ")")
        )

    __str__ = __repr__

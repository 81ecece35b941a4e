"""Helpers for the sandbox tests: hand-built JWTs and raw requests, independent of ``upbit_auth.signing``.

The sandbox is the referee for the SDK, so its tests sign requests from Upbit's documented rules directly
(PyJWT and hashlib) instead of through the code the sandbox is meant to check.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any
from urllib.parse import quote, unquote

import jwt

from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, ENDPOINT_PATH, SandboxExchange, SandboxResponse

"""A well-formed secret that is not the demo key's, for signature failures."""


def upbit_query_hash(raw_query: str) -> str:
    """Upbit's documented rule: hex SHA-512 of the wire query, plain percent-decoded (``+`` stays ``+``)."""
    return hashlib.sha512(unquote(raw_query).encode("utf-8")).hexdigest()


def make_token(
    raw_query: str = "",
    *,
    access_key: str = DEMO_ACCESS_KEY,
    secret: str = DEMO_SECRET_KEY,
    algorithm: str = "HS512",
    nonce: str | None = None,
    **extra_claims: Any,
) -> str:
    claims: dict[str, Any] = {"access_key": access_key, "nonce": nonce or str(uuid.uuid4())}
    if raw_query:
        claims["query_hash"] = upbit_query_hash(raw_query)
        claims["query_hash_alg"] = "SHA512"
    claims.update(extra_claims)
    return jwt.encode(claims, secret, algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wire_query(kind: str, ids: list[str]) -> str:
    """``kind[]=a&kind[]=b`` with brackets and values percent-encoded as a careful client sends them."""
    return "&".join(f"{quote(kind + '[]', safe='')}={quote(value, safe='')}" for value in ids)


def signed_call(
    exchange: SandboxExchange,
    raw_query: str,
    *,
    method: str = "DELETE",
    path: str = ENDPOINT_PATH,
    body: bytes = b"",
    **token_options: Any,
) -> SandboxResponse:
    """A request signed for exactly ``raw_query``, handed to the exchange as raw wire data."""
    target = f"{path}?{raw_query}" if raw_query else path
    return exchange.handle(method, target, bearer(make_token(raw_query, **token_options)), body)


def remaining_sec(response: SandboxResponse) -> int:
    return int(response.headers["Remaining-Req"].rsplit("sec=", 1)[1])

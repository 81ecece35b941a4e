"""Upbit's request signing as pure functions: query string in, claims out; claims and secret in, token out.

Kept free of I/O and of httpx so the rules can be checked against fixed vectors, and so the
auth flow, the benchmark's raw baseline and any future transport all sign the same way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Final, Literal
from urllib.parse import unquote_to_bytes

from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS

Algorithm = Literal["HS256", "HS512"]
SUPPORTED_ALGORITHMS: Final[tuple[str, ...]] = ("HS256", "HS512")
QUERY_HASH_ALGORITHM: Final = "SHA512"


class _IssuedKeyHMAC(HMACAlgorithm):
    """PyJWT's HMAC, without its key-length check: Upbit issues the secret keys (40 characters), shorter
    than the 64 bytes RFC 7518 recommends for HS512, and uses them as-is; a warning per request about
    a key the caller cannot change helps no one (and is an error under ``-W error``)."""

    def check_key_length(self, key: bytes) -> str | None:
        return None


# PyJWT's own JWS encoder, with its own algorithm table (the global one and the process's
# warning filters stay as they are; nothing is shared with other users of PyJWT).
_JWS = PyJWS(algorithms=[])
_JWS.register_algorithm("HS256", _IssuedKeyHMAC(HMACAlgorithm.SHA256))
_JWS.register_algorithm("HS512", _IssuedKeyHMAC(HMACAlgorithm.SHA512))


def query_hash(raw_query: bytes | str) -> str:
    """Hex SHA-512 of the query string as sent, percent-decoded the way Upbit decodes it.

    Plain percent-decoding: ``%5B`` becomes ``[`` but a ``+`` stays a ``+`` (Upbit does not read
    ``+`` as a space), and the order and repetition of keys are kept exactly as on the wire.
    """
    if isinstance(raw_query, str):
        raw_query = raw_query.encode("ascii")
    return hashlib.sha512(unquote_to_bytes(raw_query)).hexdigest()


def build_claims(access_key: str, nonce: str, raw_query: bytes | str = b"") -> dict[str, str]:
    """The JWT claims for one request; the query hash claims only when there is a query string."""
    claims = {"access_key": access_key, "nonce": nonce}
    if raw_query:
        claims["query_hash"] = query_hash(raw_query)
        claims["query_hash_alg"] = QUERY_HASH_ALGORITHM
    return claims


def sign(claims: dict[str, str], secret_key: str, algorithm: Algorithm = "HS512") -> str:
    """The compact JWT for ``claims``, HMAC-signed with the secret key used as-is (not base64-decoded)."""
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(SUPPORTED_ALGORITHMS)}; given: {algorithm!r}")
    # The payload as ``jwt.encode`` writes it (compact JSON, keys in the order given).
    payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    return _JWS.encode(payload, secret_key, algorithm=algorithm)

"""Fixed vectors for the pure signing functions: claims and secret in, exact token out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from upbit_auth.signing import build_claims, query_hash, sign

# The five uuids of the seed page's example request.
SEED_UUIDS = [
    "6c1eac69-b9bc-4fbf-9982-e9c4641c453f",
    "e7f41e24-7199-4cf4-9b02-72971cb69a4d",
    "1fc8d0bb-95c2-4116-96d8-6e2aa82200ba",
    "34c52f5d-e4c8-4217-a6a8-0f7a06bf4c63",
    "5767ea2c-451b-47f4-8a3d-009a5e08db5e",
]
SEED_QUERY_DECODED = "&".join(f"uuids[]={uuid}" for uuid in SEED_UUIDS)
SEED_QUERY_WIRE = "&".join(f"uuids%5B%5D={uuid}" for uuid in SEED_UUIDS)
SEED_QUERY_HASH = (
    "ceb487e2de5e1c4500cddcd74cad22d7b82523d8bc4da6cb9bb7ded2aaefe497"
    "ce8e4b3e337d4413a6c6e0ccb1f18d9833d8dbf81f8e2e81bc09928ca14c40d5"
)
NONCE = "00000000-0000-4000-8000-000000000001"
SECRET = "test-secret-key"

SEED_TOKEN_HS512 = (
    "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
    "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDEi"
    "LCJxdWVyeV9oYXNoIjoiY2ViNDg3ZTJkZTVlMWM0NTAwY2RkY2Q3NGNhZDIyZDdiODI1MjNkOGJjNGRhNmNiOWJiN2RlZDJhYWVmZTQ5"
    "N2NlOGU0YjNlMzM3ZDQ0MTNhNmM2ZTBjY2IxZjE4ZDk4MzNkOGRiZjgxZjhlMmU4MWJjMDk5MjhjYTE0YzQwZDUiLCJxdWVyeV9oYXNo"
    "X2FsZyI6IlNIQTUxMiJ9."
    "ZX0ZctuW0QtUpRR2kBHDlxR4b1KBHBmHMrjk8-qxMO5iWWp-3PB5kfOkPBzHBJEok7LvWWbG9_cgBS5XUR99PA"
)
NO_QUERY_TOKEN_HS256 = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDEifQ."
    "OQ0bWEu2xASXxPhUPTH3zlWz9pS_-F6oGV2ORrSRVWc"
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_made_jwt(claims: dict[str, str], secret: str, alg: str) -> str:
    """An independent HS256/HS512 JWT, built from the RFC with hmac and base64 only."""
    header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), digest).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def test_seed_example_query_hash_is_fixed() -> None:
    assert query_hash(SEED_QUERY_DECODED) == SEED_QUERY_HASH


def test_percent_encoded_brackets_hash_like_the_decoded_query() -> None:
    assert query_hash(SEED_QUERY_WIRE.encode()) == SEED_QUERY_HASH


def test_plus_stays_plus_when_hashing() -> None:
    # Upbit decodes with plain percent-decoding: '+' is not a space.
    assert query_hash("identifiers%5B%5D=a+b") == hashlib.sha512(b"identifiers[]=a+b").hexdigest()
    assert query_hash("identifiers%5B%5D=a+b") != hashlib.sha512(b"identifiers[]=a b").hexdigest()


def test_seed_token_hs512_is_the_exact_vector() -> None:
    claims = build_claims("test-access-key", NONCE, SEED_QUERY_WIRE)
    assert claims == {
        "access_key": "test-access-key",
        "nonce": NONCE,
        "query_hash": SEED_QUERY_HASH,
        "query_hash_alg": "SHA512",
    }
    assert sign(claims, SECRET, "HS512") == SEED_TOKEN_HS512
    assert _hand_made_jwt(claims, SECRET, "HS512") == SEED_TOKEN_HS512


def test_no_query_means_no_hash_claims_hs256_vector() -> None:
    claims = build_claims("test-access-key", NONCE, b"")
    assert claims == {"access_key": "test-access-key", "nonce": NONCE}
    assert sign(claims, SECRET, "HS256") == NO_QUERY_TOKEN_HS256
    assert _hand_made_jwt(claims, SECRET, "HS256") == NO_QUERY_TOKEN_HS256


# PyJWT's own decode, the independent check here, warns about the short test key; the SDK's signing and the
# sandbox do not (tests/test_warnings_as_errors.py).
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_secret_is_used_as_is_not_base64_decoded() -> None:
    secret = "c2VjcmV0"  # valid base64: a signer that decoded it would sign with b"secret"
    token = sign({"access_key": "a", "nonce": NONCE}, secret)
    assert jwt.decode(token, secret, algorithms=["HS512"])["nonce"] == NONCE
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "secret", algorithms=["HS512"])


def test_unsupported_algorithm_is_refused_with_what_was_given() -> None:
    with pytest.raises(ValueError, match=r"HS256, HS512; given: 'none'"):
        sign({"access_key": "a", "nonce": NONCE}, SECRET, "none")  # type: ignore[arg-type]

"""UpbitAuth through the generated client: the wire query, the token's claims, nonces, keys from the env."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from urllib.parse import unquote, urlencode

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Recorder
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel.errors import MissingCredentials
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.errors import InvalidRequest
from upbit_client.models import CancelOrdersResult

# PyJWT's own decode, the independent check here, warns about the short test key; the SDK's signing and the
# sandbox do not (tests/test_warnings_as_errors.py).
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def decode(request: httpx.Request) -> dict[str, str]:
    scheme, _, token = request.headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    claims: dict[str, str] = jwt.decode(token, TEST_SECRET_KEY, algorithms=["HS512"])
    return claims


def server_side_hash(request: httpx.Request) -> str:
    """What the exchange computes: SHA-512 of the raw query as received, plainly percent-decoded."""
    return hashlib.sha512(unquote(request.url.query.decode("ascii")).encode()).hexdigest()


def test_generated_call_sends_exact_wire_query_and_signed_claims(client: Client, recorder: Recorder) -> None:
    result = cancel_orders_by_ids.sync(client=client, uuids=["a-1", "b-2"])

    assert isinstance(result, CancelOrdersResult)
    (request,) = recorder.requests
    assert request.method == "DELETE"
    assert request.url.path == "/v1/orders/uuids"
    assert request.url.query == b"uuids%5B%5D=a-1&uuids%5B%5D=b-2"
    assert request.content == b""
    claims = decode(request)
    assert claims["access_key"] == TEST_ACCESS_KEY
    assert uuid.UUID(claims["nonce"]).version == 4
    assert claims["query_hash_alg"] == "SHA512"
    assert claims["query_hash"] == hashlib.sha512(b"uuids[]=a-1&uuids[]=b-2").hexdigest()
    assert set(claims) == {"access_key", "nonce", "query_hash", "query_hash_alg"}


def test_header_alg_is_hs512_by_default_and_hs256_on_request(recorder: Recorder) -> None:
    for algorithm in ("HS512", "HS256"):
        auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY, algorithm=algorithm)
        with httpx.Client(auth=auth, transport=recorder.transport()) as http:
            http.delete("https://api.upbit.com/v1/orders/uuids", params={"uuids[]": ["x"]})
        token = recorder.requests[-1].headers["Authorization"].removeprefix("Bearer ")
        assert jwt.get_unverified_header(token)["alg"] == algorithm
        assert jwt.decode(token, TEST_SECRET_KEY, algorithms=[algorithm])["access_key"] == TEST_ACCESS_KEY


def test_no_query_string_means_no_hash_claims(recorder: Recorder, auth: UpbitAuth) -> None:
    with httpx.Client(auth=auth, transport=recorder.transport()) as http:
        http.get("https://api.upbit.com/v1/accounts")
    assert set(decode(recorder.requests[0])) == {"access_key", "nonce"}


def test_every_request_and_every_retry_gets_a_fresh_nonce(client: Client, recorder: Recorder) -> None:
    replies = iter([httpx.Response(429, json={"error": {"name": "too_many_requests", "message": "x"}})])
    recorder.reply = lambda request: next(
        replies, httpx.Response(200, json={"success": {"count": 0, "orders": []}, "failed": {"count": 0, "orders": []}})
    )
    for _ in range(3):
        cancel_orders_by_ids.sync_detailed(client=client, uuids=["same"])
    nonces = [decode(request)["nonce"] for request in recorder.requests]
    assert len(set(nonces)) == 3


async def test_async_client_signs_the_same_way(recorder: Recorder, auth: UpbitAuth) -> None:
    async with Client(
        base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": recorder.transport()}
    ) as client:
        response = await cancel_orders_by_ids.asyncio_detailed(client=client, identifiers=["id 1", "id&2"])
    assert response.status_code == 200
    (request,) = recorder.requests
    assert decode(request)["query_hash"] == server_side_hash(request)
    assert unquote(request.url.query.decode()) == "identifiers[]=id+1&identifiers[]=id&2"


identifier_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        st.sampled_from(list(" &=%+?#[]/;,")),
    ),
    min_size=1,
    max_size=24,
).filter(lambda text: text.strip() and not any(0x7F <= ord(c) <= 0x9F for c in text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(identifiers=st.lists(identifier_text, min_size=1, max_size=20))
def test_hash_matches_docs_helper_and_server_rule(identifiers: list[str], auth: UpbitAuth) -> None:
    recorder = Recorder()
    with Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": recorder.transport()}) as c:
        cancel_orders_by_ids.sync_detailed(client=c, identifiers=identifiers)
    (request,) = recorder.requests
    claimed = decode(request)["query_hash"]
    docs_helper = unquote(urlencode({"identifiers[]": identifiers}, doseq=True))
    assert claimed == hashlib.sha512(docs_helper.encode()).hexdigest()
    assert claimed == server_side_hash(request)


def test_from_env_reads_the_documented_names() -> None:
    auth = UpbitAuth.from_env({"UPBIT_OPEN_API_ACCESS_KEY": "ak", "UPBIT_OPEN_API_SECRET_KEY": "sk"})
    assert auth.access_key == "ak"
    assert auth.key_source == ("UPBIT_OPEN_API_ACCESS_KEY", "UPBIT_OPEN_API_SECRET_KEY")


def test_from_env_falls_back_to_the_official_sdk_names() -> None:
    auth = UpbitAuth.from_env({"UPBIT_ACCESS_KEY": "ak2", "UPBIT_SECRET_KEY": "sk2"})
    assert auth.access_key == "ak2"
    assert auth.key_source == ("UPBIT_ACCESS_KEY", "UPBIT_SECRET_KEY")


def test_from_env_prefers_the_seed_pair_when_both_pairs_are_complete() -> None:
    auth = UpbitAuth.from_env(
        {"UPBIT_OPEN_API_ACCESS_KEY": "ak", "UPBIT_OPEN_API_SECRET_KEY": "sk", "UPBIT_ACCESS_KEY": "x"}
        | {"UPBIT_SECRET_KEY": "y"}
    )
    assert (auth.access_key, auth.key_source) == ("ak", ("UPBIT_OPEN_API_ACCESS_KEY", "UPBIT_OPEN_API_SECRET_KEY"))


def test_from_env_never_mixes_a_stale_access_key_with_the_other_pairs_secret(caplog: pytest.LogCaptureFixture) -> None:
    environ = {"UPBIT_OPEN_API_ACCESS_KEY": "stale", "UPBIT_ACCESS_KEY": "right", "UPBIT_SECRET_KEY": "right-secret"}
    with caplog.at_level(logging.WARNING, logger="upbit_auth"):
        auth = UpbitAuth.from_env(environ)
    assert auth.access_key == "right"
    assert auth.key_source == ("UPBIT_ACCESS_KEY", "UPBIT_SECRET_KEY")
    assert "ignoring UPBIT_OPEN_API_ACCESS_KEY" in caplog.text
    assert "stale" not in caplog.text and "right-secret" not in caplog.text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "no API keys in the environment: set UPBIT_OPEN_API_ACCESS_KEY and UPBIT_OPEN_API_SECRET_KEY or "),
        ({"UPBIT_OPEN_API_ACCESS_KEY": "ak"}, "found only UPBIT_OPEN_API_ACCESS_KEY;"),
        ({"UPBIT_OPEN_API_SECRET_KEY": "sk"}, "found only UPBIT_OPEN_API_SECRET_KEY;"),
        ({"UPBIT_OPEN_API_ACCESS_KEY": "", "UPBIT_OPEN_API_SECRET_KEY": "sk"}, "found only UPBIT_OPEN_API_SECRET_KEY;"),
        (
            {"UPBIT_OPEN_API_ACCESS_KEY": "ak", "UPBIT_SECRET_KEY": "sk"},
            "found only UPBIT_OPEN_API_ACCESS_KEY, UPBIT_SECRET_KEY; set UPBIT_OPEN_API_ACCESS_KEY and "
            "UPBIT_OPEN_API_SECRET_KEY or UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY (both keys from the same pair)",
        ),
    ],
)
def test_from_env_without_a_complete_pair_names_the_variables_it_found(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(MissingCredentials, match=re.escape(expected)) as caught:
        UpbitAuth.from_env(environ)
    for value in environ.values():
        if value:
            assert f"={value}" not in str(caught.value) and f"'{value}'" not in str(caught.value)


def test_secret_never_shows_in_repr_str_logs_or_errors(
    client: Client, recorder: Recorder, auth: UpbitAuth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cancel_orders_by_ids.sync_detailed(client=client, uuids=["u"])
    texts = [repr(auth), str(auth), repr(vars(auth)), repr(client), caplog.text]
    for bad in ({"uuids": []}, {"uuids": ["u"], "identifiers": ["i"]}):
        with pytest.raises(InvalidRequest) as caught:
            cancel_orders_by_ids.sync_detailed(client=client, **bad)  # type: ignore[arg-type]
        texts.append(str(caught.value))
    with pytest.raises(ValueError) as caught_alg:
        UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY, algorithm="RS256")  # type: ignore[arg-type]
    texts.append(str(caught_alg.value))
    assert TEST_ACCESS_KEY[:4] in repr(auth)
    for text in texts:
        assert TEST_SECRET_KEY not in text
        assert "KEEP-OUT" not in text


def test_empty_keys_are_refused() -> None:
    with pytest.raises(MissingCredentials, match="access key"):
        UpbitAuth("", "sk")
    with pytest.raises(MissingCredentials, match="secret key"):
        UpbitAuth("ak", "")


@pytest.mark.parametrize("pad", ["\n", "\r\n", " ", "\t", "  \n"])
def test_keys_read_with_surrounding_whitespace_sign_as_the_bare_keys(pad: str) -> None:
    auth = UpbitAuth(pad + TEST_ACCESS_KEY + pad, TEST_SECRET_KEY + pad)
    claims = jwt.decode(auth.token_for(b"a=1"), TEST_SECRET_KEY, algorithms=["HS512"])
    assert claims["access_key"] == TEST_ACCESS_KEY
    assert auth.access_key == TEST_ACCESS_KEY


def test_a_secret_of_only_whitespace_is_refused_without_echoing_it() -> None:
    with pytest.raises(MissingCredentials, match="secret key must be a non-empty string") as caught:
        UpbitAuth(TEST_ACCESS_KEY, " \n\t ")
    assert "\t" not in str(caught.value)

"""Contract test: every answer of the sandbox conforms to openapi.yaml, the spec the SDK is generated from.

For each request of a range (success, partial failure, identifiers, every error path, 429, 404) the
answer's status must be documented for ``DELETE /v1/orders/uuids``, its JSON body must validate
against that status's response schema (OpenAPI 3.0 semantics, so ``nullable`` counts), its error name
must be among the status's ``x-error-names`` where the spec lists them, and ``Remaining-Req`` must
match the header's pattern. Requests go over real HTTP to the loopback server, so headers are checked
as a client sees them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.keys import OTHER_SECRET
from tests.sandbox_support import bearer, make_token, wire_query
from upbit_sandbox import DEMO_ACCESS_KEY, ENDPOINT_PATH, SandboxExchange, demo_uuid, running_server

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
SPEC_URI = "urn:upbit-openapi"


class FrozenClock:
    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def registry(spec: dict[str, Any]) -> Registry[Any]:
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4))


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s (``#/a/b``) until a real object is reached."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operation(spec: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = spec["paths"][ENDPOINT_PATH]["delete"]
    return found


class Book:
    """A fresh sandbox with a frozen clock, served on loopback, and a way to send raw signed requests."""

    def __init__(self, url: str, exchange: SandboxExchange, clock: FrozenClock) -> None:
        self.url = url
        self.exchange = exchange
        self.clock = clock
        self.http = httpx.Client(base_url=url)

    def send(
        self, raw_query: str, *, method: str = "DELETE", path: str = ENDPOINT_PATH, body: bytes = b"", **token: Any
    ) -> httpx.Response:
        target = f"{path}?{raw_query}" if raw_query else path
        return self.http.request(method, target, headers=bearer(make_token(raw_query, **token)), content=body)


@pytest.fixture
def book() -> Iterator[Book]:
    clock = FrozenClock()
    exchange = SandboxExchange(rate_limit_per_second=3, clock=clock)
    exchange.seed_demo_orders(open_orders=5)
    with running_server(exchange) as url:
        sandbox = Book(url, exchange, clock)
        try:
            yield sandbox
        finally:
            sandbox.http.close()


def _success(book: Book) -> httpx.Response:
    return book.send(wire_query("uuids", [demo_uuid("demo-0001"), demo_uuid("demo-0002")]))


def _partial(book: Book) -> httpx.Response:
    ids = [demo_uuid("demo-0003"), demo_uuid("demo-filled-0001"), demo_uuid("demo-cancelled-0001"), str(uuid.uuid4())]
    return book.send(wire_query("uuids", ids))


def _identifiers(book: Book) -> httpx.Response:
    book.exchange.add_order(market="KRW-XRP")  # a legacy order without identifier stays in the book
    return book.send(wire_query("identifiers", ["demo-0004", "no-such-order", "demo-0004"]))


def _legacy_order(book: Book) -> httpx.Response:
    legacy = book.exchange.add_order(market="KRW-XRP")
    return book.send(wire_query("uuids", [legacy.uuid]))


def _too_many_requests(book: Book) -> httpx.Response:
    for _ in range(3):
        assert book.send(wire_query("uuids", ["x"])).status_code == 200
    return book.send(wire_query("uuids", ["x"]))


def _header_alg_mismatch(book: Book) -> httpx.Response:
    raw_query = wire_query("uuids", ["x"])
    _, payload, signature = make_token(raw_query, algorithm="HS256").split(".")
    forged_header = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9"  # {"alg":"HS512","typ":"JWT"}
    return book.http.delete(f"{ENDPOINT_PATH}?{raw_query}", headers=bearer(f"{forged_header}.{payload}.{signature}"))


CASES: dict[str, tuple[Callable[[Book], httpx.Response], int, str | None]] = {
    "success": (_success, 200, None),
    "partial": (_partial, 200, None),
    "identifiers": (_identifiers, 200, None),
    "legacy-order": (_legacy_order, 200, None),
    "no-token": (lambda b: b.http.delete(f"{ENDPOINT_PATH}?uuids[]=x"), 401, "no_authorization_token"),
    "unknown-key": (lambda b: b.send("uuids[]=x", access_key="nobody"), 401, "invalid_access_key"),
    "wrong-secret": (lambda b: b.send("uuids[]=x", secret=OTHER_SECRET), 401, "jwt_verification"),
    "hs384": (lambda b: b.send("uuids[]=x", algorithm="HS384"), 401, "jwt_verification"),
    "alg-mismatch": (_header_alg_mismatch, 401, "jwt_verification"),
    "nonce-reused": (
        lambda b: [b.send("uuids[]=x", nonce="fixed-nonce"), b.send("uuids[]=x", nonce="fixed-nonce")][-1],
        401,
        "nonce_used",
    ),
    "bad-hash": (lambda b: b.send("uuids[]=x", query_hash="0" * 128), 401, "invalid_query_payload"),
    "body": (lambda b: b.send("uuids[]=x", body=b"uuids[]=x"), 400, "QUERY_PARAMETER_NOT_SUPPORTED"),
    "both-kinds": (lambda b: b.send("uuids[]=x&identifiers[]=y"), 400, "validation_error"),
    "neither": (lambda b: b.send(""), 400, "validation_error"),
    "21-items": (lambda b: b.send(wire_query("uuids", [f"u{n}" for n in range(21)])), 400, "validation_error"),
    "unknown-key-param": (lambda b: b.send("uuids[]=x&state=wait"), 400, "validation_error"),
    "429": (_too_many_requests, 429, "too_many_requests"),
    "wrong-path": (lambda b: b.send("uuids[]=x", path="/v1/orders/uuid"), 404, "not_found"),
    "wrong-method": (lambda b: b.send("uuids[]=x", method="POST"), 404, "not_found"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_answer_conforms_to_the_spec(case: str, book: Book, spec: dict[str, Any], registry: Registry[Any]) -> None:
    send, expected_status, expected_name = CASES[case]
    response = send(book)
    assert response.status_code == expected_status, response.text

    responses = operation(spec)["responses"]
    assert str(response.status_code) in responses, f"status {response.status_code} is not documented"
    documented = resolve(spec, responses[str(response.status_code)])

    media = documented["content"]["application/json"]
    assert response.headers["content-type"].startswith("application/json")
    schema_ref = media["schema"]["$ref"]
    validator = OAS30Validator({"$ref": f"{SPEC_URI}{schema_ref}"}, registry=registry)
    body = response.json()
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(body)]
    assert errors == []

    if expected_name is None:
        assert "error" not in body
    else:
        assert body["error"]["name"] == expected_name
        if "x-error-names" in documented:
            assert expected_name in documented["x-error-names"]

    header_spec = resolve(spec, documented["headers"]["Remaining-Req"])
    header_validator = OAS30Validator(header_spec["schema"])
    assert header_validator.is_valid(response.headers["Remaining-Req"]), response.headers["Remaining-Req"]


def test_schema_validation_is_strict_enough_to_fail(spec: dict[str, Any], registry: Registry[Any]) -> None:
    """The validator setup above must reject wrong shapes, or the contract test proves nothing."""
    validator = OAS30Validator({"$ref": f"{SPEC_URI}#/components/schemas/CancelOrdersResult"}, registry=registry)
    good = {"success": {"count": 0, "orders": []}, "failed": {"count": 1, "orders": [{"uuid": "u", "market": ""}]}}
    assert validator.is_valid(good)
    assert validator.is_valid(
        {**good, "failed": {"count": 1, "orders": [{"uuid": "u", "market": "", "identifier": None}]}}
    )
    # Every field of the 200 is optional and uuid/market may be null (the seed: "Required: No")...
    assert validator.is_valid({"success": good["success"]})
    assert validator.is_valid({**good, "failed": {"count": 1, "orders": [{"uuid": "u", "market": None}]}})
    # ...but a value of the wrong type or a top level that is not an object is still refused.
    assert not validator.is_valid({**good, "failed": {"count": 1, "orders": [{"uuid": 5, "market": None}]}})
    assert not validator.is_valid({**good, "failed": {"count": "one", "orders": []}})
    assert not validator.is_valid([])
    header_schema = resolve(spec, spec["components"]["headers"]["RemainingReq"])["schema"]
    assert not OAS30Validator(header_schema).is_valid("group=default; sec=29")


def test_every_documented_error_name_the_sandbox_can_send_is_covered(spec: dict[str, Any]) -> None:
    """The cases above reach each name the sandbox implements; none of them is outside the spec's lists."""
    documented_names: set[str] = set()
    for status_response in operation(spec)["responses"].values():
        documented_names.update(resolve(spec, status_response).get("x-error-names", []))
    sent_names = {name for _, _, name in CASES.values() if name is not None}
    assert sent_names - {"not_found"} <= documented_names
    assert {"no_authorization_token", "invalid_access_key", "jwt_verification", "nonce_used"} <= sent_names
    assert {
        "invalid_query_payload",
        "QUERY_PARAMETER_NOT_SUPPORTED",
        "validation_error",
        "too_many_requests",
    } <= sent_names


def test_demo_access_key_is_what_the_book_authenticates(book: Book) -> None:
    _success(book)
    assert book.exchange.requests[-1].access_key == DEMO_ACCESS_KEY

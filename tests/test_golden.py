"""Golden record: a spec the SDK has never seen is generated, type-checks, refuses bad calls and signs good ones.

The sandbox checks the signatures (PyJWT and hashlib, not ``upbit_auth``) and routes each operation
from the registry generated with the client, so a new operation is usable the moment it is in the spec.
"""

from __future__ import annotations

import importlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Mypy
from tests.generation_support import ROOT, SPECS, generate_package, import_generated, run_generate
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_sandbox import SandboxExchange, running_server

GOLDEN = "golden_client"
OPEN_ORDERS = "open_orders_client"
U1 = "6c1eac69-b9bc-4fbf-9982-e9c4641c453f"


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("golden")
    generate_package(SPECS / "golden.yaml", folder, GOLDEN)
    yield folder


def sandbox_client(folder: Path, package: str) -> tuple[Any, SandboxExchange]:
    """A generated client of ``package`` signed by ``UpbitAuth``, talking to a sandbox routing its registry."""
    registry = import_generated(folder, f"{package}.registry")
    exchange = SandboxExchange({TEST_ACCESS_KEY: TEST_SECRET_KEY}, operations=registry.OPERATIONS)
    client_module = importlib.import_module(f"{package}.client")
    client = client_module.Client(
        base_url="https://api.example.test",
        httpx_args={"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY), "transport": exchange.transport()},
    )
    return client, exchange


def test_the_golden_client_passes_mypy_strict(golden: Path, mypy: Mypy) -> None:
    result = mypy.strict(GOLDEN, cwd=golden)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_golden_operation_is_signed_right_and_answered_by_the_sandbox(golden: Path) -> None:
    client, exchange = sandbox_client(golden, GOLDEN)
    api = f"{GOLDEN}.api.widget"
    listed = import_generated(golden, f"{api}.list_widgets").sync_detailed(
        client=client, market="KRW-BTC", order_by="asc"
    )
    one = import_generated(golden, f"{api}.get_widget").sync_detailed("w-7", client=client)
    deleted = import_generated(golden, f"{api}.delete_widgets").sync_detailed(
        client=client, uuids=[uuid.UUID(U1), str(uuid.uuid4())]
    )
    assert [listed.status_code, one.status_code, deleted.status_code] == [200, 200, 200]
    assert [(r.method, r.status, r.access_key) for r in exchange.requests] == [
        ("GET", 200, TEST_ACCESS_KEY),
        ("GET", 200, TEST_ACCESS_KEY),
        ("DELETE", 200, TEST_ACCESS_KEY),
    ]
    assert exchange.requests[0].target == "/v1/widgets?market=KRW-BTC&order_by=asc"
    assert listed.parsed[0].market == "KRW-BTC"  # the spec's example, parsed by the generated model
    assert listed.headers["Remaining-Req"].startswith("group=widget-read;")


@pytest.mark.parametrize(
    ("module", "arguments", "message"),
    [
        ("list_widgets", {"market": "KRW-BTC", "order_by": "up"}, r"order_by: must be one of \['asc', 'desc'\]"),
        ("list_widgets", {"market": "KR"}, r"market: must be at least 3 characters long"),
        ("get_widget", {"widget_id": "7"}, r"widget_id: must match the pattern"),
        ("delete_widgets", {"uuids": ["not-a-uuid"]}, r"uuids\[\]: every item must be a uuid"),
    ],
)
def test_a_bad_golden_call_is_refused_before_sending(
    golden: Path, module: str, arguments: dict[str, Any], message: str
) -> None:
    client, exchange = sandbox_client(golden, GOLDEN)
    function = import_generated(golden, f"{GOLDEN}.api.widget.{module}").sync_detailed
    errors = importlib.import_module(f"{GOLDEN}.errors")
    with pytest.raises(errors.InvalidRequest, match=message):
        function(client=client, **arguments)
    assert exchange.requests == []


def test_the_sandbox_checks_the_rules_of_an_operation_it_does_not_model(golden: Path) -> None:
    """A request that skips the client's checks is still refused by the sandbox, from the same registry."""
    client, _ = sandbox_client(golden, GOLDEN)
    response = client.get_httpx_client().get("/v1/widgets", params={"market": "KRW-BTC", "order_by": "sideways"})
    assert response.status_code == 400
    assert response.json()["error"]["name"] == "validation_error"
    assert "order_by" in response.json()["error"]["message"]
    missing = client.get_httpx_client().get("/v1/widgets")
    assert (missing.status_code, "market: is required" in missing.json()["error"]["message"]) == (400, True)
    unsigned = client.get_httpx_client().get("/v1/widgets/w-1", auth=None)
    assert unsigned.json()["error"]["name"] == "no_authorization_token"


OPEN_ORDERS_OPERATION = """\
  /v1/orders/sample:
    get:
      operationId: listSampleOrders
      tags: [order]
      summary: List a sample of open orders
      parameters:
        - {name: market, in: query, schema: {type: string}}
        - {name: state, in: query, schema: {type: string, enum: [wait, watch]}}
        - name: states[]
          in: query
          schema: {type: array, items: {type: string, enum: [wait, watch]}}
        - {name: page, in: query, schema: {type: integer, minimum: 1, default: 1}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100, default: 100}}
        - {name: order_by, in: query, schema: {type: string, enum: [asc, desc], default: desc}}
      responses:
        "200":
          description: The open orders.
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/CancelOrdersOrder"}}
              example: [{uuid: 6c1eac69-b9bc-4fbf-9982-e9c4641c453f, market: KRW-BTC, identifier: null}]
        "401":
          $ref: "#/components/responses/Unauthorized"
"""


@pytest.fixture(scope="module")
def open_orders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``GET /v1/orders/sample`` (shaped like List Open Orders) added to a copy of openapi.yaml, generated
    with the repository's own config."""
    folder = tmp_path_factory.mktemp("open_orders")
    spec = (ROOT / "openapi.yaml").read_text()
    assert spec.count("\npaths:\n") == 1
    (folder / "openapi.yaml").write_text(spec.replace("\npaths:\n", "\npaths:\n" + OPEN_ORDERS_OPERATION))
    result = run_generate(folder / "openapi.yaml", folder / "out" / "upbit_client")
    assert result.returncode == 0, result.stderr
    shutil.move(folder / "out" / "upbit_client", folder / OPEN_ORDERS)  # to import beside the real upbit_client
    yield folder


def test_adding_open_orders_to_the_spec_generates_a_client_that_passes_mypy_strict(
    open_orders: Path, mypy: Mypy
) -> None:
    result = mypy.strict(OPEN_ORDERS, cwd=open_orders)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limit": 101}, r"limit: must be at most 100 \(maximum: 100\); given: 101"),
        ({"page": 0}, r"page: must be at least 1 \(minimum: 1\); given: 0"),
        ({"order_by": "x"}, r"order_by: must be one of \['asc', 'desc'\] \(enum\); given: 'x'"),
        ({"states": ["wait", "gone"]}, r"states\[\]: every item must be one of \['wait', 'watch'\]"),
    ],
)
def test_open_orders_refuses_a_bad_call_before_sending(
    open_orders: Path, arguments: dict[str, Any], message: str
) -> None:
    client, exchange = sandbox_client(open_orders, OPEN_ORDERS)
    function = import_generated(open_orders, f"{OPEN_ORDERS}.api.order.list_sample_orders").sync_detailed
    errors = importlib.import_module(f"{OPEN_ORDERS}.errors")
    with pytest.raises(errors.InvalidRequest, match=message):
        function(client=client, **arguments)
    assert exchange.requests == []


def test_open_orders_is_signed_right_and_the_sandbox_answers_200(open_orders: Path) -> None:
    client, exchange = sandbox_client(open_orders, OPEN_ORDERS)
    function = import_generated(open_orders, f"{OPEN_ORDERS}.api.order.list_sample_orders").sync_detailed
    response = function(client=client, market="KRW-BTC", states=["wait", "watch"], limit=100, page=2)
    assert response.status_code == 200
    assert [order.uuid for order in response.parsed] == [U1]
    assert exchange.requests[0].target == (
        "/v1/orders/sample?market=KRW-BTC&states%5B%5D=wait&states%5B%5D=watch&page=2&limit=100&order_by=desc"
    )
    assert (exchange.requests[0].status, exchange.requests[0].access_key) == (200, TEST_ACCESS_KEY)


def test_open_orders_is_answered_200_by_the_sandbox_server_on_loopback(open_orders: Path) -> None:
    """The same through ``running_server``, the server ``upbit-sandbox`` starts."""
    registry = import_generated(open_orders, f"{OPEN_ORDERS}.registry")
    exchange = SandboxExchange({TEST_ACCESS_KEY: TEST_SECRET_KEY}, operations=registry.OPERATIONS)
    function = import_generated(open_orders, f"{OPEN_ORDERS}.api.order.list_sample_orders").sync_detailed
    client_module = importlib.import_module(f"{OPEN_ORDERS}.client")
    with (
        running_server(exchange) as url,
        client_module.Client(base_url=url, httpx_args={"auth": UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)}) as client,
    ):
        response = function(client=client, order_by="asc", state="watch")
    assert response.status_code == 200
    assert [(r.method, r.status) for r in exchange.requests] == [("GET", 200)]

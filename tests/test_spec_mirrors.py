"""Hand-written Literals that mirror a value set of openapi.yaml hold all of it (``tools/spec_mirrors.py``).

A state the spec gains but a hand-written ``Literal`` lacks passed mypy and every gate before:
``cancel_open_orders(states=["prewait"])`` then found nothing to cancel. ``make api-check`` and these
tests fail instead, naming the file and the type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast, get_args

import attrs
import pytest

import spec_mirrors
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_cancel import results, sweep
from upbit_client.models import OpenOrderState, OrderSide
from upbit_client.registry import OPERATIONS
from upbit_sandbox import exchange

ROOT = Path(__file__).resolve().parent.parent


def with_enum(operation: str, parameter: str, enum: tuple[str, ...]) -> dict[str, Any]:
    """The registry with one parameter's enum (its items', for an array) replaced, as a spec change would."""
    changed = dict(OPERATIONS)
    rules = []
    for rule in OPERATIONS[operation].parameters:
        if rule.python_name == parameter:
            if rule.is_array and rule.item is not None:
                rule = attrs.evolve(rule, item=attrs.evolve(rule.item, enum=enum))
            else:
                rule = attrs.evolve(rule, value=attrs.evolve(rule.value, enum=enum))
        rules.append(rule)
    changed[operation] = attrs.evolve(OPERATIONS[operation], parameters=tuple(rules))
    return changed


def annotation(cls: type, name: str) -> str:
    return str(cls.__annotations__[name])


def test_every_hand_written_mirror_holds_the_specs_values_today() -> None:
    assert spec_mirrors.problems(ROOT, OPERATIONS) == []


def test_the_static_reading_is_the_types_python_sees() -> None:
    generated = spec_mirrors.generated_literals(ROOT)
    read = {
        (mirror.path, mirror.name): spec_mirrors.literal_values(
            (ROOT / mirror.path).read_text("utf-8"), mirror.name, generated
        )
        for mirror in spec_mirrors.MIRRORS
    }
    assert read[("cancel/upbit_cancel/sweep.py", "OpenState")] == frozenset(get_args(sweep.OpenState))
    assert read[("cancel/upbit_cancel/sweep.py", "OrderSide")] == frozenset(get_args(sweep.OrderSide))
    assert read[("cancel/upbit_cancel/results.py", "OrderState")] == frozenset(get_args(results.OrderState))
    assert read[("sandbox/upbit_sandbox/exchange.py", "OrderState")] == frozenset(get_args(exchange.OrderState))
    assert read[("sandbox/upbit_sandbox/exchange.py", "OrderSide")] == frozenset(get_args(exchange.OrderSide))


def test_the_public_state_and_side_types_are_the_generated_enums() -> None:
    assert sweep.OpenState is OpenOrderState
    assert sweep.OrderSide is OrderSide and results.OrderSide is OrderSide and exchange.OrderSide is OrderSide
    assert set(get_args(OpenOrderState)) < set(get_args(results.OrderState))
    assert annotation(results.OrderRef, "side") == "OrderSide | None"


def test_a_spec_that_gains_an_open_state_fails_naming_each_literal_that_lacks_it() -> None:
    operations = with_enum("list_open_orders", "states", ("wait", "watch", "prewait"))
    found = spec_mirrors.problems(ROOT, operations)
    assert any(p.startswith("cancel/upbit_cancel/sweep.py: OpenState lacks ['prewait']") for p in found), found
    assert any(p.startswith("cancel/upbit_cancel/results.py: OrderState lacks ['prewait']") for p in found), found
    assert any(p.startswith("sandbox/upbit_sandbox/exchange.py: OrderState lacks") for p in found), found


def test_a_spec_that_drops_a_side_fails_naming_the_literal_that_still_has_it() -> None:
    operations = with_enum("cancel_open_orders", "cancel_side", ("all", "bid"))
    found = spec_mirrors.problems(ROOT, operations)
    assert "cancel/upbit_cancel/sweep.py: OrderSide has ['ask'], which openapi.yaml no longer has" in "\n".join(found)


def copy_tree(tmp_path: Path) -> Path:
    """The mirrored files and the generated enums, copied: a tree to change as a spec change would."""
    for path in [mirror.path for mirror in spec_mirrors.MIRRORS] + [
        str(p.relative_to(ROOT)) for p in (ROOT / spec_mirrors.GENERATED_MODELS).glob("*.py")
    ]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((ROOT / path).read_text("utf-8"), "utf-8")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


def test_a_mirror_that_is_no_longer_a_literal_is_named(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    edit(tree / "cancel/upbit_cancel/sweep.py", "OpenState: TypeAlias = OpenOrderState", "OpenState = tuple[str, ...]")
    assert spec_mirrors.problems(tree, OPERATIONS) == [
        "cancel/upbit_cancel/sweep.py: OpenState is no longer a Literal there: move its check in tools/spec_mirrors.py"
    ]


def test_after_make_generate_a_new_open_state_reaches_every_type_made_from_the_generated_enum(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    operations = with_enum("list_open_orders", "states", ("wait", "watch", "prewait"))
    stale = spec_mirrors.problems(tree, operations)
    assert any("OpenState lacks ['prewait']" in p and "run make generate" in p for p in stale), stale
    edit(
        tree / spec_mirrors.GENERATED_MODELS / "open_order_state.py", '"wait", "watch"]', '"wait", "watch", "prewait"]'
    )
    assert spec_mirrors.problems(tree, operations) == []


def test_a_state_literal_written_out_by_hand_again_is_still_checked(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    edit(tree / "cancel/upbit_cancel/sweep.py", "OpenState: TypeAlias = OpenOrderState", 'OpenState = Literal["wait"]')
    (found,) = spec_mirrors.problems(tree, OPERATIONS)
    assert found.startswith("cancel/upbit_cancel/sweep.py: OpenState lacks ['watch'], which openapi.yaml now has")
    assert "make generate" not in found


def model_fields(model: type) -> set[str]:
    return {field.name for field in attrs.fields(model) if field.name != "additional_properties"}


def test_the_sandbox_answers_a_cancel_and_a_lookup_with_the_spec_models_field_names() -> None:
    from upbit_cancel import connect
    from upbit_client.api.order import cancel_orders_by_ids, list_orders_by_ids
    from upbit_client.models import CancelOrdersGroup, CancelOrdersOrder, CancelOrdersResult, Order
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, demo_uuid

    exchange = SandboxExchange()
    exchange.seed_demo_orders()
    args: dict[str, Any] = {"transport": exchange.transport()}
    with connect(access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY, httpx_args=args) as client:
        ids = [demo_uuid("demo-0001"), "no-such-order"]
        body = cancel_orders_by_ids.sync_detailed(client=client, uuids=ids).content
        looked_up = list_orders_by_ids.sync_detailed(client=client, uuids=ids[:1]).content
    answer = json.loads(body)
    assert set(answer) == model_fields(CancelOrdersResult)
    for group in answer.values():
        assert set(group) == model_fields(CancelOrdersGroup)
        assert all(set(order) <= model_fields(CancelOrdersOrder) for order in group["orders"])
    assert [order["uuid"] for group in answer.values() for order in group["orders"]] == ids
    (order,) = json.loads(looked_up)
    assert set(order) <= model_fields(Order) and order["state"] == "cancel"


def test_an_open_state_the_spec_gains_is_swept_once_the_registry_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``make generate`` gives after ``prewait`` joins the spec's ``OpenOrderState``, here as a registry."""
    from upbit_cancel import InvalidRequest, cancel_open_orders, connect
    from upbit_client.api.order import list_open_orders
    from upbit_sandbox import SandboxExchange

    states: Any = ["prewait"]
    operations = with_enum("list_open_orders", "states", ("wait", "watch", "prewait"))
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, operations=operations)
    new = exchange.add_order(market="KRW-BTC", state=cast(Any, "prewait"))
    old = exchange.add_order(market="KRW-BTC", state="wait")
    args: dict[str, Any] = {"transport": exchange.transport()}
    with connect(access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, httpx_args=args) as client:
        with pytest.raises(InvalidRequest, match="prewait"):
            cancel_open_orders(client, states=states)
        # The registry rows read at import: the generated call's and the sweep's own check of ``states``.
        monkeypatch.setattr(list_open_orders, "OPERATION", operations["list_open_orders"])
        monkeypatch.setattr(sweep, "_STATES_RULE", operations["list_open_orders"].parameter("states"))
        result = cancel_open_orders(client, states=states)
    assert [order.uuid for order in result.success] == [new.uuid]
    assert {order.uuid: order.state for order in exchange.orders()} == {new.uuid: "cancel", old.uuid: "wait"}

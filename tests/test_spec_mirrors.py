"""Hand-written Literals that mirror a value set of openapi.yaml hold all of it (``tools/spec_mirrors.py``).

A state the spec gains but a hand-written ``Literal`` lacks passed mypy and every gate before:
``cancel_open_orders(states=["prewait"])`` then found nothing to cancel. ``make api-check`` and these
tests fail instead, naming the file and the type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import attrs

import spec_mirrors
from upbit_cancel import results, sweep
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


def test_every_hand_written_mirror_holds_the_specs_values_today() -> None:
    assert spec_mirrors.problems(ROOT, OPERATIONS) == []


def test_the_static_reading_is_the_types_python_sees() -> None:
    read = {
        (mirror.path, mirror.name): spec_mirrors.literal_values((ROOT / mirror.path).read_text("utf-8"), mirror.name)
        for mirror in spec_mirrors.MIRRORS
    }
    assert read[("cancel/upbit_cancel/sweep.py", "OpenState")] == frozenset(get_args(sweep.OpenState))
    assert read[("cancel/upbit_cancel/sweep.py", "OrderSide")] == frozenset(get_args(sweep.OrderSide))
    assert read[("cancel/upbit_cancel/results.py", "OrderState")] == frozenset(get_args(results.OrderState))
    assert read[("sandbox/upbit_sandbox/exchange.py", "OrderState")] == frozenset(get_args(exchange.OrderState))


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


def test_a_mirror_that_is_no_longer_a_literal_is_named(tmp_path: Path) -> None:
    for mirror in spec_mirrors.MIRRORS:
        (tmp_path / mirror.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / mirror.path).write_text((ROOT / mirror.path).read_text("utf-8"), "utf-8")
    sweep_py = tmp_path / "cancel/upbit_cancel/sweep.py"
    sweep_py.write_text(sweep_py.read_text("utf-8").replace("OpenState = Literal[", "OpenState = tuple["), "utf-8")
    assert spec_mirrors.problems(tmp_path, OPERATIONS) == [
        "cancel/upbit_cancel/sweep.py: OpenState is no longer a Literal there: move its check in tools/spec_mirrors.py"
    ]


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

"""``SweepOptions.identifier_prefix``: several bots share a pocket, each sweeps only its own orders."""

from __future__ import annotations

import pytest

from upbit_cancel import SweepOptions, cancel_open_orders
from upbit_client import Client
from upbit_client.errors import InvalidRequest
from upbit_sandbox import SandboxExchange


def test_a_sweep_with_an_identifier_prefix_cancels_only_the_orders_whose_identifier_starts_with_it(
    upbit_client: Client, upbit_exchange: SandboxExchange
) -> None:
    mine = [upbit_exchange.add_order(identifier=f"bot-a-{n}", state="watch" if n == 0 else "wait") for n in range(5)]
    others = [upbit_exchange.add_order(identifier=f"bot-b-{n}") for n in range(3)] + [upbit_exchange.add_order()]
    before = {order.uuid for state in ("wait", "watch") for order in upbit_exchange.orders(state)}
    report = cancel_open_orders(upbit_client, identifier_prefix="bot-a-")
    assert sorted(order.uuid or "" for order in report.success) == sorted(order.uuid for order in mine)
    after = {order.uuid for state in ("wait", "watch") for order in upbit_exchange.orders(state)}
    assert after == before - {order.uuid for order in mine}  # the demo orders and bot-b's stay
    assert {order.uuid for order in others} <= after  # an order without an identifier is no bot's: left alone


@pytest.mark.parametrize("prefix", ["", "   ", "bot\x00", "a\nb"])
def test_a_prefix_no_identifier_may_carry_is_refused_naming_what_was_given(prefix: str) -> None:
    with pytest.raises(InvalidRequest, match="identifier_prefix") as caught:
        SweepOptions(identifier_prefix=prefix)
    assert repr(prefix) in str(caught.value)

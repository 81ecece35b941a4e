from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.cancel_orders_order import CancelOrdersOrder


T = TypeVar("T", bound="CancelOrdersGroup")


@_attrs_define
class CancelOrdersGroup:
    """A group of orders: under `success` those whose cancellation was
    requested, under `failed` those that could not be cancelled. `count`
    is informative: the orders listed are what the exchange did.

    """

    count: int | None | Unset = UNSET
    """ The number of orders in this group. """
    orders: list[CancelOrdersOrder] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        count: int | None | Unset
        if isinstance(self.count, Unset):
            count = UNSET
        else:
            count = self.count

        orders: list[dict[str, Any]] | None | Unset
        if isinstance(self.orders, Unset):
            orders = UNSET
        elif isinstance(self.orders, list):
            orders = []
            for orders_type_0_item_data in self.orders:
                orders_type_0_item = orders_type_0_item_data.to_dict()
                orders.append(orders_type_0_item)

        else:
            orders = self.orders

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if count is not UNSET:
            field_dict["count"] = count
        if orders is not UNSET:
            field_dict["orders"] = orders

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.cancel_orders_order import CancelOrdersOrder

        if not isinstance(src_dict, Mapping):
            raise TypeError(
                f"CancelOrdersGroup must be a JSON object, not {type(src_dict).__name__}"
            )
        d = dict(src_dict)
        count = cast(int | None | Unset, d.pop("count", UNSET))
        if not isinstance(
            count,
            (
                int,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(f"count must be int or None, not {type(count).__name__}")

        def _parse_orders(data: object) -> list[CancelOrdersOrder] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                orders_type_0 = []
                _orders_type_0 = data
                if not isinstance(_orders_type_0, list):
                    raise TypeError(
                        f"orders_type_0 must be a list, not {type(_orders_type_0).__name__}"
                    )

                for orders_type_0_item_data in _orders_type_0:
                    orders_type_0_item = CancelOrdersOrder.from_dict(
                        orders_type_0_item_data
                    )

                    orders_type_0.append(orders_type_0_item)

                return orders_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[CancelOrdersOrder] | None | Unset, data)

        orders = _parse_orders(d.pop("orders", UNSET))

        cancel_orders_group = cls(
            count=count,
            orders=orders,
        )

        cancel_orders_group.additional_properties = d
        return cancel_orders_group

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties

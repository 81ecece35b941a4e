from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.cancel_orders_order import CancelOrdersOrder


T = TypeVar("T", bound="CancelOrdersGroup")


@_attrs_define
class CancelOrdersGroup:
    """A group of orders: under `success` those whose cancellation was
    requested, under `failed` those that could not be cancelled.

    """

    count: int
    """ The number of orders in this group. """
    orders: list[CancelOrdersOrder]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        count = self.count

        orders = []
        for orders_item_data in self.orders:
            orders_item = orders_item_data.to_dict()
            orders.append(orders_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "count": count,
                "orders": orders,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.cancel_orders_order import CancelOrdersOrder

        d = dict(src_dict)
        count = d.pop("count")
        if not isinstance(count, (int,)) or isinstance(count, bool):
            raise TypeError(f"count must be int, not {type(count).__name__}")

        orders = []
        _orders = d.pop("orders")
        if not isinstance(_orders, list):
            raise TypeError(f"orders must be a list, not {type(_orders).__name__}")

        for orders_item_data in _orders:
            orders_item = CancelOrdersOrder.from_dict(orders_item_data)

            orders.append(orders_item)

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

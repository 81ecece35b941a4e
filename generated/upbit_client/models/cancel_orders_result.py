from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.cancel_orders_group import CancelOrdersGroup


T = TypeVar("T", bound="CancelOrdersResult")


@_attrs_define
class CancelOrdersResult:
    """The outcome of one order list cancel call."""

    success: CancelOrdersGroup
    """ A group of orders: under `success` those whose cancellation was
    requested, under `failed` those that could not be cancelled.
     """
    failed: CancelOrdersGroup
    """ A group of orders: under `success` those whose cancellation was
    requested, under `failed` those that could not be cancelled.
     """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        success = self.success.to_dict()

        failed = self.failed.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "success": success,
                "failed": failed,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.cancel_orders_group import CancelOrdersGroup

        d = dict(src_dict)
        success = CancelOrdersGroup.from_dict(d.pop("success"))

        failed = CancelOrdersGroup.from_dict(d.pop("failed"))

        cancel_orders_result = cls(
            success=success,
            failed=failed,
        )

        cancel_orders_result.additional_properties = d
        return cancel_orders_result

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

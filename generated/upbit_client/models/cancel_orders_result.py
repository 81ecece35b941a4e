from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.cancel_orders_group import CancelOrdersGroup


T = TypeVar("T", bound="CancelOrdersResult")


@_attrs_define
class CancelOrdersResult:
    """The outcome of one order list cancel call. Upbit marks every field of
    this answer "Required: No": a group, a count or a field of an order can
    be absent, and a reader must keep every order the answer names.

    """

    success: CancelOrdersGroup | None | Unset = UNSET
    failed: CancelOrdersGroup | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.cancel_orders_group import CancelOrdersGroup

        success: dict[str, Any] | None | Unset
        if isinstance(self.success, Unset):
            success = UNSET
        elif isinstance(self.success, CancelOrdersGroup):
            success = self.success.to_dict()
        else:
            success = self.success

        failed: dict[str, Any] | None | Unset
        if isinstance(self.failed, Unset):
            failed = UNSET
        elif isinstance(self.failed, CancelOrdersGroup):
            failed = self.failed.to_dict()
        else:
            failed = self.failed

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if success is not UNSET:
            field_dict["success"] = success
        if failed is not UNSET:
            field_dict["failed"] = failed

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.cancel_orders_group import CancelOrdersGroup

        if not isinstance(src_dict, Mapping):
            raise TypeError(
                f"CancelOrdersResult must be a JSON object, not {type(src_dict).__name__}"
            )
        d = dict(src_dict)

        def _parse_success(data: object) -> CancelOrdersGroup | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                success_type_1 = CancelOrdersGroup.from_dict(data)

                return success_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CancelOrdersGroup | None | Unset, data)

        success = _parse_success(d.pop("success", UNSET))

        def _parse_failed(data: object) -> CancelOrdersGroup | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                failed_type_1 = CancelOrdersGroup.from_dict(data)

                return failed_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CancelOrdersGroup | None | Unset, data)

        failed = _parse_failed(d.pop("failed", UNSET))

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

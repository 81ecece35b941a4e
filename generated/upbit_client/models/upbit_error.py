from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.upbit_error_body import UpbitErrorBody


T = TypeVar("T", bound="UpbitError")


@_attrs_define
class UpbitError:
    """Upbit's error envelope."""

    error: UpbitErrorBody
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        error = self.error.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "error": error,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.upbit_error_body import UpbitErrorBody

        if not isinstance(src_dict, Mapping):
            raise TypeError(
                f"UpbitError must be a JSON object, not {type(src_dict).__name__}"
            )
        d = dict(src_dict)
        error = UpbitErrorBody.from_dict(d.pop("error"))

        upbit_error = cls(
            error=error,
        )

        upbit_error.additional_properties = d
        return upbit_error

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="UpbitErrorBody")


@_attrs_define
class UpbitErrorBody:
    name: str
    """ Machine-readable error name; branch on this, not on the status. """
    message: str
    """ Human-readable explanation. """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        message = self.message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "message": message,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        if not isinstance(src_dict, Mapping):
            raise TypeError(
                f"UpbitErrorBody must be a JSON object, not {type(src_dict).__name__}"
            )
        d = dict(src_dict)
        name = d.pop("name")
        if not isinstance(name, (str,)):
            raise TypeError(f"name must be str, not {type(name).__name__}")

        message = d.pop("message")
        if not isinstance(message, (str,)):
            raise TypeError(f"message must be str, not {type(message).__name__}")

        upbit_error_body = cls(
            name=name,
            message=message,
        )

        upbit_error_body.additional_properties = d
        return upbit_error_body

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

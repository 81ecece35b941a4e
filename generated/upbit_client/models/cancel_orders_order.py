from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="CancelOrdersOrder")


@_attrs_define
class CancelOrdersOrder:
    """One order of a cancel result. No field is required: an order named by
    a uuid the exchange does not know has no market it could report (null
    or absent), one named by an unknown identifier has no uuid.

    """

    uuid: None | str | Unset = UNSET
    """ UUID of the order; null or absent for an unknown identifier. """
    market: None | str | Unset = UNSET
    """ Market pair of the order; null or absent for an order the exchange does not know. """
    identifier: None | str | Unset = UNSET
    """ The client-chosen identifier of the order. Present only for orders
    created from 2024-10-18 on; may be absent or null.
     """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        uuid: None | str | Unset
        if isinstance(self.uuid, Unset):
            uuid = UNSET
        else:
            uuid = self.uuid

        market: None | str | Unset
        if isinstance(self.market, Unset):
            market = UNSET
        else:
            market = self.market

        identifier: None | str | Unset
        if isinstance(self.identifier, Unset):
            identifier = UNSET
        else:
            identifier = self.identifier

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if uuid is not UNSET:
            field_dict["uuid"] = uuid
        if market is not UNSET:
            field_dict["market"] = market
        if identifier is not UNSET:
            field_dict["identifier"] = identifier

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        if not isinstance(src_dict, Mapping):
            raise TypeError(
                f"CancelOrdersOrder must be a JSON object, not {type(src_dict).__name__}"
            )
        d = dict(src_dict)
        uuid = cast(None | str | Unset, d.pop("uuid", UNSET))
        if not isinstance(
            uuid,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(f"uuid must be str or None, not {type(uuid).__name__}")

        market = cast(None | str | Unset, d.pop("market", UNSET))
        if not isinstance(
            market,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(f"market must be str or None, not {type(market).__name__}")

        identifier = cast(None | str | Unset, d.pop("identifier", UNSET))
        if not isinstance(
            identifier,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"identifier must be str or None, not {type(identifier).__name__}"
            )

        cancel_orders_order = cls(
            uuid=uuid,
            market=market,
            identifier=identifier,
        )

        cancel_orders_order.additional_properties = d
        return cancel_orders_order

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Order")


@_attrs_define
class Order:
    """An order as the order lookup endpoints list it. Read liberally: no
    field is required, and fields the document does not name are kept.
    `state` tells what a cancel did: `cancel` cancelled, `done` filled
    (before the cancel could act), `wait` / `watch` still open.

    """

    uuid: None | str | Unset = UNSET
    side: None | str | Unset = UNSET
    """ `ask` (sell) or `bid` (buy). """
    ord_type: None | str | Unset = UNSET
    """ `limit`, `price`, `market` or `best`. """
    price: None | str | Unset = UNSET
    state: None | str | Unset = UNSET
    """ `wait` (open), `watch` (open, reserved), `done` (filled) or
    `cancel` (cancelled). Kept as text: a state this document does not
    name must not turn an answer into an error.
     """
    market: None | str | Unset = UNSET
    created_at: None | str | Unset = UNSET
    """ ISO 8601 with offset. """
    volume: None | str | Unset = UNSET
    remaining_volume: None | str | Unset = UNSET
    reserved_fee: None | str | Unset = UNSET
    remaining_fee: None | str | Unset = UNSET
    paid_fee: None | str | Unset = UNSET
    locked: None | str | Unset = UNSET
    executed_volume: None | str | Unset = UNSET
    prevented_volume: None | str | Unset = UNSET
    prevented_locked: None | str | Unset = UNSET
    trades_count: int | None | Unset = UNSET
    identifier: None | str | Unset = UNSET
    """ Present only for orders created from 2024-10-18 on. """
    time_in_force: None | str | Unset = UNSET
    smp_type: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        uuid: None | str | Unset
        if isinstance(self.uuid, Unset):
            uuid = UNSET
        else:
            uuid = self.uuid

        side: None | str | Unset
        if isinstance(self.side, Unset):
            side = UNSET
        else:
            side = self.side

        ord_type: None | str | Unset
        if isinstance(self.ord_type, Unset):
            ord_type = UNSET
        else:
            ord_type = self.ord_type

        price: None | str | Unset
        if isinstance(self.price, Unset):
            price = UNSET
        else:
            price = self.price

        state: None | str | Unset
        if isinstance(self.state, Unset):
            state = UNSET
        else:
            state = self.state

        market: None | str | Unset
        if isinstance(self.market, Unset):
            market = UNSET
        else:
            market = self.market

        created_at: None | str | Unset
        if isinstance(self.created_at, Unset):
            created_at = UNSET
        else:
            created_at = self.created_at

        volume: None | str | Unset
        if isinstance(self.volume, Unset):
            volume = UNSET
        else:
            volume = self.volume

        remaining_volume: None | str | Unset
        if isinstance(self.remaining_volume, Unset):
            remaining_volume = UNSET
        else:
            remaining_volume = self.remaining_volume

        reserved_fee: None | str | Unset
        if isinstance(self.reserved_fee, Unset):
            reserved_fee = UNSET
        else:
            reserved_fee = self.reserved_fee

        remaining_fee: None | str | Unset
        if isinstance(self.remaining_fee, Unset):
            remaining_fee = UNSET
        else:
            remaining_fee = self.remaining_fee

        paid_fee: None | str | Unset
        if isinstance(self.paid_fee, Unset):
            paid_fee = UNSET
        else:
            paid_fee = self.paid_fee

        locked: None | str | Unset
        if isinstance(self.locked, Unset):
            locked = UNSET
        else:
            locked = self.locked

        executed_volume: None | str | Unset
        if isinstance(self.executed_volume, Unset):
            executed_volume = UNSET
        else:
            executed_volume = self.executed_volume

        prevented_volume: None | str | Unset
        if isinstance(self.prevented_volume, Unset):
            prevented_volume = UNSET
        else:
            prevented_volume = self.prevented_volume

        prevented_locked: None | str | Unset
        if isinstance(self.prevented_locked, Unset):
            prevented_locked = UNSET
        else:
            prevented_locked = self.prevented_locked

        trades_count: int | None | Unset
        if isinstance(self.trades_count, Unset):
            trades_count = UNSET
        else:
            trades_count = self.trades_count

        identifier: None | str | Unset
        if isinstance(self.identifier, Unset):
            identifier = UNSET
        else:
            identifier = self.identifier

        time_in_force: None | str | Unset
        if isinstance(self.time_in_force, Unset):
            time_in_force = UNSET
        else:
            time_in_force = self.time_in_force

        smp_type: None | str | Unset
        if isinstance(self.smp_type, Unset):
            smp_type = UNSET
        else:
            smp_type = self.smp_type

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if uuid is not UNSET:
            field_dict["uuid"] = uuid
        if side is not UNSET:
            field_dict["side"] = side
        if ord_type is not UNSET:
            field_dict["ord_type"] = ord_type
        if price is not UNSET:
            field_dict["price"] = price
        if state is not UNSET:
            field_dict["state"] = state
        if market is not UNSET:
            field_dict["market"] = market
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if volume is not UNSET:
            field_dict["volume"] = volume
        if remaining_volume is not UNSET:
            field_dict["remaining_volume"] = remaining_volume
        if reserved_fee is not UNSET:
            field_dict["reserved_fee"] = reserved_fee
        if remaining_fee is not UNSET:
            field_dict["remaining_fee"] = remaining_fee
        if paid_fee is not UNSET:
            field_dict["paid_fee"] = paid_fee
        if locked is not UNSET:
            field_dict["locked"] = locked
        if executed_volume is not UNSET:
            field_dict["executed_volume"] = executed_volume
        if prevented_volume is not UNSET:
            field_dict["prevented_volume"] = prevented_volume
        if prevented_locked is not UNSET:
            field_dict["prevented_locked"] = prevented_locked
        if trades_count is not UNSET:
            field_dict["trades_count"] = trades_count
        if identifier is not UNSET:
            field_dict["identifier"] = identifier
        if time_in_force is not UNSET:
            field_dict["time_in_force"] = time_in_force
        if smp_type is not UNSET:
            field_dict["smp_type"] = smp_type

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        if not isinstance(src_dict, Mapping):
            raise TypeError(
                f"Order must be a JSON object, not {type(src_dict).__name__}"
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

        side = cast(None | str | Unset, d.pop("side", UNSET))
        if not isinstance(
            side,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(f"side must be str or None, not {type(side).__name__}")

        ord_type = cast(None | str | Unset, d.pop("ord_type", UNSET))
        if not isinstance(
            ord_type,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"ord_type must be str or None, not {type(ord_type).__name__}"
            )

        price = cast(None | str | Unset, d.pop("price", UNSET))
        if not isinstance(
            price,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(f"price must be str or None, not {type(price).__name__}")

        state = cast(None | str | Unset, d.pop("state", UNSET))
        if not isinstance(
            state,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(f"state must be str or None, not {type(state).__name__}")

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

        created_at = cast(None | str | Unset, d.pop("created_at", UNSET))
        if not isinstance(
            created_at,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"created_at must be str or None, not {type(created_at).__name__}"
            )

        volume = cast(None | str | Unset, d.pop("volume", UNSET))
        if not isinstance(
            volume,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(f"volume must be str or None, not {type(volume).__name__}")

        remaining_volume = cast(None | str | Unset, d.pop("remaining_volume", UNSET))
        if not isinstance(
            remaining_volume,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"remaining_volume must be str or None, not {type(remaining_volume).__name__}"
            )

        reserved_fee = cast(None | str | Unset, d.pop("reserved_fee", UNSET))
        if not isinstance(
            reserved_fee,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"reserved_fee must be str or None, not {type(reserved_fee).__name__}"
            )

        remaining_fee = cast(None | str | Unset, d.pop("remaining_fee", UNSET))
        if not isinstance(
            remaining_fee,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"remaining_fee must be str or None, not {type(remaining_fee).__name__}"
            )

        paid_fee = cast(None | str | Unset, d.pop("paid_fee", UNSET))
        if not isinstance(
            paid_fee,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"paid_fee must be str or None, not {type(paid_fee).__name__}"
            )

        locked = cast(None | str | Unset, d.pop("locked", UNSET))
        if not isinstance(
            locked,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(f"locked must be str or None, not {type(locked).__name__}")

        executed_volume = cast(None | str | Unset, d.pop("executed_volume", UNSET))
        if not isinstance(
            executed_volume,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"executed_volume must be str or None, not {type(executed_volume).__name__}"
            )

        prevented_volume = cast(None | str | Unset, d.pop("prevented_volume", UNSET))
        if not isinstance(
            prevented_volume,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"prevented_volume must be str or None, not {type(prevented_volume).__name__}"
            )

        prevented_locked = cast(None | str | Unset, d.pop("prevented_locked", UNSET))
        if not isinstance(
            prevented_locked,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"prevented_locked must be str or None, not {type(prevented_locked).__name__}"
            )

        trades_count = cast(int | None | Unset, d.pop("trades_count", UNSET))
        if not isinstance(
            trades_count,
            (
                int,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"trades_count must be int or None, not {type(trades_count).__name__}"
            )

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

        time_in_force = cast(None | str | Unset, d.pop("time_in_force", UNSET))
        if not isinstance(
            time_in_force,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"time_in_force must be str or None, not {type(time_in_force).__name__}"
            )

        smp_type = cast(None | str | Unset, d.pop("smp_type", UNSET))
        if not isinstance(
            smp_type,
            (
                str,
                type(None),
                Unset,
            ),
        ):
            raise TypeError(
                f"smp_type must be str or None, not {type(smp_type).__name__}"
            )

        order = cls(
            uuid=uuid,
            side=side,
            ord_type=ord_type,
            price=price,
            state=state,
            market=market,
            created_at=created_at,
            volume=volume,
            remaining_volume=remaining_volume,
            reserved_fee=reserved_fee,
            remaining_fee=remaining_fee,
            paid_fee=paid_fee,
            locked=locked,
            executed_volume=executed_volume,
            prevented_volume=prevented_volume,
            prevented_locked=prevented_locked,
            trades_count=trades_count,
            identifier=identifier,
            time_in_force=time_in_force,
            smp_type=smp_type,
        )

        order.additional_properties = d
        return order

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

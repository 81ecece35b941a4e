"""Contains all the data models used in inputs/outputs"""

from .cancel_orders_group import CancelOrdersGroup
from .cancel_orders_order import CancelOrdersOrder
from .cancel_orders_result import CancelOrdersResult
from .list_orders_by_ids_order_by import ListOrdersByIdsOrderBy
from .order import Order
from .upbit_error import UpbitError
from .upbit_error_body import UpbitErrorBody

__all__ = (
    "CancelOrdersGroup",
    "CancelOrdersOrder",
    "CancelOrdersResult",
    "ListOrdersByIdsOrderBy",
    "Order",
    "UpbitError",
    "UpbitErrorBody",
)

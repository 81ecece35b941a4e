"""Contains all the data models used in inputs/outputs"""

from .cancel_orders_group import CancelOrdersGroup
from .cancel_orders_order import CancelOrdersOrder
from .cancel_orders_result import CancelOrdersResult
from .upbit_error import UpbitError
from .upbit_error_body import UpbitErrorBody

__all__ = (
    "CancelOrdersGroup",
    "CancelOrdersOrder",
    "CancelOrdersResult",
    "UpbitError",
    "UpbitErrorBody",
)

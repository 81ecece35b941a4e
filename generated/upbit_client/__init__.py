"""A client library for accessing Upbit Exchange API (order list cancel)"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)

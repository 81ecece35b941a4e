"""The one error the auth hook raises itself: keys that are missing, empty or mixed.

It derives from the generated error root, ``upbit_client.errors.UpbitClientError``, so a caller
catching the SDK's errors catches it too; ``upbit_cancel.errors`` re-exports it with the rest of the
tree.
"""

from __future__ import annotations

from upbit_client.errors import UpbitClientError

__all__ = ["MissingCredentials"]


class MissingCredentials(UpbitClientError, ValueError):
    """The API keys are missing, empty or mixed from two naming schemes; the message names what to set."""

"""The one place a guard gets a pocket's client: today from the usual key variables.

``pocket_client(pocket)`` is the seam where per-pocket keys plug in (a keys file, several pockets): a
guard asks it for the client of the pocket a heartbeat names, and nothing else in the guard reads keys.
Today every pocket is served by the one key pair of the environment (``UPBIT_OPEN_API_ACCESS_KEY`` /
``UPBIT_OPEN_API_SECRET_KEY`` and the other pairs ``upbit_auth`` reads), its budget and 418 block shared
under the pocket's name (``connect(pocket=...)``; None: ``UPBIT_POCKET``, else the key's own).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from upbit_auth.auth import key_pair_from_env
from upbit_client import Client

from .client import connect

__all__ = ["pocket_client"]


def pocket_client(
    pocket: str | None,
    *,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    httpx_args: Mapping[str, Any] | None = None,
) -> Client:
    """A ``connect()`` client for ``pocket`` (None: the environment's pocket); ``MissingCredentials`` or
    ``ConfigurationError`` before anything is sent."""
    env = os.environ if environ is None else environ
    access_key, secret_key, _ = key_pair_from_env(env)
    return connect(
        base_url,
        access_key=access_key,
        secret_key=secret_key,
        pocket=pocket,
        timeout=timeout,
        environ=env,
        httpx_args=httpx_args,
    )

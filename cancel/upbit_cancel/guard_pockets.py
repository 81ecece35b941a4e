"""The one place a guard gets a pocket's client, with that pocket's own keys.

``pocket_client(pocket)``: a guard asks it for the client of the pocket a heartbeat names, and nothing
else in the guard reads keys. A named pocket's keys are ``pockets.pocket_keys``'s: the keys file's table
(``$UPBIT_KEYS_FILE``, mode 0600/0400), else ``UPBIT_POCKET_<NAME>_ACCESS_KEY`` / ``_SECRET_KEY``, else
the usual key variables (``UPBIT_OPEN_API_ACCESS_KEY`` / ``UPBIT_OPEN_API_SECRET_KEY`` and the other
pairs ``upbit_auth`` reads). A heartbeat that names no pocket is served by the usual variables, its
budget and 418 block shared under ``UPBIT_POCKET``, else the key's own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from upbit_auth.auth import key_pair_from_env
from upbit_client import Client

from .client import connect
from .pockets import pocket_keys

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
    if pocket is None:
        access_key, secret_key, _ = key_pair_from_env(env)
    else:
        keys = pocket_keys(pocket, environ=env)
        access_key, secret_key = keys.access_key, keys.secret_key.reveal()
    return connect(
        base_url,
        access_key=access_key,
        secret_key=secret_key,
        pocket=pocket,
        timeout=timeout,
        environ=env,
        httpx_args=httpx_args,
    )

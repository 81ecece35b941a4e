"""The names of the settings the command and ``connect()`` read, and the one precedence among them.

Standard library and the generated ``upbit_client.servers`` only (no httpx, no attrs), so that ``upbit-cancel
--help`` can be built without the client (``cli_parser``). Each name is used from its old home too:
``client.DEFAULT_REGION``, ``client.PRECEDENCE``, ``client.SERVER_URL_VARIABLES``,
``pockets.KEYS_FILE_VARIABLE`` and ``store.STORE_ENV`` are these objects.
"""

from __future__ import annotations

from upbit_client.servers import DEFAULT_SERVER, SERVERS

__all__ = ["DEFAULT_REGION", "KEYS_FILE_VARIABLE", "PRECEDENCE", "SERVER_URL_VARIABLES", "STORE_ENV"]

SERVER_URL_VARIABLES = ("UPBIT_OPEN_API_SERVER_URL", "UPBIT_BASE_URL")
DEFAULT_REGION = next((region for region, url in SERVERS.items() if url == DEFAULT_SERVER), "kr")

PRECEDENCE = (
    "The server is the base URL argument (--server-url), else UPBIT_OPEN_API_SERVER_URL, else UPBIT_BASE_URL, "
    f"else the region's host (--region), else {DEFAULT_REGION}'s. Keys are one pair: UPBIT_OPEN_API_ACCESS_KEY and "
    "UPBIT_OPEN_API_SECRET_KEY, else UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY."
)

KEYS_FILE_VARIABLE = "UPBIT_KEYS_FILE"
"""The environment variable naming the keys file when no path is given (``--keys-file``)."""

STORE_ENV = "UPBIT_RATE_LIMIT_STORE"
"""The environment variable naming the shared store (``redis://HOST:PORT/DB``) for the CLI and the library."""

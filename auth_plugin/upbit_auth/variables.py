"""The environment variables ``upbit_auth`` reads: the key pairs and the pocket.

Standard library only, and reached through the lazy package face without loading httpx or PyJWT, so
that a command's ``--help`` can name them (``upbit_cancel.cli_parser``). ``upbit_auth.auth`` reads
them from here; ``upbit_auth.KEY_PAIRS`` and ``upbit_auth.auth.POCKET_VARIABLE`` are the same objects.
"""

from __future__ import annotations

# The key pairs read from the environment, in order of preference: the names of Upbit's own examples
# (the seed's), then those of the official SDK and CLI. Both keys always come from ONE pair: an access
# key from one scheme and a secret from the other never belong together.
KEY_PAIRS: tuple[tuple[str, str], ...] = (
    ("UPBIT_OPEN_API_ACCESS_KEY", "UPBIT_OPEN_API_SECRET_KEY"),
    ("UPBIT_ACCESS_KEY", "UPBIT_SECRET_KEY"),
)
SECRET_KEY_VARIABLES = tuple(secret for _, secret in KEY_PAIRS)
POCKET_VARIABLE = "UPBIT_POCKET"
"""The environment variable naming the pocket the key pair belongs to (see ``UpbitAuth``'s ``pocket``)."""

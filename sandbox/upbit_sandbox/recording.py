"""``vcr_config()``: a vcrpy configuration whose cassettes hold no token and no key.

A cassette recorded the obvious way keeps the ``Authorization: Bearer eyJ…`` header, and the JWT's
payload names the access key. ``vcr_config()`` removes that header, and before anything is written
replaces, in every request and answer (URL, headers, body), any JWT and every key it knows: the
``secrets`` given, and the keys of the pairs ``upbit_auth`` reads from the environment
(``UPBIT_OPEN_API_ACCESS_KEY`` / ``UPBIT_OPEN_API_SECRET_KEY``, ``UPBIT_ACCESS_KEY`` / ``UPBIT_SECRET_KEY``).
Requests are matched without headers, so the fresh nonce of each replayed request does not matter.

Use it as pytest-recording's ``vcr_config`` fixture (``docs/testing.md`` has the recipe)::

    @pytest.fixture(scope="module")
    def vcr_config() -> dict[str, object]:
        return upbit_sandbox.vcr_config()
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["REDACTED", "vcr_config"]

REDACTED: Final = "REDACTED"
"""What stands in a cassette where a token or key was."""

# The environment variables of the key pairs upbit_auth reads (upbit_auth.KEY_PAIRS); restated here
# because the sandbox does not import the SDK's signing side. tests/test_recording.py keeps them equal.
KEY_VARIABLES: Final = (
    "UPBIT_OPEN_API_ACCESS_KEY",
    "UPBIT_OPEN_API_SECRET_KEY",
    "UPBIT_ACCESS_KEY",
    "UPBIT_SECRET_KEY",
)
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_SENSITIVE_HEADERS: Final = ("authorization", "cookie", "set-cookie", "proxy-authorization")


def vcr_config(*secrets: str, environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Keyword arguments for ``vcr.VCR(...)`` / ``use_cassette(...)`` (or pytest-recording's ``vcr_config``).

    ``secrets``: more strings to scrub (keys from elsewhere than the environment). ``environ`` replaces
    ``os.environ`` when looking for the keys. Empty strings are ignored.
    """
    env = os.environ if environ is None else environ
    found = [*secrets, *(env.get(name, "") for name in KEY_VARIABLES)]
    # Longest first, so a key that contains another is replaced whole.
    scrub = _scrubber(sorted({secret for secret in found if secret}, key=len, reverse=True))
    return {
        "filter_headers": list(_SENSITIVE_HEADERS),
        "before_record_request": _scrub_request(scrub),
        "before_record_response": _scrub_response(scrub),
        "decode_compressed_response": True,
        "match_on": ("method", "scheme", "host", "port", "path", "query"),
    }


def _scrubber(secrets: list[str]) -> Callable[[str], str]:
    def scrub(text: str) -> str:
        text = _JWT.sub(REDACTED, text)
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return text

    return scrub


def _scrub_bytes(scrub: Callable[[str], str], body: Any) -> Any:
    if isinstance(body, bytes):
        return scrub(body.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
    if isinstance(body, str):
        return scrub(body)
    return body


def _scrub_request(scrub: Callable[[str], str]) -> Callable[[Any], Any]:
    def before_record_request(request: Any) -> Any:
        request.uri = scrub(request.uri)
        for name in list(request.headers):
            request.headers[name] = scrub(str(request.headers[name]))
        request.body = _scrub_bytes(scrub, request.body)
        return request

    return before_record_request


def _scrub_response(scrub: Callable[[str], str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers") or {}
        for name in list(headers):
            if name.lower() in _SENSITIVE_HEADERS:
                del headers[name]
                continue
            values = headers[name]
            headers[name] = [scrub(str(value)) for value in values] if isinstance(values, list) else scrub(str(values))
        body = response.get("body")
        if isinstance(body, dict) and "string" in body:
            body["string"] = _scrub_bytes(scrub, body["string"])
        return response

    return before_record_response

"""Fast request building for the generated calls.

httpx parses and re-validates the URL once per step when it is handed a relative path plus
``params=`` (merge with base_url, then merge the params: three full parses of a long query).
Encoding the query here, byte for byte as httpx would (``urlencode`` with ``quote_plus``,
JSON-style booleans), and handing httpx one absolute URL gets that down to one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx

__all__ = ["encode_query", "prepare_request"]

_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_SCALARS = (str, int, float)
_STR_ONLY = frozenset((str,))


def _query_text(value: object) -> str | None:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, _SCALARS):
        text = str(value)
        return text if _UNRESERVED.fullmatch(text) else quote_plus(text, safe="")
    return None


def encode_query(params: Mapping[str, object]) -> str | None:
    """The query string httpx would send for ``params``, or None for values it is not sure of."""
    parts: list[str] = []
    for key, value in params.items():
        if not isinstance(key, str):
            return None
        name = key if _UNRESERVED.fullmatch(key) else quote_plus(key, safe="")
        if isinstance(value, (list, tuple)):
            if value and set(map(type, value)) <= _STR_ONLY and _UNRESERVED.fullmatch("".join(value)):
                # The common case (a list of ids): nothing to escape, so one check for all of them.
                parts.append(f"{name}=" + f"&{name}=".join(value))
                continue
            for item in value:
                text = _query_text(item)
                if text is None:
                    return None
                parts.append(f"{name}={text}")
        else:
            text = _query_text(value)
            if text is None:
                return None
            parts.append(f"{name}={text}")
    return "&".join(parts)


_BASE_PREFIXES: dict[int, tuple[httpx.URL, str | None]] = {}


def _base_prefix(base: httpx.URL) -> str | None:
    """``base`` as the string to put a path after, or None when httpx's merging must do it."""
    cached = _BASE_PREFIXES.get(id(base))
    if cached is not None and cached[0] is base:
        return cached[1]
    prefix: str | None = None
    if base.is_absolute_url and not base.query and not base.fragment:
        prefix = str(base)
        if not prefix.endswith("/"):
            prefix += "/"  # "http://host" has the empty path, which httpx merges as "/"
    if len(_BASE_PREFIXES) >= 64:
        _BASE_PREFIXES.clear()
    _BASE_PREFIXES[id(base)] = (base, prefix)  # holding ``base`` keeps its id from being reused
    return prefix


def prepare_request(http: httpx.Client | httpx.AsyncClient, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the base URL joined and ``params`` encoded into one absolute ``url`` when
    that gives the same request as httpx's own merging; otherwise ``kwargs`` unchanged."""
    url = kwargs["url"]
    if not isinstance(url, str) or "?" in url or "#" in url or http.params:
        return kwargs
    prefix = _base_prefix(http.base_url)
    if prefix is None:
        return kwargs
    params = kwargs.get("params")
    query = encode_query(params) if params else ""
    if query is None:
        return kwargs
    path = prefix + url.lstrip("/")
    fast = {key: value for key, value in kwargs.items() if key != "params"}
    fast["url"] = f"{path}?{query}" if query else path
    return fast

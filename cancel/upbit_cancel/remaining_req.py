"""Parsing of the answers' pacing headers: ``Remaining-Req`` (the budget left in the current second) and ``Date``."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

# Group names can contain hyphens (``order-cancel-all``); ``min`` is deprecated and ignored. A ``sec`` of more
# digits than any budget can have (or a header longer than any real one) is unreadable: the header is ignored.
_REMAINING_REQ = re.compile(r"group=(?P<group>[A-Za-z0-9_-]{1,64})\s*;.*?\bsec=(?P<sec>\d{1,9})(?!\d)")
_MAX_HEADER_CHARS = 256
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RemainingReq:
    """``group``: the rate-limit group; ``sec``: requests left in the current whole-second window."""

    group: str
    sec: int


def _header(parse: Callable[[str], T | None]) -> Callable[[str | None], T | None]:
    """``parse`` for a header's value: None for an absent one or one longer than any real header, and cached
    (both parsers are pure, and the answers of one second carry the same few values: each answer costs a
    dictionary lookup instead of a regex or a date parse, issue 16)."""
    cached = functools.lru_cache(maxsize=128)(parse)

    @functools.wraps(parse)
    def parsed(value: str | None) -> T | None:
        return cached(value) if value and len(value) <= _MAX_HEADER_CHARS else None

    return parsed


@_header
def parse_remaining_req(value: str) -> RemainingReq | None:
    """``RemainingReq`` from a header value like ``group=default; min=1800; sec=29``, or None if unreadable."""
    match = _REMAINING_REQ.search(value)
    return None if match is None else RemainingReq(group=match["group"], sec=int(match["sec"]))


@_header
def parse_date_header(value: str) -> float | None:
    """The ``Date`` header (the exchange's clock, whole seconds) as epoch seconds, or None if absent or unreadable."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None

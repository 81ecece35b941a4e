"""Parsing of the answers' pacing headers: ``Remaining-Req`` (the budget left in the current second) and ``Date``."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# Group names can contain hyphens (``order-cancel-all``); ``min`` is deprecated and ignored. A ``sec`` of more
# digits than any budget can have (or a header longer than any real one) is unreadable: the header is ignored.
_REMAINING_REQ = re.compile(r"group=(?P<group>[A-Za-z0-9_-]{1,64})\s*;.*?\bsec=(?P<sec>\d{1,9})(?!\d)")
_MAX_HEADER_CHARS = 256


@dataclass(frozen=True, slots=True)
class RemainingReq:
    """``group``: the rate-limit group; ``sec``: requests left in the current whole-second window."""

    group: str
    sec: int


def parse_remaining_req(value: str | None) -> RemainingReq | None:
    """``RemainingReq`` from a header value like ``group=default; min=1800; sec=29``, or None if unreadable."""
    if not value or len(value) > _MAX_HEADER_CHARS:
        return None
    return _remaining_req(value)


# Both parsers are pure, and the answers of one second carry the same few header values: cached (short
# values only), each answer costs a dictionary lookup instead of a regex or a date parse (issue 16).
@functools.lru_cache(maxsize=128)
def _remaining_req(value: str) -> RemainingReq | None:
    match = _REMAINING_REQ.search(value)
    if match is None:
        return None
    return RemainingReq(group=match["group"], sec=int(match["sec"]))


def parse_date_header(value: str | None) -> float | None:
    """The ``Date`` header (the exchange's clock, whole seconds) as epoch seconds, or None if absent or unreadable."""
    if not value or len(value) > _MAX_HEADER_CHARS:
        return None
    return _date(value)


@functools.lru_cache(maxsize=128)
def _date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None

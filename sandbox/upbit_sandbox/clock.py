"""The sandbox exchange's own clock: the local clock shifted by a fixed offset, as a real exchange's would be.

Upbit counts its rate windows in whole seconds of ITS clock and stamps every answer with a ``Date``
header from that clock. A caller's clock is never exactly the exchange's, so the sandbox can run
ahead of (positive offset) or behind (negative offset) the machine's clock: the rate windows and the
``Date`` header both follow ``ExchangeClock``, and nothing else in the sandbox reads time directly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from email.utils import formatdate

__all__ = ["ExchangeClock", "http_date"]


class ExchangeClock:
    """``base() + offset`` seconds: the exchange's wall clock. Callable, so it stands in for ``time.time``."""

    def __init__(self, base: Callable[[], float] = time.time, offset: float = 0.0) -> None:
        self.base = base
        self.offset = offset

    def __call__(self) -> float:
        return self.base() + self.offset

    def __repr__(self) -> str:
        return f"ExchangeClock(offset={self.offset:+g})"


def http_date(now: float) -> str:
    """The RFC 9110 ``Date`` value of ``now``: whole seconds, truncated (as servers stamp it), in GMT."""
    return formatdate(float(math.floor(now)), usegmt=True)

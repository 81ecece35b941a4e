"""The event loop of a test mode: the async batch and sweep run on asyncio and on trio alike (anyio)."""

from __future__ import annotations

import pytest


def backend(mode: str) -> str:
    """anyio's backend name for a test ``mode``: "trio" runs on trio, any other async mode on asyncio."""
    return "trio" if mode == "trio" else "asyncio"


# The process-wide limiters (``ratelimit.limiter_for``) wait with ``RateLimiter``'s default ``async_sleep``,
# which is ``asyncio.sleep``: on trio a batch or sweep that must wait for its budget fails ("no running event
# loop") until that default is ``anyio.sleep`` (ratelimit.py, another helper's; one line). Strict: once it
# is, these cases pass and the marks must go.
LIMITER_SLEEPS_ON_ASYNCIO = "ratelimit.RateLimiter's default async_sleep is asyncio.sleep (not anyio.sleep)"


def limiter_waits(request: pytest.FixtureRequest, mode: str) -> None:
    """Mark a test whose default limiter must wait as expected to fail on trio (``LIMITER_SLEEPS_ON_ASYNCIO``)."""
    if mode == "trio":
        request.applymarker(pytest.mark.xfail(strict=True, raises=RuntimeError, reason=LIMITER_SLEEPS_ON_ASYNCIO))

"""The event loop of a test mode: the async batch and sweep run on asyncio and on trio alike (anyio)."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from upbit_cancel.ratelimit import RateLimiter


def backend(mode: str) -> str:
    """anyio's backend name for a test ``mode``: "trio" runs on trio, any other async mode on asyncio."""
    return "trio" if mode == "trio" else "asyncio"


# The process-wide limiters (``ratelimit.limiter_for``) wait with ``RateLimiter``'s default ``async_sleep``.
# Where that default is ``asyncio.sleep``, a batch or sweep on trio that must wait for its budget fails ("no
# running event loop"); once it is ``anyio.sleep`` (ratelimit.py, another helper's change), these cases run
# as any other and ``limiter_waits`` marks nothing.
LIMITER_SLEEPS_ON_ASYNCIO = "ratelimit.RateLimiter's default async_sleep is asyncio.sleep (not anyio.sleep)"
_DEFAULT_SLEEP = inspect.signature(RateLimiter.__init__).parameters["async_sleep"].default


def limiter_waits(request: pytest.FixtureRequest, mode: str) -> None:
    """Mark a test whose default limiter must wait as expected to fail on trio while the limiter's default
    sleep is asyncio's (``LIMITER_SLEEPS_ON_ASYNCIO``)."""
    if mode == "trio" and _DEFAULT_SLEEP is asyncio.sleep:
        request.applymarker(pytest.mark.xfail(strict=True, raises=RuntimeError, reason=LIMITER_SLEEPS_ON_ASYNCIO))

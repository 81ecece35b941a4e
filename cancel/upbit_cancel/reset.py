"""``reset_pacing()``: forget the rate budgets, learned window phases and 418 blocks this process holds.

The batch paces every request of an access key through one process-wide limiter (``ratelimit``), so
a 418 met by one batch stops all of them, as Upbit wants. In a test suite that sharing is a leak: a
test that provokes a 418 would leave the next test, on a brand-new fake exchange with the same demo
keys, sending nothing. Call ``reset_pacing()`` between such tests (the ``upbit_client`` fixtures of
``upbit_sandbox``'s pytest plugin do it for you), or after the keys changed. A shared store
(``rate_limit_store``, Redis) is other processes' too and is left as it is.
"""

from __future__ import annotations

from .ratelimit import reset_limiters

__all__ = ["reset_pacing"]


def reset_pacing() -> None:
    """Forget every limiter of this process: budgets, window phases and 418 blocks; the next batch starts afresh."""
    reset_limiters()

"""``BatchCancelled``, in a module of its own: an ``asyncio.CancelledError``, so importing it imports asyncio.

``upbit_cancel.errors.BatchCancelled`` loads it on first use (a module ``__getattr__``), so that the sync
batch's import path (``upbit_cancel.batch``, ``errors``) does not load asyncio, which it never runs on
(``tests/test_startup_imports.py``). The class says it is ``upbit_cancel.errors.BatchCancelled``, as it was.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .errors import _partial

if TYPE_CHECKING:
    from .results import BatchResult

__all__ = ["BatchCancelled"]


class BatchCancelled(asyncio.CancelledError):
    """An async batch's task was cancelled under asyncio; ``report`` is what was learned, every id in exactly
    one group.

    An ``asyncio.CancelledError``, so cancellation still propagates as asyncio expects. Under trio it is never
    raised (trio's ``Cancelled`` may not be replaced by another exception type): the batch hands the same
    report to its ``report_to`` before the cancellation goes on (docs/outcomes.md).
    """

    __module__ = "upbit_cancel.errors"

    def __init__(self, report: BatchResult) -> None:
        super().__init__(_partial(report))
        self.report = report

"""One library batch or sweep in a process of its own, for the hostile-exchange tables
(``tests/test_hostile_exchange.py``).

``python -m tests.hostile_client MODE URL KIND IDS_FILE TIMEOUT`` runs, against URL with the keys of the
environment as a program would:

- MODE ``sync`` / ``async``: ``cancel_orders`` / ``cancel_orders_async`` of the ids of IDS_FILE (one per line)
  by KIND (``uuids`` or ``identifiers``);
- MODE ``sweep-sync`` / ``sweep-async``: ``cancel_open_orders`` / ``cancel_open_orders_async`` (every open
  order; KIND and IDS_FILE are not read).

It prints ``{"status": ..., "report": ..., "error": ..., "peak_rss": ...}``: the report's ``to_dict()`` and the
exit status the command would give it (``upbit_cancel.cli.exit_status``), or, when the call raised an error
of the SDK's tree, ``error`` (the class names of its MRO) and no report; ``peak_rss`` is this program's own
high-water mark (Linux's ``VmHWM``, read at the end): the ``ru_maxrss`` a parent reads from ``wait4`` also
counts the parent's memory copied at fork (a pytest-xdist worker's hundreds of MB).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from upbit_cancel import (
    BatchResult,
    cancel_open_orders,
    cancel_open_orders_async,
    cancel_orders,
    cancel_orders_async,
    connect,
)
from upbit_cancel.cli import exit_status
from upbit_client.errors import UpbitClientError


def run(mode: str, url: str, kind: str, ids: list[str], timeout: float) -> BatchResult:
    # Like the command: the request timeout no longer than the batch's.
    client = connect(url, timeout=min(timeout, 5.0))
    id_args = {"uuids": ids} if kind == "uuids" else {"identifiers": ids}
    if mode == "sync":
        with client:
            return cancel_orders(client, **id_args, timeout_total=timeout)
    if mode == "sweep-sync":
        with client:
            return cancel_open_orders(client, timeout_total=timeout)

    async def go() -> BatchResult:
        async with client:
            if mode == "sweep-async":
                return await cancel_open_orders_async(client, timeout_total=timeout)
            return await cancel_orders_async(client, **id_args, timeout_total=timeout)

    return asyncio.run(go())


def peak_rss() -> int:
    """This process's peak resident memory since it started this program (Linux's ``VmHWM``), in bytes."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> int:
    mode, url, kind, ids_file, timeout = argv
    ids = Path(ids_file).read_text(encoding="utf-8").splitlines()
    out: dict[str, Any] = {"status": None, "report": None, "error": None}
    try:
        result = run(mode, url, kind, ids, float(timeout))
    except UpbitClientError as exc:
        out["error"] = [cls.__name__ for cls in type(exc).__mro__]
    else:
        out["status"], _reason = exit_status(result)
        out["report"] = result.to_dict()
    out["peak_rss"] = peak_rss()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

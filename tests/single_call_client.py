"""One generated call on a ``connect()`` client in a process of its own, for ``tests/test_one_request_path.py``.

``python -m tests.single_call_client sync|async single|listing URL TIMEOUT [http2]`` sends one call
(``cancel_orders_by_ids`` for ``single``, ``list_open_orders`` for ``listing``) with the keys of the
environment and prints ``{"error": [class names of its MRO], "message": ..., "elapsed": seconds, "peak_rss":
bytes}`` (``error`` null if the call returned). ``peak_rss`` is this program's own high-water mark
(``VmHWM``): the ``ru_maxrss`` a parent reads also counts the parent's memory copied at fork.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from upbit_cancel import connect
from upbit_client.api.order import cancel_orders_by_ids, list_open_orders


def call(mode: str, kind: str, url: str, timeout: float, http2: bool = False) -> Any:
    client = connect(url, timeout=timeout, httpx_args={"http2": True} if http2 else None)
    ids = [str(uuid.uuid4())]
    if mode == "sync":
        with client:
            if kind == "single":
                return cancel_orders_by_ids.sync_detailed(client=client, uuids=ids)
            return list_open_orders.sync_detailed(client=client)

    async def go() -> Any:
        async with client:
            if kind == "single":
                return await cancel_orders_by_ids.asyncio_detailed(client=client, uuids=ids)
            return await list_open_orders.asyncio_detailed(client=client)

    return asyncio.run(go())


def peak_rss() -> int:
    """This process's peak resident memory since it started this program (Linux's ``VmHWM``), in bytes."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> int:
    mode, kind, url, timeout, *rest = argv
    started = time.monotonic()
    error: list[str] | None = None
    message = ""
    try:
        call(mode, kind, url, float(timeout), http2=rest == ["http2"])
    except Exception as exc:
        error = [f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__]
        message = str(exc)[:300]
    elapsed = time.monotonic() - started
    print(json.dumps({"error": error, "message": message, "elapsed": elapsed, "peak_rss": peak_rss()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

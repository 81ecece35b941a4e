"""One library batch in a process of its own, for the hostile-exchange table (``tests/test_hostile_exchange.py``).

``python -m tests.hostile_client sync|async URL KIND IDS_FILE TIMEOUT`` cancels the ids of IDS_FILE (one per
line) by KIND (``uuids`` or ``identifiers``) against URL with the keys of the environment, as a program
would, and prints ``{"status": ..., "report": ...}``: the report's ``to_dict()`` and the exit status the
command would give it (``upbit_cancel.cli.exit_status``). The table reads this process's peak memory.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from upbit_cancel import BatchResult, cancel_orders, cancel_orders_async, connect
from upbit_cancel.cli import exit_status


def run(mode: str, url: str, kind: str, ids: list[str], timeout: float) -> BatchResult:
    # Like the command: the request timeout no longer than the batch's.
    client = connect(url, timeout=min(timeout, 5.0))
    id_args = {"uuids": ids} if kind == "uuids" else {"identifiers": ids}
    if mode == "sync":
        with client:
            return cancel_orders(client, **id_args, timeout_total=timeout)

    async def go() -> BatchResult:
        async with client:
            return await cancel_orders_async(client, **id_args, timeout_total=timeout)

    return asyncio.run(go())


def main(argv: list[str]) -> int:
    mode, url, kind, ids_file, timeout = argv
    ids = Path(ids_file).read_text(encoding="utf-8").splitlines()
    result = run(mode, url, kind, ids, float(timeout))
    status, _reason = exit_status(result)
    print(json.dumps({"status": status, "report": result.to_dict()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

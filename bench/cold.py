"""Cold starts (issue 26, item 4): processes spawned together on a FRESH store, from spawn to the last exit.

Each cell spawns its processes at the same fraction of a second and times from the first spawn to the last
exit (imports, client, batch, exit: what a bot restarted by a deploy pays), against ONE process with no store
sending the same orders, spawned at the same fraction of a second in the same run:

- ``N x 300, fresh store``: N processes (one pocket, the demo key), the store flushed before the cell;
- ``N x 300, phase stored``: the same with the phase a previous cell stored left in place (counts expired):
  what learning the phase costs;
- ``2 keys x 600, fresh store``: two keys named into one pocket, one process each;
- ``N x idle``: N processes that import the same modules and exit (the spawn and import cost of N
  interpreters on this machine's cores, which no pacing rule can win back).

``bench/cold.py URL FIRST COUNT [--store URL] [--second-key] [--idle]`` is one such process (lean imports,
as a bot's); with ``UPBIT_COLD_TRACE=1`` it reports when it got each permit, each refusal of the store and
when it first knew the phase, relative to its spawn (``--spawned``).
Run by ``bench/run.py`` (sections 5 and 10, ``--only 5`` / ``--only 10``, or ``--only 20`` for this alone).
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Generator

_STARTED = time.time()

POCKET = "bots"
SECOND_KEY = "bench-second-key-of-the-pocket"
SECOND_SECRET = "bench-second-secret-of-the-pocket-0123456789abcdef0123456789abcdef"


def _trace(events: list[tuple[str, float, float]]) -> None:
    """Log each permit, each wait and when the phase was first known (bench-only wrapping of the limiter): every
    try, blocking or, with a store on asyncio, awaited on the loop (``redis_store.LoopBudget``)."""
    from upbit_cancel import ratelimit

    try_once, record = ratelimit.RateLimiter._try, ratelimit.RateLimiter.record

    def tried(self: ratelimit.RateLimiter, got: object) -> object:
        now = time.time()
        known = self.phase.known
        if known and not any(e[0] == "known" for e in events):
            events.append(("known", now, 0.0))
        events.append(("permit", now, 0.0) if not isinstance(got, float) else ("wait", now, got))
        return got

    def traced_try(self: ratelimit.RateLimiter, backlog: int) -> Generator[Any, object, object]:
        return tried(self, (yield from try_once(self, backlog)))

    def traced_record(self: ratelimit.RateLimiter, permit: ratelimit.Permit, *args: object, **kwargs: object) -> None:
        record(self, permit, *args, **kwargs)  # type: ignore[arg-type]
        if self.phase.known and not any(e[0] == "known" for e in events):
            events.append(("known", time.time(), 0.0))

    ratelimit.RateLimiter._try = traced_try  # type: ignore[method-assign,assignment]
    ratelimit.RateLimiter.record = traced_record  # type: ignore[method-assign]


def cold_worker(argv: list[str]) -> int:
    """One process of a cell: cancel ``COUNT`` demo orders from ``FIRST`` and print one JSON line."""
    import argparse
    import asyncio
    import os

    import httpx
    from demo_identity import demo_identity  # bench/demo_identity.py

    from upbit_auth import UpbitAuth
    from upbit_cancel.batch import cancel_orders_async
    from upbit_client import Client

    parser = argparse.ArgumentParser()
    for name in ("url", "first", "count"):
        parser.add_argument(name)
    parser.add_argument("--store")
    parser.add_argument("--spawned", type=float, default=_STARTED)
    parser.add_argument("--second-key", action="store_true")
    parser.add_argument("--idle", action="store_true")
    args = parser.parse_args(argv)
    imported = time.time()
    if args.idle:
        print(json.dumps({"imported": imported - args.spawned}), flush=True)
        return 0
    events: list[tuple[str, float, float]] = []
    if os.environ.get("UPBIT_COLD_TRACE"):
        _trace(events)
    demo_access, demo_secret, demo_uuid = demo_identity()
    access, secret = (SECOND_KEY, SECOND_SECRET) if args.second_key else (demo_access, demo_secret)
    uuids = [demo_uuid(f"demo-{n:04d}") for n in range(int(args.first), int(args.first) + int(args.count))]
    client = Client(base_url=args.url, httpx_args={"auth": UpbitAuth(access, secret, pocket=POCKET)},
                    timeout=httpx.Timeout(10.0))  # fmt: skip

    async def run() -> tuple[object, float]:
        async with client:
            begun = time.time()
            return await cancel_orders_async(client, uuids=uuids, rate_limit_store=args.store or ""), begun

    result, begun = asyncio.run(run())
    ended = time.time()
    base = args.spawned
    out = {
        "imported": imported - base,
        "begun": begun - base,
        "ended": ended - base,
        "429": result.rate_limited,  # type: ignore[attr-defined]
        "requests": result.requests_sent,  # type: ignore[attr-defined]
        "cancelled": len(result.success),  # type: ignore[attr-defined]
        "trace": [(kind, round(t - base, 4), round(w, 4)) for kind, t, w in events],
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cold_worker(sys.argv[1:]))

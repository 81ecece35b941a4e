"""Sections 1 and 8 of bench/run.py on connect() clients, for a side-by-side of two trees.

.venv/bin/python bench/transport_side_by_side.py ROUNDS RUNS   (from a tree's root, with its own .venv;
the script may be copied into an older tree to run it there)
Section 1: every SDK request inside reading.bounded (the batch's path: bounded, not paced), the
client from connect() (its one transport on this branch; install()ed httpx transport on main).
Section 8: the batch on connect() clients.
"""

import sys
from types import SimpleNamespace

sys.path.insert(0, "bench")
import run

from upbit_cancel import connect, reading
from upbit_client.api.order import cancel_orders_by_ids as real
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY


def client(base_url, httpx_args=None, timeout=None):
    return connect(base_url, access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY, timeout=timeout or 10.0)


def sync_detailed(client, **kwargs):
    http = client.get_httpx_client()
    reading.install(http)
    with reading.bounded(30.0):
        return real.sync_detailed(client=client, **kwargs)


run.Client = client
run.cancel_orders_by_ids = SimpleNamespace(sync_detailed=sync_detailed)
rounds, runs = int(sys.argv[1]), int(sys.argv[2])
run.bench_overhead(rounds=rounds, per_round=200)
run.bench_latency([0.0, 0.020], runs=runs)

"""Section 4's second environment: the SDK as a user installs it, from its wheel, with its dependencies only.

The development venv is an editable install with every test tool beside it: trio and h2 there make
``import httpcore`` twice as slow as in a user's environment (httpcore imports them when they are
installed), and an editable install has no ``_build_version.py``. So section 4 also builds the wheel
from a fresh sdist (as ``make dist`` does, without its test gate), installs it into a new venv with
its runtime dependencies only (from ``dist/`` when ``make wheelhouse`` filled it, else from the index),
and times the same commands there.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


_USER_PYTHONS: dict[str, str] = {}
"""The users' venvs built so far in this bench run, by extras (kept until the run ends)."""


def user_python(extras: str = "") -> str:
    """The python of a user's venv with ``extras`` (built once per bench run), else this venv's (reason printed).

    Section 4 times the imports in it too. Processes that stand for a deployed bot or kill switch (section 18's
    fresh process, the cold starts of sections 5 and 10) run from it: the development venv's trio and h2 make
    ``import httpcore`` (at the first ``connect()``) some 60-100 ms slower per process than in a user's
    environment (the module's docstring).
    ``BENCH_DEV_PROCESSES=1`` keeps them in this venv instead.
    """
    if os.environ.get("BENCH_DEV_PROCESSES") == "1":
        return sys.executable
    if extras not in _USER_PYTHONS:
        folder = Path(tempfile.mkdtemp(prefix="bench-user-"))
        atexit.register(shutil.rmtree, folder, True)
        try:
            _build_and_install(folder, extras)
            _USER_PYTHONS[extras] = str(folder / "venv" / "bin" / "python")
        except (subprocess.CalledProcessError, OSError) as error:
            print(f"  (a user's venv [{extras}] could not be built: {error}; these processes run in this venv)")
            _USER_PYTHONS[extras] = sys.executable
    return _USER_PYTHONS[extras]


def demo_env() -> dict[str, str]:
    """The sandbox's demo identity for a process that cannot import ``upbit_sandbox`` (a user's venv):
    ``demo_identity()`` reads it back."""
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
    from upbit_sandbox.exchange import _DEMO_NAMESPACE  # the demo orders' uuids: uuid5 of their labels in it

    return {"BENCH_DEMO": json.dumps([DEMO_ACCESS_KEY, DEMO_SECRET_KEY, str(_DEMO_NAMESPACE)])}


def _build_and_install(where: Path, extras: str = "") -> None:
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "timeout": 600}
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(where), str(ROOT)], **quiet)
    subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], **quiet)
    wheel = next(where.glob("upbit_order_cancel-*.whl"))
    pip = [str(where / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    house = ROOT / "dist"
    source = ["--find-links", str(house)] if any(house.glob("httpx-*.whl")) else []
    if source and not extras:
        source.insert(0, "--no-index")  # the wheelhouse holds the runtime dependencies, not every extra's
    subprocess.run([*pip, *source, f"{wheel}[{extras}]" if extras else str(wheel)], **quiet)


# The sandbox for the first-request row: it prints the wall-clock time (time.time(), comparable across
# processes on one machine) at which the exchange is handed its first request, then keeps serving.
_FIRST_REQUEST_SERVER = """
import signal, sys, threading, time
from upbit_sandbox import SandboxExchange, start_server
from upbit_sandbox.book import seed_open_orders
tls = None
if sys.argv[1:] == ["tls"]:  # HTTPS with a CA of its own, printed for the client to trust (SSL_CERT_FILE)
    from upbit_sandbox.tls import SandboxTLS
    made = SandboxTLS()
    tls = made.server_context()
    print("ca", made.ca_file, flush=True)
exchange = SandboxExchange()
seed_open_orders(exchange, 100, watch_every=10)
handle, first = exchange.handle, threading.Event()
def noted(*args, **kwargs):
    if not first.is_set():
        first.set()
        print("first request at", repr(time.time()), flush=True)
    return handle(*args, **kwargs)
exchange.handle = noted
server, url = start_server(exchange, tls=tls)
print("listening on", url, flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
"""


def _with_public_roots(ca: Path, env: dict[str, str]) -> str:
    """A bundle of the public roots a run to Upbit trusts (``SSL_CERT_FILE``, else certifi's) and the sandbox's
    CA: parsing it costs what parsing the real bundle does (~140 roots), not one certificate's worth."""
    import certifi

    bundle = ca.with_name(f"{ca.stem}-with-public-roots.pem")  # beside the sandbox's own temporary CA
    public = Path(env.get("SSL_CERT_FILE") or certifi.where()).read_text()
    bundle.write_text(public + "\n" + ca.read_text())
    return str(bundle)


def time_to_first_request(command: Path, env: dict[str, str], keys: tuple[str, str], *, tls: bool = False) -> float:
    """Seconds from spawning ``upbit-cancel --open --dry-run`` to the sandbox being handed its first request.

    A fresh sandbox per run (in this venv's python, whatever venv ``command`` is from), 100 open orders;
    the command's keys are the sandbox's demo pair. The clock is the wall clock of both processes.
    ``tls``: the sandbox serves HTTPS and the command trusts its CA through ``SSL_CERT_FILE``, as a run to
    Upbit parses a CA bundle and shakes hands before its first request.
    """
    argv = [sys.executable, "-c", _FIRST_REQUEST_SERVER, *(["tls"] if tls else [])]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if line.startswith("ca "):
            env = {**env, "SSL_CERT_FILE": _with_public_roots(Path(line.split(maxsplit=1)[1].strip()), env)}
            line = server.stdout.readline()
        url = line.split()[-1]
        env = {**env, "UPBIT_OPEN_API_ACCESS_KEY": keys[0], "UPBIT_OPEN_API_SECRET_KEY": keys[1]}
        start = time.time()
        argv = [str(command), "--open", "--dry-run", "--server-url", url]
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        line = server.stdout.readline()
        if not line.startswith("first request at"):
            raise RuntimeError(f"the sandbox saw no request: {line!r}")
        return float(line.split()[-1]) - start
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
        if "SSL_CERT_FILE" in env and env["SSL_CERT_FILE"].endswith("-with-public-roots.pem"):
            Path(env["SSL_CERT_FILE"]).unlink(missing_ok=True)

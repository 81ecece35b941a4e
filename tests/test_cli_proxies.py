"""A proxy setting that cannot work ends the command with exit 2 naming the variable (issue 23 row 6):
``connect()`` raises ``ConfigurationError`` for it before anything is sent, and the command maps that to
bad usage, never "unexpected", exit 3. Only the proxy the server's scheme would use is read (the sandbox
speaks plain HTTP, so these set HTTP's or every scheme's)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, start_server

UPBIT_CANCEL = Path(sys.executable).parent / "upbit-cancel"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ALL_PROXY", "socks5://127.0.0.1:1080"), ("HTTP_PROXY", "::bad::"), ("http_proxy", "ftp://proxy:21")],
    ids=["socks-without-socksio", "http-proxy-malformed", "lower-case-proxy-of-a-scheme-no-proxy-speaks"],
)
def test_a_proxy_variable_that_cannot_work_exits_2_naming_the_variable(variable: str, value: str) -> None:
    if variable == "ALL_PROXY":
        assert importlib.util.find_spec("socksio") is None, "this case needs an environment without socksio"
    exchange = SandboxExchange()
    order = exchange.add_order()
    server, url = start_server(exchange)
    proxies = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPBIT_") and k.upper() not in proxies}
    env |= {"UPBIT_OPEN_API_ACCESS_KEY": DEMO_ACCESS_KEY, "UPBIT_OPEN_API_SECRET_KEY": DEMO_SECRET_KEY, variable: value}
    try:
        done = subprocess.run(
            [str(UPBIT_CANCEL), "--uuid", order.uuid, "--server-url", url],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        server.stop()
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("upbit-cancel: error: ")
    assert variable in done.stderr and "unexpected" not in done.stderr and "Traceback" not in done.stderr
    assert exchange.requests == [] and done.stdout == ""

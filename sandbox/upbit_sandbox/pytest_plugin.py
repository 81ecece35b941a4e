"""pytest fixtures for code that cancels Upbit orders: a fresh verifying exchange and clients connected to it.

pytest loads this module by itself once ``upbit-order-cancel-sandbox`` is installed (its ``pytest11``
entry point): there is nothing to import or configure. Each fixture is per test.

- ``upbit_exchange``: a new ``SandboxExchange`` with the demo book (``demo-0001`` … ``demo-0040`` open,
  plus filled and cancelled ones) and the demo keys; queue faults on ``upbit_exchange.faults``.
- ``upbit_client``: a client from ``upbit_cancel.connect`` signed with the demo keys, sending to
  ``upbit_exchange`` in-process (nothing leaves the process; the environment's keys and server URL
  are never read), closed after the test.
- ``upbit_async_client``: the same for ``async`` code (``cancel_orders_async``, ``asyncio_detailed``), on
  any event loop and with any plugin that runs it (pytest-asyncio, anyio's on asyncio or trio): it is a
  plain fixture, and it closes what the test left open on a loop of its own (``_close``).

- ``upbit_https_server`` / ``upbit_h2_server``: ``upbit_exchange`` served over real HTTPS on 127.0.0.1
  (HTTP/1.1; or HTTP/2 and HTTP/1.1 through ALPN), with a certificate made for the test: a
  ``ServedSandbox`` whose ``url`` and ``ca_file`` a client passes on, e.g.
  ``connect(server.url, ..., httpx_args={"verify": server.ca_file})`` or ``SSL_CERT_FILE`` for a child
  process. Needs the ``[tls]`` extra (``trustme``; ``hypercorn`` for HTTP/2).

Every test that uses them starts and ends with ``upbit_cancel.reset_pacing()``: the process-wide
rate budgets and 418 blocks of one test never reach another. Tests that build their own clients call
``reset_pacing()`` themselves. ``docs/testing.md`` shows them at work.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from upbit_client import Client

    from .exchange import SandboxExchange

# pytest loads this module in every project where the sandbox is installed: the SDK is imported only
# when a test asks for a fixture, so other projects' test runs do not pay for it.

__all__ = [
    "ServedSandbox",
    "upbit_async_client",
    "upbit_client",
    "upbit_exchange",
    "upbit_h2_server",
    "upbit_https_server",
]


@dataclass(frozen=True)
class ServedSandbox:
    """A sandbox exchange served over HTTPS for one test: where it listens and the CA file to trust."""

    url: str
    ca_file: str
    exchange: SandboxExchange


def _connect(exchange: SandboxExchange) -> Client:
    from upbit_cancel import connect
    from upbit_client.registry import DEFAULT_SERVER

    from .exchange import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    # The URL is the real default server's on purpose: the transport answers in-process, so a test
    # can never reach it, and UPBIT_OPEN_API_SERVER_URL in the developer's shell is never consulted.
    return connect(
        DEFAULT_SERVER,
        access_key=DEMO_ACCESS_KEY,
        secret_key=DEMO_SECRET_KEY,
        httpx_args={"transport": exchange.transport()},
    )


@pytest.fixture
def upbit_exchange() -> Iterator[SandboxExchange]:
    """A fresh verifying exchange holding the demo book, with pacing reset before and after the test."""
    from upbit_cancel import reset_pacing

    from .exchange import SandboxExchange

    reset_pacing()
    exchange = SandboxExchange()
    exchange.seed_demo_orders()
    try:
        yield exchange
    finally:
        reset_pacing()


@pytest.fixture
def upbit_client(upbit_exchange: SandboxExchange) -> Iterator[Client]:
    """A client connected to ``upbit_exchange`` with its demo keys, for sync code (``with`` it or not)."""
    client = _connect(upbit_exchange)
    try:
        yield client
    finally:
        _close(client)


@pytest.fixture
def upbit_async_client(upbit_exchange: SandboxExchange) -> Iterator[Client]:
    """A client connected to ``upbit_exchange`` with its demo keys, for async code (any event loop)."""
    client = _connect(upbit_exchange)
    try:
        yield client
    finally:
        _close(client)


@pytest.fixture
def upbit_https_server(upbit_exchange: SandboxExchange) -> Iterator[ServedSandbox]:
    """``upbit_exchange`` over HTTPS (HTTP/1.1) on 127.0.0.1, with a CA made for this test (``ca_file``)."""
    from .server import start_server
    from .tls import SandboxTLS

    tls = SandboxTLS()
    server, url = start_server(upbit_exchange, tls=tls.server_context())
    try:
        yield ServedSandbox(url, str(tls.ca_file), upbit_exchange)
    finally:
        server.stop()
        tls.close()


@pytest.fixture
def upbit_h2_server(upbit_exchange: SandboxExchange) -> Iterator[ServedSandbox]:
    """``upbit_exchange`` over HTTPS offering HTTP/2 and HTTP/1.1 through ALPN (hypercorn), CA in ``ca_file``."""
    from .h2_server import Http2Server

    server = Http2Server(upbit_exchange)
    server.start()
    try:
        yield ServedSandbox(server.url, str(server.tls.ca_file), upbit_exchange)
    finally:
        server.stop()


def _close(client: Client) -> None:
    """Close what the test left open; the test may have closed it already (``with`` / ``async with``).

    The async client is closed without the test's loop, which by now has ended or is not this fixture's
    to use, whichever plugin ran it (pytest-asyncio, anyio's on asyncio or trio). Its transport answers
    in-process, so closing it does no I/O and any loop will do: a short one of anyio's own, in a thread of
    its own, so that it never meets a loop still running in this one.
    """
    from concurrent.futures import ThreadPoolExecutor

    import anyio

    client.get_httpx_client().close()
    http = client.get_async_httpx_client()
    if not http.is_closed:
        with ThreadPoolExecutor(1, thread_name_prefix="upbit-sandbox-close") as closer:
            closer.submit(anyio.run, http.aclose).result()

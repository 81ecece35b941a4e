"""pytest fixtures for code that cancels Upbit orders: a fresh verifying exchange and clients connected to it.

pytest loads this module by itself once ``upbit-order-cancel-sandbox`` is installed (its ``pytest11``
entry point): there is nothing to import or configure. Each fixture is per test.

- ``upbit_exchange``: a new ``SandboxExchange`` with the demo book (``demo-0001`` … ``demo-0040`` open,
  plus filled and cancelled ones) and the demo keys; queue faults on ``upbit_exchange.faults``.
- ``upbit_client``: a client from ``upbit_cancel.connect`` signed with the demo keys, sending to
  ``upbit_exchange`` in-process (nothing leaves the process; the environment's keys and server URL
  are never read), closed after the test.
- ``upbit_pockets``: a ``SandboxPockets``, an exchange of pockets only (no shared demo book): ``add("a")``
  issues pocket ``a`` its own keys, budget and demo book (``a-0001`` …) and returns a ``connect()`` client
  signed with its keys, in-process; ``clients`` holds them all by name (for ``sweep_pockets``).
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

A fault queued on ``upbit_exchange.faults`` that no request took by the end of a test fails that test
at teardown, naming the faults left: a test that meant to exercise a fault and never did would pass in
silence otherwise (pytest-httpx does the same for unused answers). A test that failed already is not
failed again. ``@pytest.mark.upbit_allow_unused_faults(reason="...")`` opts a test out (``MARKER``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from upbit_client import Client

    from .exchange import SandboxExchange

# pytest loads this module in every project where the sandbox is installed: the SDK is imported only
# when a test asks for a fixture, so other projects' test runs do not pay for it.

__all__ = [
    "MARKER",
    "SandboxPockets",
    "ServedSandbox",
    "upbit_async_client",
    "upbit_client",
    "upbit_exchange",
    "upbit_h2_server",
    "upbit_https_server",
    "upbit_pockets",
]

MARKER: Final = "upbit_allow_unused_faults"
"""The marker that lets a test end with faults still queued on ``upbit_exchange`` (give a ``reason``)."""
_CALL_PASSED = pytest.StashKey[bool]()


@dataclass(frozen=True)
class ServedSandbox:
    """A sandbox exchange served over HTTPS for one test: where it listens and the CA file to trust."""

    url: str
    ca_file: str
    exchange: SandboxExchange


def _connect(exchange: SandboxExchange, keys: tuple[str, str] | None = None, pocket: str | None = None) -> Client:
    from upbit_cancel import connect
    from upbit_client.registry import DEFAULT_SERVER

    from .exchange import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    access_key, secret_key = keys or (DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    # The URL is the real default server's on purpose: the transport answers in-process, so a test
    # can never reach it, and UPBIT_OPEN_API_SERVER_URL in the developer's shell is never consulted.
    return connect(
        DEFAULT_SERVER,
        access_key=access_key,
        secret_key=secret_key,
        pocket=pocket,
        httpx_args={"transport": exchange.transport()},
    )


@pytest.fixture
def upbit_exchange(request: pytest.FixtureRequest) -> Iterator[SandboxExchange]:
    """A fresh verifying exchange holding the demo book, with pacing reset before and after the test.

    A test that passes with faults still queued on it fails at teardown, naming them, unless it is marked
    ``@pytest.mark.upbit_allow_unused_faults(reason=...)``."""
    from upbit_cancel import reset_pacing

    from .exchange import SandboxExchange

    reset_pacing()
    exchange = SandboxExchange()
    exchange.seed_demo_orders()
    try:
        yield exchange
    finally:
        reset_pacing()
    _check_faults_used(request, exchange)


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


class SandboxPockets:
    """An exchange of pockets only (``exchange``: no shared book, no demo key) and a client per pocket added."""

    def __init__(self) -> None:
        from .exchange import SandboxExchange

        self.exchange: SandboxExchange = SandboxExchange(credentials={})
        self.clients: dict[str, Client] = {}

    def add(self, pocket: str, orders: int = 40) -> Client:
        """Issue ``pocket`` its keys, seed its demo book (``orders`` open: ``POCKET-0001`` …, plus filled and
        cancelled ones) and return a ``connect()`` client signed with its keys and paced as that pocket."""
        keys = self.exchange.add_pocket(pocket)
        self.exchange.seed_demo_orders(open_orders=orders, pocket=pocket)
        self.clients[pocket] = _connect(self.exchange, keys, pocket)
        return self.clients[pocket]


@pytest.fixture
def upbit_pockets() -> Iterator[SandboxPockets]:
    """An exchange of pockets only; ``add(name)`` gives each its keys, book and client (closed after the test)."""
    from upbit_cancel import reset_pacing

    reset_pacing()
    pockets = SandboxPockets()
    try:
        yield pockets
    finally:
        for client in pockets.clients.values():
            _close(client)
        reset_pacing()


# --- faults a test queued and never used: the test fails at teardown (MARKER opts out) ---------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(reason): the test may end with faults queued on upbit_exchange that no request took "
        "(otherwise the upbit_exchange fixture fails it at teardown, naming them).",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Remember whether the test itself passed: the unused-faults check fails only a test that did."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_CALL_PASSED] = bool(report.passed)


def _check_faults_used(request: pytest.FixtureRequest, exchange: SandboxExchange) -> None:
    """Fail the test if it passed with faults still queued and is not marked ``MARKER``."""
    left = exchange.faults.pending
    node = request.node
    if not left or node.get_closest_marker(MARKER) is not None or not node.stash.get(_CALL_PASSED, False):
        return
    counts = Counter(fault.describe() for fault in left)
    named = ", ".join(f"{count} x {text}" if count > 1 else text for text, count in counts.items())
    pytest.fail(
        f"upbit_exchange: {len(left)} queued fault{'s' if len(left) != 1 else ''} never used: {named}. "
        "A fault is taken by the next request that passes authentication (of its `only` operation, if given), "
        "so this test sent fewer such requests than it queued faults for. Queue fewer, call "
        f"upbit_exchange.faults.clear() where they stop mattering, or mark the test "
        f"@pytest.mark.{MARKER}(reason=...).",
        pytrace=False,
    )

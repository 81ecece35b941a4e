"""A Redis that answers every command late: a loopback TCP proxy that holds each chunk a client sends.

``tc netem`` needs privileges this machine does not give, so the delay is made in user space: every
chunk from a client is forwarded to the real server ``delay`` seconds after it arrived (answers pass at
once). The proxy runs on threads of its own, never on the event loop of the test that measures it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.redis_support import redis_url

__all__ = ["redis_url", "slow_redis_url"]

DELAY = 0.02


def _connect_upstream(url: str) -> socket.socket:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(parts.path)
        return upstream
    return socket.create_connection((parts.hostname or "localhost", parts.port or 6379))


def _pump(source: socket.socket, target: socket.socket, delay: float) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            if delay:
                time.sleep(delay)
            target.sendall(chunk)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def _serve(listener: socket.socket, url: str, delay: float, opened: list[socket.socket]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        upstream = _connect_upstream(url)
        opened += [client, upstream]
        for source, target, late in ((client, upstream, delay), (upstream, client, 0.0)):
            threading.Thread(target=_pump, args=(source, target, late), daemon=True).start()


@contextlib.contextmanager
def slow_proxy(url: str, delay: float = DELAY) -> Iterator[str]:
    """A ``redis://127.0.0.1:PORT/0`` URL whose every command reaches the Redis at ``url`` ``delay`` s late."""
    listener = socket.create_server(("127.0.0.1", 0))
    opened: list[socket.socket] = []
    thread = threading.Thread(target=_serve, args=(listener, url, delay, opened), daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        listener.close()
        thread.join(timeout=5)
        for connection in opened:
            connection.close()


@pytest.fixture
def slow_redis_url(redis_url: str) -> Iterator[str]:
    """An emptied throwaway redis-server, reached through a proxy that makes every command 20 ms late."""
    with slow_proxy(redis_url) as url:
        yield url

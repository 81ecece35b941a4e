"""The async network stream of ``reading`` answers the pool's "is this idle connection readable?" cheaply and truly.

httpcore's async pool asks it of every idle connection each time a request comes or goes; anyio answers
by rebuilding the socket's attribute map each time (a large part of an async batch's CPU, issue 16).
The stream looks the socket up once; a connection the server closed must still read as readable, so
the pool drops it instead of sending on it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest

from upbit_cancel.reading import _AsyncStream


class _Inner(httpcore.AsyncNetworkStream):
    """An async stream over one end of a socket pair that counts what it is asked."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.asked: list[str] = []

    def get_extra_info(self, info: str) -> Any:
        self.asked.append(info)
        return self.sock if info == "socket" else None


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def test_the_async_stream_looks_its_socket_up_once_however_often_it_is_asked_if_readable(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    inner = _Inner(pair[0])
    stream = _AsyncStream(inner)
    for _ in range(5):
        stream.get_extra_info("is_readable")
    assert inner.asked == ["socket"]


def test_an_idle_connection_reads_as_readable_only_once_the_server_closed_it(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    stream = _AsyncStream(_Inner(ours))
    assert stream.get_extra_info("is_readable") is False
    theirs.close()
    assert stream.get_extra_info("is_readable") is True


def test_other_extra_info_is_asked_of_the_inner_stream(pair: tuple[socket.socket, socket.socket]) -> None:
    inner = _Inner(pair[0])
    assert _AsyncStream(inner).get_extra_info("socket") is pair[0]
    assert inner.asked == ["socket"]

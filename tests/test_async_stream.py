"""The network streams of ``reading`` answer the pool's "is this idle connection readable?" cheaply and truly.

httpcore's async pool asks it of every idle connection each time a request comes or goes; anyio answers
by rebuilding the socket's attribute map each time (a large part of an async batch's CPU, issue 16).
The streams look the socket up once and keep one poll object for it (httpcore makes one per call, the
sync pool included); a connection the server closed, or one closed on our side, must still read as
readable, so the pool drops it instead of sending on it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest

from upbit_cancel.reading import _AsyncStream, _Stream


class _SyncInner(httpcore.NetworkStream):
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, info: str) -> Any:
        return self.sock if info == "socket" else None


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


def test_the_sync_stream_too_reads_as_readable_only_once_the_server_closed_it_however_often_asked(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    stream = _Stream(_SyncInner(ours))
    assert [stream.get_extra_info("is_readable") for _ in range(3)] == [False, False, False]
    theirs.close()
    assert [stream.get_extra_info("is_readable") for _ in range(3)] == [True, True, True]


def test_a_socket_closed_on_our_side_reads_as_readable_so_the_pool_drops_the_connection(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    sync, asynchronous = _Stream(_SyncInner(ours)), _AsyncStream(_Inner(ours))
    assert sync.get_extra_info("is_readable") is False and asynchronous.get_extra_info("is_readable") is False
    ours.close()
    assert sync.get_extra_info("is_readable") is True and asynchronous.get_extra_info("is_readable") is True

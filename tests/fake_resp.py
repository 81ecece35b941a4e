"""A broken Redis for the store-fault table: a loopback server speaking RESP that answers every command with
one fault.

The commands redis-py sends on connecting (``AUTH``, ``CLIENT SETINFO``, ...) are answered ``+OK``: the
fault meets the store's own commands (``EVALSHA``, ``SCRIPT LOAD``, ``GET``, ``SET``).

``fake_store(fault)`` starts it on a free loopback port, yields its ``redis://`` URL (with a password, so
that every row also checks the password is redacted) and stops it, closing every connection. It reads
each command whole (RESP arrays of bulk strings, as redis-py sends them) and answers it as ``fault``
says: a reply of the wrong type, an error reply, garbage bytes, silence, a late answer, a trickled one,
or a closed connection. It runs on threads of its own, never on the event loop of the test.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

__all__ = ["FAULTS", "PASSWORD", "fake_store"]

PASSWORD = "FakeStorePw4242"

_REPLIES: dict[str, bytes] = {
    "wrong type: status": b"+OK\r\n",
    "wrong type: integer": b":7\r\n",
    "wrong type: bulk string": b"$5\r\nhello\r\n",
    "wrong type: nil": b"$-1\r\n",
    "wrong type: array of strings": b"*2\r\n$3\r\nabc\r\n$1\r\nx\r\n",
    "wrong type: empty array": b"*0\r\n",
    "wrong type: nested array": b"*2\r\n*1\r\n:1\r\n:0\r\n",
    "wrong type: unknown code": b"*2\r\n:9\r\n:0\r\n",
    "error: OOM": b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    "error: READONLY": b"-READONLY You can't write against a read only replica.\r\n",
    "error: MOVED": b"-MOVED 3999 127.0.0.1:6381\r\n",
    "error: NOAUTH": b"-NOAUTH Authentication required.\r\n",
    "error: LOADING": b"-LOADING Redis is loading the dataset in memory\r\n",
    "error: NOSCRIPT": b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
    "garbage bytes": b"\x00\xff\xfegarbage that is not RESP\r\n",
    "garbage: a bulk length that lies": b"$99999999999\r\nshort\r\n",
}
"""The faults that are one reply, sent at once to every command."""

_LATE = {"slowness: answers after the timeout": 2.0}
"""A well-formed ``take`` reply (taken), sent this many seconds late: past redis-py's socket timeout."""

_DRIP = {"slowness: answers trickle a byte at a time": 0.25}
"""A well-formed ``take`` reply, one byte every this many seconds: each read is within the timeout, the
answer is not."""

FAULTS = sorted([*_REPLIES, *_LATE, *_DRIP, "silence", "closing the connection"])


_HANDSHAKE = (b"AUTH", b"HELLO", b"CLIENT", b"SELECT", b"PING", b"ECHO", b"READONLY")
"""Commands redis-py sends on connecting: answered ``+OK``, so that the fault meets the store's own commands."""


def _commands(buffer: bytearray) -> list[bytes]:
    """The names of the whole commands ``buffer`` starts with (consumed from it)."""
    names = []
    while True:
        end = _command_end(bytes(buffer))
        if end is None:
            return names
        head = bytes(buffer[:end]).split(b"\r\n")
        names.append((head[2] if buffer.startswith(b"*") and len(head) > 2 else head[0].split(b" ")[0]).upper())
        del buffer[:end]


def _command_end(data: bytes) -> int | None:
    """The end of the first whole command (an array of bulk strings, or an inline line) in ``data``."""
    line_end = data.find(b"\r\n")
    if line_end < 0:
        return None
    if not data.startswith(b"*"):
        return line_end + 2
    position = line_end + 2
    for _ in range(int(data[1:line_end])):
        length_end = data.find(b"\r\n", position)
        if length_end < 0:
            return None
        position = length_end + 2 + int(data[position + 1 : length_end]) + 2
        if position > len(data):
            return None
    return position


def _answer(connection: socket.socket, fault: str, stop: threading.Event) -> None:
    if fault in _REPLIES:
        connection.sendall(_REPLIES[fault])
    elif fault in _LATE:
        if not stop.wait(_LATE[fault]):
            connection.sendall(b"*2\r\n:1\r\n:0\r\n")
    elif fault in _DRIP:
        for byte in b"*2\r\n:1\r\n:0\r\n":
            if stop.wait(_DRIP[fault]):
                return
            connection.sendall(bytes([byte]))
    elif fault == "closing the connection":
        connection.shutdown(socket.SHUT_RDWR)
        raise OSError("closed")
    # "silence": read on, answer nothing


def _serve_one(connection: socket.socket, fault: str, stop: threading.Event) -> None:
    buffer = bytearray()
    with contextlib.suppress(OSError, ValueError):
        while not stop.is_set() and (chunk := connection.recv(65536)):
            buffer += chunk
            for name in _commands(buffer):
                if name in _HANDSHAKE:
                    connection.sendall(b"+OK\r\n")
                else:
                    _answer(connection, fault, stop)
    connection.close()


def _accept(listener: socket.socket, fault: str, stop: threading.Event, opened: list[socket.socket]) -> None:
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        opened.append(connection)
        threading.Thread(target=_serve_one, args=(connection, fault, stop), daemon=True).start()


@contextlib.contextmanager
def fake_store(fault: str) -> Iterator[str]:
    """A ``redis://:PASSWORD@127.0.0.1:PORT/0`` URL of a server answering every command with ``fault``."""
    if fault not in FAULTS:
        raise ValueError(f"unknown store fault {fault!r}; known: {FAULTS}")
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    opened: list[socket.socket] = []
    thread = threading.Thread(target=_accept, args=(listener, fault, stop, opened), daemon=True)
    thread.start()
    try:
        yield f"redis://:{PASSWORD}@127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        listener.close()
        thread.join(timeout=5)
        for connection in opened:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

"""The sandbox as a server other teams run: what a careless or hostile client sends cannot crash it, fill
its memory or make it print tracebacks, and a closed stdout ends the command quietly.

One table of raw requests, each sent on its own socket to a running server: the status it must answer
with, and nothing on stderr. Then the command under ``| head -5`` and a storm of idle connections.
"""

from __future__ import annotations

import resource
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from upbit_sandbox import SandboxExchange
from upbit_sandbox.server import MAX_REQUEST_BODY, running_server

_HEAD = b"DELETE /v1/orders/uuids?uuids%5B%5D=x HTTP/1.1\r\nHost: 127.0.0.1\r\n"

BAD_REQUESTS = [
    pytest.param(_HEAD + b"Content-Length: abc\r\n\r\n", 400, id="content-length-not-a-number"),
    pytest.param(_HEAD + b"Content-Length: -5\r\n\r\n", 400, id="content-length-negative"),
    pytest.param(_HEAD + b"Content-Length: 1e9\r\n\r\n", 400, id="content-length-in-exponent-form"),
    pytest.param(_HEAD + b"Content-Length: 99999999999999999999999999999999999\r\n\r\n", 400, id="content-length-huge"),
    pytest.param(
        _HEAD + f"Content-Length: {MAX_REQUEST_BODY + 1}\r\n\r\n".encode(), 413, id="content-length-over-the-cap"
    ),
    pytest.param(_HEAD + b"Content-Length: 1073741824\r\n\r\n", 413, id="content-length-one-gib-unread"),
    pytest.param(_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400, id="chunk-size-not-hex"),
    pytest.param(_HEAD + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFF\r\n", 413, id="chunk-size-enormous"),
    pytest.param(_HEAD + b"Transfer-Encoding: chunked\r\n\r\n0x10\r\n", 400, id="chunk-size-with-0x"),
    pytest.param(
        _HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"80000\r\n" + b"a" * 0x80000 + b"\r\n" + b"80001\r\n",
        413,
        id="chunks-adding-up-past-the-cap",
    ),
]


def _status_of(url: str, raw: bytes) -> int:
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while b"\r\n" not in answer:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(("raw", "status"), BAD_REQUESTS)
def test_a_request_the_server_cannot_read_gets_a_quiet_4xx(
    raw: bytes, status: int, capfd: pytest.CaptureFixture[str]
) -> None:
    with running_server(SandboxExchange()) as url:
        assert _status_of(url, raw) == status
        # The server still answers a proper request afterwards.
        assert httpx.get(f"{url}/v1/orders/uuids", timeout=10).status_code == 401
    assert "Traceback" not in capfd.readouterr().err


def test_a_one_gib_body_is_refused_without_growing_the_servers_memory() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with running_server(SandboxExchange()) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(_HEAD + b"Content-Length: 1073741824\r\n\r\n")
            refused = sock.recv(4096)
            # The client goes on sending; the server has stopped reading and closed.
            with pytest.raises(OSError):
                for _ in range(64):
                    sock.sendall(b"\0" * 65536)
    assert refused.startswith(b"HTTP/1.1 413 ")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024


def test_the_command_with_its_stdout_closed_ends_quietly() -> None:
    command = Path(sys.executable).parent / "upbit-sandbox"
    with subprocess.Popen(
        [str(command), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        lines = [process.stdout.readline() for _ in range(5)]  # what `| head -5` reads
        process.stdout.close()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
        errors = process.stderr.read()
    assert "listening on http://127.0.0.1:" in lines[0]
    assert code == 128 + signal.SIGPIPE
    assert errors == ""


def test_the_server_answers_after_a_storm_of_idle_connections() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    storm = min(2000, soft - 100, hard - 100)
    with running_server(SandboxExchange()) as url:
        port = int(url.rsplit(":", 1)[1])
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(storm)]
        for sock in sockets:
            sock.close()
        assert httpx.get(f"{url}/v1/orders/uuids", timeout=30).status_code == 401
    assert storm >= 200

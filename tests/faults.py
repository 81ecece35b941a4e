"""A scriptable, misbehaving HTTP/1.1 server on 127.0.0.1 for fault-injection tests.

``FaultServer`` answers each request with the ``Action`` its script picks: a canned reply, a
connection reset before or in the middle of the answer, a stall past the client's timeout, a
truncated body, or a delegation to a verifying backend (the sandbox exchange's ``handle``) for
the requests that should succeed. It counts and records every request it read, so a test can
prove how many were sent (no hot loop, no retry of a 401, nothing sent for bad input).

Raw sockets on purpose: ``http.server`` cannot reset a connection half-way through an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import socketserver
import ssl
import struct
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt

LOOPBACK = "127.0.0.1"
MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawRequest:
    """One request as the server read it off the socket."""

    index: int
    method: str
    target: str
    """Path and query exactly as on the wire (still percent-encoded)."""
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes
    at: float = 0.0
    """``time.time()`` when the request was fully read."""

    @property
    def ids(self) -> list[str]:
        """The uuids[] or identifiers[] values of the query, decoded as a form (``+`` is a space)."""
        query = urlsplit(self.target).query
        return [value for key, value in parse_qsl(query, keep_blank_values=True) if key.endswith("[]")]


class Backend(Protocol):
    """What the sandbox exchange offers: answer one raw request."""

    def handle(self, method: str, target: str | bytes, headers: Any, body: bytes) -> Any: ...


class _Conn:
    """What an action may do with the client's connection."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self.stopping = stopping

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), not a clean FIN."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def http_response(
    status: int, body: bytes, headers: Mapping[str, str] | None = None, *, length: int | None = None
) -> bytes:
    reason = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 418: "I'm a teapot", 429: "Too Many Requests"}
    lines = [f"HTTP/1.1 {status} {reason.get(status, 'Status')}"]
    merged = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    merged["Content-Length"] = str(len(body) if length is None else length)
    lines += [f"{name}: {value}" for name, value in merged.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Action:
    """How to answer one request. ``run`` returns False when the connection must not be reused."""

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        raise NotImplementedError


@dataclass
class Reply(Action):
    """A complete answer: ``body`` may be bytes, text or a JSON-able object."""

    status: int
    body: Any = b""
    headers: Mapping[str, str] = field(default_factory=lambda: {"Remaining-Req": "group=default; min=1800; sec=29"})
    content_type: str | None = None

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        headers = dict(self.headers)
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        conn.send(http_response(self.status, self.payload(), headers))
        return True


def error_reply(status: int, name: str, message: str) -> Reply:
    return Reply(status, {"error": {"name": name, "message": message}})


def html_reply(status: int) -> Reply:
    page = f"<html><head><title>{status} Bad Gateway</title></head><body><h1>{status}</h1>nginx</body></html>"
    return Reply(status, page, content_type="text/html")


@dataclass
class ResetBeforeAnswer(Action):
    """Read the request, then reset the connection without a byte of answer."""

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        conn.reset()
        return False


@dataclass
class ResetMidResponse(Action):
    """Send the status line, headers and half of a valid 200 body, then reset the connection."""

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        body = json.dumps({"success": {"count": 0, "orders": []}, "failed": {"count": 0, "orders": []}}).encode()
        data = http_response(200, body)
        conn.send(data[: len(data) - len(body) // 2])
        conn.reset()
        return False


@dataclass
class CloseMidBody(Action):
    """Promise a longer body than is sent, then close cleanly (FIN): a truncated answer."""

    body: bytes = b'{"success": {"count": 1, "orders": [{"uuid": "x"'

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        conn.send(http_response(200, self.body, length=len(self.body) + 100))
        conn.sock.close()
        return False


@dataclass
class Stall(Action):
    """Read the request and answer nothing for ``seconds`` (or until the server stops), then close."""

    seconds: float = 3.0

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        conn.stopping.wait(self.seconds)
        conn.sock.close()
        return False


@dataclass
class Delegate(Action):
    """Hand the request to the server's backend (the verifying sandbox exchange)."""

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        if server.backend is None:
            raise RuntimeError("Delegate needs a FaultServer backend")
        answer = server.backend.handle(request.method, request.target, list(request.headers.items()), request.body)
        conn.send(http_response(answer.status, answer.content(), answer.headers))
        return True


@dataclass
class LoseAnswer(Action):
    """Let the backend process the request (orders get cancelled), then reset instead of answering."""

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        if server.backend is None:
            raise RuntimeError("LoseAnswer needs a FaultServer backend")
        server.backend.handle(request.method, request.target, list(request.headers.items()), request.body)
        conn.reset()
        return False


@dataclass
class ApplyThen(Action):
    """Let the backend process the request (orders get cancelled), then send ``reply`` instead of its answer
    (a 307 the client does not follow: the outcome is unknown until a lookup)."""

    reply: Reply

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        if server.backend is None:
            raise RuntimeError("ApplyThen needs a FaultServer backend")
        server.backend.handle(request.method, request.target, list(request.headers.items()), request.body)
        return self.reply.run(conn, request, server)


@dataclass
class Raw(Action):
    """Send these bytes as they are (a wrong ``Content-Length``, a header too long, no status line), then close."""

    data: bytes

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        conn.send(self.data)
        conn.sock.close()
        return False


@dataclass
class CloseAtOnce(Action):
    """Read the request, then close the connection cleanly (FIN) without a byte of answer."""

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        conn.sock.close()
        return False


@dataclass
class Drip(Action):
    """Send a whole answer a byte every ``interval`` seconds: a read timeout never fires (each byte restarts it)."""

    answer: bytes = field(default_factory=lambda: http_response(200, b'{"success": {"count": 0, "orders": []}}'))
    interval: float = 0.2

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        for byte in self.answer:
            if conn.stopping.wait(self.interval):
                break
            conn.send(bytes([byte]))
        conn.sock.close()
        return False


@dataclass
class Flood(Action):
    """A 200 whose body never ends (chunked, or ``size`` bytes announced by ``Content-Length``), sent as fast
    as the client reads; it stops when the client lets go or the server stops."""

    size: int | None = None
    """None: chunked and endless."""
    status: int = 200

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        piece = b" " * 65536
        framing = "Transfer-Encoding: chunked" if self.size is None else f"Content-Length: {self.size}"
        conn.send(f"HTTP/1.1 {self.status} OK\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode())
        left = self.size
        while not conn.stopping.is_set() and (left is None or left > 0):
            if left is None:
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                conn.send(piece[:left])
                left -= min(left, len(piece))
        conn.sock.close()
        return False


@dataclass
class DelegateWith(Action):
    """The backend's answer, with some headers replaced (``Remaining-Req``, ``Date``)."""

    headers: Mapping[str, str]

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        if server.backend is None:
            raise RuntimeError("DelegateWith needs a FaultServer backend")
        answer = server.backend.handle(request.method, request.target, list(request.headers.items()), request.body)
        conn.send(http_response(answer.status, answer.content(), {**dict(answer.headers), **self.headers}))
        return True


@dataclass
class DelegateGzipped(Action):
    """The backend's answer, gzip-compressed (``Content-Encoding: gzip``), as a compressing proxy sends it."""

    def run(self, conn: _Conn, request: RawRequest, server: FaultServer) -> bool:
        if server.backend is None:
            raise RuntimeError("DelegateGzipped needs a FaultServer backend")
        answer = server.backend.handle(request.method, request.target, list(request.headers.items()), request.body)
        headers = {**dict(answer.headers), "Content-Encoding": "gzip"}
        conn.send(http_response(answer.status, gzip.compress(answer.content()), headers))
        return True


_BOMBS: dict[int, bytes] = {}


def gzip_bomb(decoded_bytes: int = 200 * 1024 * 1024) -> Reply:
    """A 200 of a few hundred KB that gzip-decodes to ``decoded_bytes`` spaces (made once per size)."""
    if decoded_bytes not in _BOMBS:
        packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = b" " * (1024 * 1024)
        parts = [packer.compress(block) for _ in range(decoded_bytes // len(block))]
        _BOMBS[decoded_bytes] = b"".join(parts) + packer.flush()
    return Reply(200, _BOMBS[decoded_bytes], headers={"Content-Encoding": "gzip"})


def deep_json(depth: int = 100_000, *, inside_error: bool = False) -> bytes:
    """JSON nested ``depth`` deep (valid), as a whole body or as the value of Upbit's ``error`` object."""
    nested = b"[" * depth + b"]" * depth
    return b'{"error": {"name": "blocked", "message": ' + nested + b"}}" if inside_error else nested


def once_for(ids: Sequence[str], action: Action, then: Action | None = None, times: int = 1) -> Script:
    """``action`` for the first ``times`` requests carrying exactly ``ids``; every other request gets ``then``."""
    after = then if then is not None else Delegate()
    wanted = list(ids)
    lock = threading.Lock()
    hits = [0]

    def script(request: RawRequest) -> Action:
        if request.ids == wanted:
            with lock:
                hits[0] += 1
                if hits[0] <= times:
                    return action
        return after

    return script


Script = Callable[[RawRequest], Action]


def first(n: int, action: Action, then: Action | None = None) -> Script:
    """``action`` for the first ``n`` requests the server reads, ``then`` (default ``Delegate()``) after."""
    after = then if then is not None else Delegate()
    return lambda request: action if request.index < n else after


def sequence(actions: Sequence[Action], then: Action | None = None) -> Script:
    """The n-th request gets ``actions[n]``; later ones get ``then`` (default: ``Delegate()``)."""
    after = then if then is not None else Delegate()
    return lambda request: actions[request.index] if request.index < len(actions) else after


def always(action: Action) -> Script:
    return lambda request: action


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5.0)
        tls = self.server.owner.tls
        if tls is None:
            self._serve(sock)
            return
        try:  # HTTPS: the handshake first, then the same script over the secured socket
            secured = tls.wrap_socket(sock, server_side=True)
        except OSError:
            return
        with secured:
            self._serve(secured)

    def _serve(self, sock: socket.socket) -> None:
        owner = self.server.owner
        buffer = b""
        conn = _Conn(sock, owner.stopping)
        while not owner.stopping.is_set():
            try:
                while b"\r\n\r\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                    if len(buffer) > MAX_HEADER_BYTES:
                        return
            except OSError:
                return
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _version = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            try:
                while len(buffer) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
            except OSError:
                return
            body, buffer = buffer[:length], buffer[length:]
            request = owner.record(method, target, headers, body)
            try:
                keep_open = owner.script(request).run(conn, request, owner)
            except OSError:
                return
            if not keep_open or headers.get("connection", "").lower() == "close":
                return


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FaultServer


class FaultServer:
    """``with FaultServer(script, backend=exchange) as server:`` serves on ``server.url`` for the block."""

    def __init__(
        self, script: Script | None = None, backend: Backend | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.script: Script = script or always(Delegate())
        self.backend = backend
        self.tls = tls
        """A server-side TLS context: serve HTTPS (HTTP/1.1); None: plain HTTP."""
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[RawRequest] = []
        self._tcp = _TCPServer((LOOPBACK, 0), _Handler)
        self._tcp.owner = self
        self._thread = threading.Thread(target=self._tcp.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://{LOOPBACK}:{self._tcp.server_address[1]}"

    def record(self, method: str, target: str, headers: dict[str, str], body: bytes) -> RawRequest:
        with self._lock:
            request = RawRequest(len(self._requests), method, target, headers, body, time.time())
            self._requests.append(request)
            return request

    @property
    def requests(self) -> list[RawRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._requests)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._tcp.shutdown()
        self._tcp.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_HELD_PORTS: list[socket.socket] = []


def refused_url() -> str:
    """A loopback URL nothing listens on: connecting to it is refused at once.

    The port stays bound (never listening) until the test process ends: a port let go could be handed
    to a server another test starts meanwhile, in this process or another worker's.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind((LOOPBACK, 0))
    _HELD_PORTS.append(probe)
    return f"http://{LOOPBACK}:{probe.getsockname()[1]}"


# --- assertions on batch results ---------------------------------------------------------------


def reported_ids(result: Any) -> list[str]:
    """Every id a BatchResult mentions, with repeats, across success, failed, unconfirmed and not_sent."""
    by_uuid = result.id_kind == "uuids"
    found = [order.uuid if by_uuid else order.identifier for order in (*result.success, *result.failed)]
    found += [order.id for order in (*result.unconfirmed, *result.not_sent)]
    return found


def assert_every_id_once(result: Any, ids: Sequence[str]) -> None:
    """Every id given is in exactly one of success, failed, unconfirmed, not_sent; nothing else is reported."""
    seen = Counter(reported_ids(result))
    expected = Counter(dict.fromkeys(ids, 1))
    repeated = {key: n for key, n in seen.items() if n > 1}
    missing = [i for i in expected if i not in seen]
    extra = [i for i in seen if i not in expected]
    assert not repeated, f"reported more than once: {dict(list(repeated.items())[:5])}"
    assert not missing, f"{len(missing)} ids lost, e.g. {missing[:5]}"
    assert not extra, f"{len(extra)} ids reported that were never given, e.g. {extra[:5]}"
    counted = len(result.success) + len(result.failed) + len(result.unconfirmed) + len(result.not_sent)
    assert counted == len(expected)
    as_dict = result.to_dict()
    groups = ("success", "failed", "unconfirmed", "not_sent")
    assert sum(as_dict[group]["count"] for group in groups) == len(expected)


@contextlib.contextmanager
def serving(script: Script | None = None, backend: Backend | None = None) -> Iterator[FaultServer]:
    with FaultServer(script, backend) as server:
        yield server


# --- in-process: the sandbox's transport with faults in front of it -------------------------------------------

Process = Callable[[], httpx.Response]
Fault = Callable[[httpx.Request, Process], httpx.Response]
"""Given the request and a function that has the sandbox answer it, answer (or raise) some other way."""


def sandbox_error(status: int, name: str, message: str, sec: int = 10) -> httpx.Response:
    """An error answer as Upbit sends it, for a fault to return instead of the sandbox's."""
    return httpx.Response(
        status,
        json={"error": {"name": name, "message": message}},
        headers={"Remaining-Req": f"group=default; min=1800; sec={sec}"},
    )


def lose_answer_after_processing(exc: type[httpx.TransportError] = httpx.ReadTimeout) -> Fault:
    """The sandbox carries the request out; the client gets ``exc`` instead of its answer."""

    def fault(request: httpx.Request, process: Process) -> httpx.Response:
        process()
        raise exc("the answer was lost", request=request)

    return fault


def refuse_connection(request: httpx.Request, process: Process) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def replace_answer(response: httpx.Response, *, process_first: bool = False) -> Fault:
    """Answer ``response`` instead of the sandbox (after letting it act, if ``process_first``)."""

    def fault(request: httpx.Request, process: Process) -> httpx.Response:
        if process_first:
            process()
        # A fresh copy each time: httpx binds a response's stream to the client that read it.
        return httpx.Response(response.status_code, content=response.content, headers=response.headers)

    return fault


@dataclass
class Sent:
    """One request that reached the faulty transport."""

    method: str
    kind: str
    ids: list[str]
    nonce: str
    status: int
    """The status answered, or -1 when a fault raised instead."""
    at: float


@dataclass
class FaultyExchange:
    """A ``SandboxExchange`` behind an in-process transport that can be told to misbehave (``faults``).

    Each request pops the next fault, if any, else the sandbox answers it. ``sent`` records every
    request (the nonce is read from the token without verifying it: the sandbox does the checking).
    """

    exchange: Any
    faults: deque[Fault] = field(default_factory=deque)
    sent: list[Sent] = field(default_factory=list)
    delay: float = 0.0
    """Seconds each async request takes."""
    cancels_only: bool = False
    """Faults apply to cancel requests only; order lookups always reach the sandbox."""

    @property
    def statuses(self) -> list[int]:
        return [sent.status for sent in self.sent]

    @property
    def cancels(self) -> list[Sent]:
        return [sent for sent in self.sent if sent.method == "DELETE"]

    def handle(self, request: httpx.Request) -> httpx.Response:
        pairs = parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
        ids = [value for key, value in pairs if key.endswith("[]")]
        kind = "uuids" if any(key == "uuids[]" for key, _ in pairs) else "identifiers"
        token = request.headers.get("Authorization", "").partition(" ")[2]
        try:
            nonce = str(jwt.decode(token, options={"verify_signature": False}).get("nonce"))
        except jwt.PyJWTError:
            nonce = ""
        record = Sent(request.method, kind, ids, nonce, -1, time.time())
        self.sent.append(record)

        def process() -> httpx.Response:
            answer = self.exchange.handle(
                request.method, request.url.raw_path, request.headers.multi_items(), request.content
            )
            if answer.drop_answer:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
            return httpx.Response(answer.status, headers=answer.headers, content=answer.content())

        faulty = self.faults and not (self.cancels_only and request.method != "DELETE")
        response = self.faults.popleft()(request, process) if faulty else process()
        record.status = response.status_code
        return response

    async def _handle_async(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        try:
            return self.handle(request)
        finally:
            if self.delay:
                await asyncio.sleep(self.delay)

    def transport(self) -> httpx.MockTransport:
        transport = httpx.MockTransport(self.handle)
        handle_async = self._handle_async

        async def async_request(request: httpx.Request) -> httpx.Response:
            return await handle_async(request)

        transport.handle_async_request = async_request  # type: ignore[method-assign]
        return transport

    def client(self, auth: Any) -> Any:
        from upbit_client import Client

        return Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": self.transport()})

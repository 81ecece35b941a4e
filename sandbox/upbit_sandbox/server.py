"""The sandbox exchange over real HTTP on loopback, and the ``upbit-sandbox`` command.

Real sockets matter where the in-process transport cannot stand in: vcrpy records only real HTTP,
benchmarks measure connection reuse (the server speaks HTTP/1.1 keep-alive), and ``make demo`` runs
the ``upbit-cancel`` command against it. The server binds 127.0.0.1 only; it is a test double, never
meant to be reachable from another machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import ssl
import string
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from .exchange import (
    DEFAULT_RATE_LIMIT_PER_SECOND,
    DEMO_ACCESS_KEY,
    DEMO_SECRET_KEY,
    SandboxExchange,
    pocket_access_key,
    pocket_secret_key,
)

LOOPBACK = "127.0.0.1"
MAX_REQUEST_BODY = 1024 * 1024
"""The largest request body the server reads (1 MiB): larger ones get 413 unread. Upbit's own requests
carry their parameters in the query; the largest body of the spec (an order) is well under a kilobyte."""
_MAX_LINE = 65536
"""The longest chunk-size or trailer line read (the same cap ``http.server`` puts on header lines)."""
_MAX_TRAILERS = 100
# An idle keep-alive connection is dropped after this long, so forgotten clients cannot pin threads forever.
_IDLE_CONNECTION_TIMEOUT = 60.0
# A TLS handshake not done within this long is dropped (its thread freed).
_HANDSHAKE_TIMEOUT = 10.0


class _Refused(Exception):
    """A request the server will not read further: answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = "request_too_large" if status == 413 else "malformed_request"


def _number(text: str, base: int, what: str) -> int:
    """``text`` as a non-negative integer in ``base``, else ``_Refused`` (400) naming ``what`` and the text."""
    digits = string.hexdigits if base == 16 else string.digits
    if not text or len(text) > 32 or not all(ch in digits for ch in text):
        raise _Refused(400, f"{what} is not a number: {text[:40]!r}")
    return int(text, base)


class _SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "UpbitSandbox/1.0"
    sys_version = ""
    timeout = _IDLE_CONNECTION_TIMEOUT
    # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK adds ~40 ms each.
    disable_nagle_algorithm = True
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        self.server.track_connection(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track_connection(self.connection, open_=False)

    def _read_body(self) -> bytes:
        """The request's body, read within ``MAX_REQUEST_BODY``; ``_Refused`` for a body that cannot be read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        given = self.headers.get("Content-Length")
        length = _number(given, 10, "Content-Length") if given is not None else 0
        if length > MAX_REQUEST_BODY:
            raise _Refused(413, f"request body of {length} bytes is over the {MAX_REQUEST_BODY}-byte cap")
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            size = _number(line.split(b";", 1)[0].strip().decode("latin-1") or "0", 16, "chunk size")
            total += size
            if total > MAX_REQUEST_BODY:
                raise _Refused(413, f"chunked request body over the {MAX_REQUEST_BODY}-byte cap")
            if size == 0:
                # The trailer section ends with an empty line (bounded like the rest).
                for _ in range(_MAX_TRAILERS):
                    if self.rfile.readline(_MAX_LINE + 1) in (b"\r\n", b"\n", b""):
                        return b"".join(chunks)
                raise _Refused(400, "too many trailer lines")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(_MAX_LINE + 1)

    def _refuse(self, refused: _Refused) -> None:
        """Answer a request the server cannot read with ``refused``'s status, then close the connection
        (the rest of the request cannot be told apart from the next one)."""
        content = json.dumps({"error": {"name": refused.name, "message": str(refused)}}).encode()
        self.close_connection = True
        self.send_response_only(refused.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(content)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _Refused as refused:
            self._refuse(refused)
            return
        exchange = self.server.exchange
        if exchange.latency:
            time.sleep(exchange.latency)
        # http.server decodes the request line as latin-1; undo that to get the wire bytes back.
        target = self.path.encode("latin-1")
        if not target.startswith(b"/"):
            # Absolute-form target (sent through a proxy): keep only the path and query.
            target = b"/" + target.split(b"://", 1)[-1].partition(b"/")[2]
        answer = exchange.handle(self.command, target, list(self.headers.items()), body)
        if answer.delay:
            time.sleep(answer.delay)
        if answer.drop_answer:
            # A reset or a lost answer (carried out first): the connection closes without an answer.
            self.close_connection = True
            return
        content = answer.content()
        # send_response would add a Date of the machine's clock; the exchange's own Date is in answer.headers.
        self.send_response_only(answer.status)
        self.send_header("Server", self.version_string())
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the exchange's request log is the record; stderr noise would drown test and bench output."""


class SandboxServer(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server for one ``SandboxExchange`` on 127.0.0.1; ``stop()`` ends it for good."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a client opening 30 connections at once,
    # and the kernel retries them only after a second: that would show up as a 1 s stall.
    request_queue_size = 4096

    def __init__(self, exchange: SandboxExchange, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        super().__init__((LOOPBACK, port), _SandboxRequestHandler)
        self.exchange = exchange
        self.tls = tls
        """The server-side TLS context (``tls.SandboxTLS.server_context()``): HTTPS; None: plain HTTP."""
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://{LOOPBACK}:{self.port}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection (in its own thread); over TLS, the handshake is done here first, so a slow
        client's handshake never holds up the accept loop (a listening socket wrapped in TLS would)."""
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(_HANDSHAKE_TIMEOUT)
        try:
            secured = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ValueError):  # a failed handshake (ssl.SSLError is an OSError) or a client gone
            return
        try:
            super().finish_request(secured, client_address)
        finally:
            secured.close()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up before its answer (a cancelled batch, a timeout) is no error of the
        exchange: nothing is printed. Anything else is printed as socketserver does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def track_connection(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def start(self) -> None:
        """Serve in a daemon thread; returns at once."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name=f"upbit-sandbox-{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close the listening socket and cut open keep-alive connections."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()
        # Without this a client holding a keep-alive connection would still be answered after stop().
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def start_server(
    exchange: SandboxExchange, port: int = 0, tls: ssl.SSLContext | None = None
) -> tuple[SandboxServer, str]:
    """Serve ``exchange`` on 127.0.0.1:``port`` (0: a free port) in a daemon thread; returns the server and its URL.

    ``tls``: a server-side context (``SandboxTLS().server_context()``) to serve HTTPS (HTTP/1.1) instead.
    Call ``server.stop()`` when done, or use ``running_server``.
    """
    server = SandboxServer(exchange, port, tls)
    server.start()
    return server, server.url


@contextlib.contextmanager
def running_server(exchange: SandboxExchange, port: int = 0, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """``with running_server(exchange) as url:`` serves ``exchange`` for the block and stops afterwards."""
    server, url = start_server(exchange, port, tls)
    try:
        yield url
    finally:
        server.stop()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="upbit-sandbox",
        description="A fake Upbit exchange on 127.0.0.1 that serves and verifies DELETE and GET /v1/orders/uuids.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: pick a free one)")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=DEFAULT_RATE_LIMIT_PER_SECOND,
        metavar="N",
        help=f"requests per second per pocket (default {DEFAULT_RATE_LIMIT_PER_SECOND}; 0 turns the limit off)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="one-way latency: each request is handled MS after it arrives (default 0)",
    )
    parser.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="run the exchange's clock this far ahead of the machine's (negative: behind); "
        "rate windows and the Date header follow it (default 0)",
    )
    parser.add_argument("--orders", type=int, default=40, metavar="N", help="open demo orders to seed (default 40)")
    parser.add_argument(
        "--add-key",
        dest="keys",
        action="append",
        default=[],
        metavar="ACCESS:SECRET[:POCKET]",
        help="accept one more key pair (repeatable), issued for POCKET: the keys of one pocket share its budget",
    )
    parser.add_argument("--demo-pocket", metavar="POCKET", help="the pocket the demo key pair belongs to")
    parser.add_argument(
        "--pocket",
        dest="pockets",
        action="append",
        default=[],
        metavar="NAME",
        help="one more pocket (repeatable) with its own fake key pair, budget and book: --orders open orders "
        "NAME-0001..., seen only by its key; the banner prints the keys file to use (upbit-cancel --keys-file)",
    )
    _add_fault_options(parser)
    _add_link_options(parser)
    args = parser.parse_args(argv)
    for name in ("port", "rate_limit", "latency_ms", "orders", "drop_answer_every", "link_latency_ms"):
        if (getattr(args, name) or 0) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0; given: {getattr(args, name)}")
    if args.http2 and args.drop_answer_every:
        parser.error("--drop-answer-every is not served over --http2 (an ASGI app cannot drop an answer)")
    if args.ca_file and not (args.tls or args.http2):
        parser.error("--ca-file needs --tls or --http2")
    return args


def _add_link_options(parser: argparse.ArgumentParser) -> None:
    """The wire: TLS, HTTP/2 and a link that delays every packet (``tls.py``, ``h2_server.py``, ``delay_link.py``)."""
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS (HTTP/1.1) with a certificate for 127.0.0.1 made on the spot; its CA is written to "
        "--ca-file for the client to trust (needs the [tls] extra)",
    )
    parser.add_argument(
        "--http2",
        action="store_true",
        help="serve HTTPS with HTTP/2 and HTTP/1.1 offered through ALPN (hypercorn; implies --tls)",
    )
    parser.add_argument(
        "--ca-file",
        metavar="PATH",
        help="where to write the CA certificate to trust (default: a temporary file, printed at start)",
    )
    parser.add_argument(
        "--link-latency-ms",
        type=float,
        default=None,
        metavar="RTT",
        help="serve through a TCP proxy that forwards every chunk RTT/2 ms late each way, so TCP and TLS "
        "handshakes pay round trips too (0: a proxy that adds no delay; default: no proxy); SIGUSR1 cuts "
        "every connection it carries",
    )


def _add_fault_options(parser: argparse.ArgumentParser) -> None:
    """The exchange-as-it-may-be options: lost answers and how unknown ids are listed."""
    parser.add_argument(
        "--drop-answer-every",
        type=int,
        default=0,
        metavar="N",
        help="carry out every Nth cancel request, then close the connection without an answer (default 0: never); "
        "logged with status None and fault lost_answer",
    )
    parser.add_argument(
        "--unknown-fields",
        choices=("null", "absent"),
        default="null",
        help="list an unknown id in a cancel answer with null fields (default) or with the fields left out",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``upbit-sandbox``: serve a demo-seeded sandbox until SIGINT or SIGTERM."""
    args = _parse_args(argv)
    exchange = SandboxExchange(
        rate_limit_per_second=args.rate_limit or None,
        latency=args.latency_ms / 1000,
        unknown_order_fields=args.unknown_fields,
        drop_answer_every=args.drop_answer_every,
        clock_offset=args.clock_offset,
    )
    for key in args.keys:
        access, _, rest = key.partition(":")
        secret, _, pocket = rest.partition(":")
        if not access or not secret:
            print(f"upbit-sandbox: --add-key wants ACCESS:SECRET[:POCKET]; given: {access}:…", file=sys.stderr)
            return 2
        exchange.add_credentials(access, secret, pocket=pocket or None)
    # Beside other pockets, the demo key's orders are its own pocket's (``demo`` unless named), so that no
    # pocket's key sees them; alone, they stay in the shared book every key sees, as before.
    demo_pocket = args.demo_pocket or ("demo" if args.pockets else None)
    if demo_pocket:
        exchange.add_credentials(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, pocket=demo_pocket)
    orders = exchange.seed_demo_orders(
        open_orders=args.orders, pocket=demo_pocket if args.pockets else None, label="demo"
    )
    for pocket in dict.fromkeys(args.pockets):
        if not re.fullmatch(r"[A-Za-z0-9_-]+", pocket) or pocket.startswith("demo"):
            wanted = "letters, digits, '-' and '_', not starting with 'demo'"
            print(f"upbit-sandbox: --pocket wants a name of {wanted}; given: {pocket!r}", file=sys.stderr)
            return 2
        exchange.add_pocket(pocket)
        exchange.seed_demo_orders(open_orders=args.orders, pocket=pocket)
    try:
        server, url, ca_file = _listen(exchange, args)
    except OSError as error:
        print(f"upbit-sandbox: cannot listen on {LOOPBACK}:{args.port}: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:  # the [tls] extra is missing
        print(f"upbit-sandbox: {error}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    # SIGUSR1: cut every connection the link carries, as a server whose keep-alive ran out would
    # (the bench's "idle past keep-alive" cell); without a link it does nothing.
    signal.signal(signal.SIGUSR1, lambda signum, frame: server.drop_connections())
    open_count = sum(order.state == "wait" for order in orders)
    try:
        _banner(args, url, open_count, ca_file)
        while not stop.wait(0.5):
            pass
        print("upbit-sandbox: stopped", flush=True)
    except BrokenPipeError:
        # stdout was closed (``upbit-sandbox | head -5``): nobody reads the log, so stop quietly, as a
        # shell pipeline expects (128 + SIGPIPE), with stdout pointed away so the final flush is silent too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    finally:
        server.stop()
    return 0


class _Serving:
    """What ``upbit-sandbox`` serves: the server (HTTP/1.1 or HTTP/2), the delay link in front, the certificates."""

    def __init__(self, server: SandboxServer | Any, link: Any, tls: Any) -> None:
        self.server, self.link, self.tls = server, link, tls

    def drop_connections(self) -> None:
        if self.link is not None:
            self.link.drop_connections()

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()
        self.server.stop()
        if self.tls is not None:
            self.tls.close()


def _listen(exchange: SandboxExchange, args: argparse.Namespace) -> tuple[_Serving, str, str | None]:
    """Start the server the options ask for: (what to stop, the URL clients use, the CA file or None)."""
    tls = None
    if args.tls or args.http2:
        from .tls import SandboxTLS

        tls = SandboxTLS(args.ca_file)
    if args.http2:
        from .h2_server import Http2Server

        server: Any = Http2Server(exchange, args.port, tls)
        server.start()
    else:
        server = start_server(exchange, args.port, tls.server_context() if tls is not None else None)[0]
    url, link = server.url, None
    if args.link_latency_ms is not None:
        from .delay_link import DelayLink

        link = DelayLink(server.port, args.link_latency_ms / 1000).start()
        url = link.url("https" if tls is not None else "http")
    return _Serving(server, link, tls), url, None if tls is None else str(tls.ca_file)


def _banner(args: argparse.Namespace, url: str, open_count: int, ca_file: str | None = None) -> None:
    """What the command prints once it listens: the URL, its settings and the demo keys to export."""
    limit = f"{args.rate_limit}/s per key" if args.rate_limit else "off"
    print(f"Upbit sandbox exchange (FAKE, local only) listening on {url}", flush=False)
    print(
        f"  rate limit: {limit}; latency: {args.latency_ms:g} ms; clock offset: {args.clock_offset:+g} s; "
        f"open demo orders: {open_count}"
    )
    if args.link_latency_ms is not None:
        print(f"  through a link delaying every packet: round trip {args.link_latency_ms:g} ms")
    if ca_file is not None:
        protocols = "HTTP/2 and HTTP/1.1 (ALPN)" if args.http2 else "HTTP/1.1"
        print(f"  TLS ({protocols}); CA certificate to trust: {ca_file}")
        print(f"  (connect(..., httpx_args={{'verify': {ca_file!r}}}), or export SSL_CERT_FILE={ca_file})")
    if open_count:
        print(f"  identifiers demo-0001..demo-{open_count:04d}; filled demo-filled-*, cancelled demo-cancelled-*")
    print("Demo keys this sandbox accepts (sandbox-only, not a real Upbit secret):")
    print(f"export UPBIT_OPEN_API_SERVER_URL={url}")
    print(f"export UPBIT_OPEN_API_ACCESS_KEY={DEMO_ACCESS_KEY}")
    print(f"export UPBIT_OPEN_API_SECRET_KEY={DEMO_SECRET_KEY}")
    if args.pockets:
        print(f"Pockets {', '.join(dict.fromkeys(args.pockets))}: {args.orders} open orders each; their keys file "
              "(sandbox-only keys; save it with mode 600):")  # fmt: skip
        for pocket in dict.fromkeys(args.pockets):
            access, secret = pocket_access_key(pocket), pocket_secret_key(pocket)
            print(f'[{pocket}]\naccess_key = "{access}"\nsecret_key = "{secret}"')
    print("Press Ctrl-C to stop.", flush=True)

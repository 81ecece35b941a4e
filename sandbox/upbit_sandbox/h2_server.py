"""The sandbox exchange over HTTPS with HTTP/2: ``hypercorn`` serving it as an ASGI app, on 127.0.0.1.

Whether Upbit speaks HTTP/2 is not known; the SDK's client may use it only where the server offers it
through ALPN. This server offers ``h2`` and ``http/1.1`` (in that order), so a client with HTTP/2 on
gets one connection carrying every request, and one without gets HTTP/1.1 from the same server.

It answers as ``server.SandboxServer`` does (the same ``SandboxExchange.handle``, its latency slept
on the server's event loop), with two differences hypercorn imposes: an answer the exchange drops
(a lost-answer fault) becomes a 500, since an ASGI app cannot reset a stream; and the request body is
read whole (capped at ``server.MAX_REQUEST_BODY``, 413 past it). Needs the ``[tls]`` extra
(``trustme``, ``hypercorn``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .exchange import SandboxExchange
from .server import LOOPBACK, MAX_REQUEST_BODY
from .tls import SandboxTLS

__all__ = ["Http2Server"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_IDLE_CONNECTION_TIMEOUT = 60.0
"""Seconds an idle connection is kept (hypercorn's default is 5; the HTTP/1.1 sandbox keeps 60)."""


async def _body(receive: Receive) -> bytes | None:
    """The request's body, or None past ``MAX_REQUEST_BODY``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _reply(send: Send, status: int, headers: list[tuple[bytes, bytes]], content: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


class _App:
    """The ASGI app: each HTTP request handed to ``exchange.handle`` as the wire carried it."""

    def __init__(self, exchange: SandboxExchange) -> None:
        self.exchange = exchange

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = await _body(receive)
        if body is None:
            error = {"error": {"name": "request_too_large", "message": f"over the {MAX_REQUEST_BODY}-byte cap"}}
            await _reply(send, 413, [(b"content-type", b"application/json")], json.dumps(error).encode())
            return
        if self.exchange.latency:
            await asyncio.sleep(self.exchange.latency)
        target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        answer = self.exchange.handle(scope["method"], target, headers, body)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.drop_answer:
            raise ConnectionAbortedError("the exchange dropped this answer (hypercorn answers 500)")
        pairs = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers.items()]
        await _reply(send, answer.status, pairs, b"" if scope["method"] == "HEAD" else answer.content())


def _quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's error handler: connections cut at ``stop()`` (hypercorn cancels them) print nothing."""
    if not isinstance(context.get("exception"), (asyncio.CancelledError, OSError)):
        loop.default_exception_handler(context)


class Http2Server:
    """``exchange`` over HTTPS on 127.0.0.1:``port`` (0: a free port), HTTP/2 and HTTP/1.1 through ALPN.

    ``tls``: the certificates (default: a new ``SandboxTLS``, closed with the server). ``app``: another ASGI
    app to serve instead of the exchange (a test's misbehaving server). ``start()`` serves in
    a daemon thread (an event loop of its own); ``stop()`` ends it for good. The same surface as
    ``server.SandboxServer`` (``url``, ``port``, ``exchange``), plus ``tls.ca_file`` for the client.
    """

    def __init__(
        self, exchange: SandboxExchange, port: int = 0, tls: SandboxTLS | None = None, app: Any = None
    ) -> None:
        self.exchange = exchange
        self.app: Any = app if app is not None else _App(exchange)
        self._own_tls = tls is None
        self.tls: SandboxTLS = tls if tls is not None else SandboxTLS()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, port))
        listener.listen(4096)  # connections made before hypercorn's loop runs wait in the backlog
        self.port: int = int(listener.getsockname()[1])
        # hypercorn takes the descriptor over (``fd://``): it owns and closes it from here on.
        self._fd = listener.detach()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    def _config(self) -> Any:
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"fd://{self._fd}"]
        config.certfile, config.keyfile = self.tls.key_files()
        config.keep_alive_timeout = _IDLE_CONNECTION_TIMEOUT
        config.graceful_timeout = 0.0
        config.backlog = 4096
        # The exchange writes its own Date (its clock may be set off from the machine's).
        config.include_date_header = False
        config.accesslog = config.errorlog = None
        return config

    async def _serve(self) -> None:
        from hypercorn.asyncio import serve

        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(_quiet)
        self._stopping = asyncio.Event()
        self._ready.set()
        await serve(self.app, self._config(), shutdown_trigger=self._stopping.wait, mode="asgi")

    def start(self) -> None:
        """Serve in a daemon thread; returns once the event loop runs (the socket already listens)."""
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(),), name=f"upbit-sandbox-h2-{self.port}", daemon=True
        )
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        """Stop serving, close every connection and, if this server made them, remove the certificates."""
        if self._thread is not None and self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(10)
            self._thread = None
        if self._own_tls:
            self.tls.close()

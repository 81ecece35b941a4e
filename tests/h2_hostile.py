"""A misbehaving exchange over HTTP/2 (hypercorn, TLS, ALPN ``h2``) for ``tests/test_tls_wire.py``.

``HostileApp(kind)`` is an ASGI app answering every request the same hostile way: a body dripped a
byte a second, 100 MB of body, a gzip bomb, JSON nested 100,000 deep, or a redirect loop. Served by
``upbit_sandbox.h2_server.Http2Server(..., app=HostileApp(kind))``; ``count`` is how many requests came.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.faults import deep_json, gzip_bomb

KINDS = ("drip-1-byte-a-second", "body-of-100MB", "gzip-bomb-1MB-to-1GiB", "json-100000-deep", "redirect-loop")


class HostileApp:
    def __init__(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; given: {kind!r}")
        self.kind = kind
        self.count = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        self.count += 1
        while (await receive()).get("more_body", False):
            pass
        await getattr(self, "_" + self.kind.split("-")[0])(send)

    async def _start(self, send: Any, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def _drip(self, send: Any) -> None:
        await self._start(send, 200, [(b"content-type", b"application/json"), (b"content-length", b"100000")])
        for _ in range(100_000):
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
            await asyncio.sleep(1.0)

    async def _body(self, send: Any) -> None:
        await self._start(send, 200, [(b"content-type", b"application/json")])
        chunk = b" " * 65536
        for _ in range(100 * 1024 * 1024 // len(chunk)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"[]"})

    async def _gzip(self, send: Any) -> None:
        bomb = gzip_bomb(1024 * 1024 * 1024)
        headers = [(name.lower().encode(), value.encode()) for name, value in bomb.headers.items()]
        await self._start(send, bomb.status, headers)
        await send({"type": "http.response.body", "body": bomb.payload()})

    async def _json(self, send: Any) -> None:
        await self._start(send, 200, [(b"content-type", b"application/json")])
        await send({"type": "http.response.body", "body": deep_json()})

    async def _redirect(self, send: Any) -> None:
        await self._start(send, 302, [(b"location", b"/v1/orders/uuids"), (b"content-length", b"0")])
        await send({"type": "http.response.body", "body": b""})

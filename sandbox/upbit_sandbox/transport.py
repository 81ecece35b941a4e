"""In-process access to the sandbox exchange: an ``httpx.MockTransport`` for the generated client.

```python
exchange = SandboxExchange()
client = Client(base_url="https://api.upbit.com",
                httpx_args={"auth": UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY), "transport": exchange.transport()})
```

The same transport serves ``httpx.Client`` and ``httpx.AsyncClient``: the simulated latency sleeps with
``time.sleep`` on the sync path and with ``anyio.sleep`` on the async one, so a slow sandbox never
blocks an event loop, whichever it is (asyncio or trio, as httpx itself runs on either).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio
import httpx

if TYPE_CHECKING:
    from .exchange import SandboxExchange, SandboxResponse


def _handle(exchange: SandboxExchange, request: httpx.Request) -> SandboxResponse:
    # raw_path is the path and query exactly as they would go on the wire, still percent-encoded.
    return exchange.handle(request.method, request.url.raw_path, request.headers.multi_items(), request.content)


def _answer(answer: SandboxResponse, request: httpx.Request) -> httpx.Response:
    if answer.drop_answer:
        # A reset or a lost answer (the exchange carried the request out): the answer never arrives.
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    return httpx.Response(answer.status, headers=answer.headers, content=answer.content(), request=request)


class SandboxTransport(httpx.MockTransport):
    """Serves one ``SandboxExchange`` to httpx clients, sync or async, adding the exchange's latency."""

    def __init__(self, exchange: SandboxExchange) -> None:
        self.exchange = exchange
        super().__init__(self.sync_handler)

    def sync_handler(self, request: httpx.Request) -> httpx.Response:
        if self.exchange.latency:
            time.sleep(self.exchange.latency)
        answer = _handle(self.exchange, request)
        if answer.delay:
            time.sleep(answer.delay)
        return _answer(answer, request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        if self.exchange.latency:
            await anyio.sleep(self.exchange.latency)
        answer = _handle(self.exchange, request)
        if answer.delay:
            await anyio.sleep(answer.delay)
        return _answer(answer, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await self.async_handler(request)

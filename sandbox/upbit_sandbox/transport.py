"""In-process access to the sandbox exchange: an ``httpx.MockTransport`` for the generated client.

```python
exchange = SandboxExchange()
client = Client(base_url="https://api.upbit.com",
                httpx_args={"auth": UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY), "transport": exchange.transport()})
```

The same transport serves ``httpx.Client`` and ``httpx.AsyncClient``: the simulated latency sleeps with
``time.sleep`` on the sync path and with ``anyio.sleep`` on the async one, so a slow sandbox never
blocks an event loop, whichever it is (asyncio or trio, as httpx itself runs on either).

The wait honours the request's read timeout (``request.extensions["timeout"]["read"]``, httpx's own
way of telling a transport how long the client waits), as a socket would: an answer held back longer
(the exchange's ``latency`` and the ``latency`` fault together) never arrives. The transport waits out
the timeout and raises ``httpx.ReadTimeout``; the exchange carried the request out, as a server the
client gave up on would, and logs it with no status. ``connect()`` clients narrow that timeout to what
is left of ``timeout_total`` inside a batch or sweep, so a slow sandbox returns by the deadline.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio
import httpx

if TYPE_CHECKING:
    from .exchange import SandboxExchange, SandboxResponse


def _read_timeout(request: httpx.Request) -> float | None:
    """How long the client waits for the answer (its read timeout); None: for ever."""
    timeouts = request.extensions.get("timeout") or {}
    read = timeouts.get("read") if isinstance(timeouts, dict) else None
    return float(read) if isinstance(read, (int, float)) and not isinstance(read, bool) else None


def _handle(exchange: SandboxExchange, request: httpx.Request, answer_within: float | None) -> SandboxResponse:
    # raw_path is the path and query exactly as they would go on the wire, still percent-encoded.
    target, headers = request.url.raw_path, request.headers.multi_items()
    return exchange.handle(request.method, target, headers, request.content, answer_within=answer_within)


def _answer(answer: SandboxResponse, request: httpx.Request, waited: float | None) -> httpx.Response:
    if answer.timed_out:
        message = f"no answer within the read timeout of {waited or 0.0:g}s (the sandbox's latency)"
        raise httpx.ReadTimeout(message, request=request)
    if answer.drop_answer:
        # A reset or a lost answer (the exchange carried the request out): the answer never arrives.
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    return httpx.Response(answer.status, headers=answer.headers, content=answer.content(), request=request)


class SandboxTransport(httpx.MockTransport):
    """Serves one ``SandboxExchange`` to httpx clients, sync or async, adding the exchange's latency
    within the request's read timeout."""

    def __init__(self, exchange: SandboxExchange) -> None:
        self.exchange = exchange
        super().__init__(self.sync_handler)

    def _first_wait(self, limit: float | None) -> tuple[float, float | None]:
        """(seconds to wait before the exchange sees the request, seconds left for its answer after that)."""
        latency = self.exchange.latency
        if limit is None:
            return latency, None
        return min(latency, limit), limit - latency

    def sync_handler(self, request: httpx.Request) -> httpx.Response:
        limit = _read_timeout(request)
        first, left = self._first_wait(limit)
        if first:
            time.sleep(first)
        answer = _handle(self.exchange, request, left)
        if answer.delay:
            time.sleep(answer.delay)
        return _answer(answer, request, limit)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        limit = _read_timeout(request)
        first, left = self._first_wait(limit)
        if first:
            await anyio.sleep(first)
        answer = _handle(self.exchange, request, left)
        if answer.delay:
            await anyio.sleep(answer.delay)
        return _answer(answer, request, limit)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await self.async_handler(request)

"""A delaying TCP proxy: every chunk forwarded half a round trip late, in each direction.

The sandbox's ``latency`` sleeps once per request, so a handshake costs nothing there. Over a real
link every packet is late: a TCP handshake, a TLS handshake and each request pay a round trip. This
kernel has no ``tc netem``, so ``DelayLink`` stands in for the link: it listens on 127.0.0.1, opens a
connection to the target for each client, and writes each chunk it reads ``round_trip / 2`` seconds
after reading it, in order, both ways (bandwidth unlimited). The kernel completes the client's TCP
handshake with the proxy at once, so the proxy charges it instead: nothing the client sends is
forwarded before a round trip after the connection was accepted (SYN, SYN-ACK), then half a round
trip late like the rest. A new plain connection thus answers its first request after 2 round trips,
and a new TLS 1.3 connection after 3 (TCP, TLS, the request), as over a real link of that round trip.
``connections`` counts the connections it carried (how many a client opened).

``upbit-sandbox --link-latency-ms MS`` puts one in front of the server and prints its URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

__all__ = ["DelayLink"]

_CHUNK = 65536


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, not_before: float = 0.0
) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it was read (and not before the
    loop time ``not_before``); EOF likewise."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not data:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    delivering = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(_CHUNK)
            queue.put_nowait((max(loop.time(), not_before) + delay, data))
            if not data:
                break
        await delivering
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        delivering.cancel()


def _quiet(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    """The loop's error handler: connections cut at ``stop()`` are no error worth printing."""
    if not isinstance(context.get("exception"), (asyncio.CancelledError, OSError)):
        loop.default_exception_handler(context)


class DelayLink:
    """A proxy on 127.0.0.1 to ``target_port`` delaying each chunk ``round_trip / 2`` each way.

    ``start()`` runs it in a daemon thread with an event loop of its own; ``url`` is where to send;
    ``stop()`` closes it and every connection.
    """

    def __init__(self, target_port: int, round_trip: float, *, target_host: str = "127.0.0.1") -> None:
        if not round_trip >= 0:
            raise ValueError(f"round_trip must be >= 0 seconds; given: {round_trip!r}")
        self.target: tuple[str, int] = (target_host, target_port)
        self.delay: float = round_trip / 2
        self.port: int = 0
        self.connections: int = 0
        """Connections carried so far."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    async def _carry(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(client_writer)
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            self._writers.discard(client_writer)
            return
        self._writers.add(server_writer)
        try:
            # Nothing crosses before the emulated TCP handshake's round trip (2 x delay) is over.
            accepted = asyncio.get_running_loop().time()
            await asyncio.gather(
                _pump(client_reader, server_writer, self.delay, not_before=accepted + 2 * self.delay),
                _pump(server_reader, client_writer, self.delay),
            )
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
                self._writers.discard(writer)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(_quiet)
        self._server = await asyncio.start_server(self._carry, "127.0.0.1", 0, backlog=4096)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._server.serve_forever()

    def start(self) -> DelayLink:
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), name="upbit-delay-link", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the delay link did not start")
        return self

    def drop_connections(self) -> None:
        """Cut every connection carried now (both ends), as a server whose keep-alive ran out; keep listening."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._abort_all)

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    def _shut(self) -> None:
        """Stop listening and close every connection (both ends): each pump sees its end and returns."""
        assert self._server is not None
        self._server.close()
        self._abort_all()
        for task in asyncio.all_tasks():
            task.cancel()  # serve_forever, and any pump still sleeping on a chunk

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._shut)
            self._thread.join(10)
            self._thread = None

"""The network under a ``connect()`` client: httpcore's own backends, each wait and byte held to ``reading.Bounds``.

httpcore's pools take a ``network_backend`` (its public extension point). ``BoundedBackend`` wraps
``httpcore.SyncBackend`` and ``AsyncBoundedBackend`` wraps ``httpcore.AnyIOBackend`` (asyncio and
trio alike). While a request runs under bounds (``reading.current()``), every socket wait (connect,
TLS handshake, each write and read) is narrowed to what is left of its deadline, and every byte read
counts against its budget: past them ``httpcore.ReadTimeout`` (``ConnectTimeout``, ``WriteTimeout``)
or ``httpcore.ReadError`` is raised, which the transport maps into the SDK's error tree. Without
bounds a stream passes everything through unchanged.

The first connect or write of a request is reported (``Bounds.touched``): ``pool_gate`` waits for it.

Everything else (``get_extra_info``, ``sleep``, closing) is the inner backend's: httpcore asks its
streams for extras (``"ssl_object"``, ``"socket"``, and an undocumented ``"is_readable"`` it uses to
spot connections the server closed) and gets the inner stream's own answers.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpcore

from . import reading

__all__ = ["AsyncBoundedBackend", "BoundedBackend"]


def _wait(
    timeout: float | None, late: type[httpcore.TimeoutException] = httpcore.ReadTimeout, *, touch: bool = False
) -> float | None:
    """``timeout`` narrowed to the current request's bounds (``Bounds.wait``); a connect or a write (``touch``)
    first reports that the request is on the wire (``Bounds.touched``)."""
    bounds = reading.current()
    if bounds is None:
        return timeout
    if touch:
        bounds.touched()
    return bounds.wait(timeout, late)


def _took(data: bytes) -> bytes:
    bounds = reading.current()
    return data if bounds is None else bounds.took(data)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _took(self._inner.read(max_bytes, _wait(timeout)))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _wait(timeout, httpcore.WriteTimeout, touch=True))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _wait(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _took(await self._inner.read(max_bytes, _wait(timeout)))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _wait(timeout, httpcore.WriteTimeout, touch=True))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        wait = _wait(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class BoundedBackend(httpcore.NetworkBackend):
    """``httpcore.SyncBackend`` (or ``inner``) with every stream held to the current request's bounds."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self.inner: httpcore.NetworkBackend = inner if inner is not None else httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, *args: Any, **kwargs: Any) -> _Stream:
        wait = _wait(timeout, httpcore.ConnectTimeout, touch=True)
        return _Stream(self.inner.connect_tcp(host, port, wait, *args, **kwargs))

    def connect_unix_socket(self, path: str, timeout: float | None = None, *args: Any, **kwargs: Any) -> _Stream:
        wait = _wait(timeout, httpcore.ConnectTimeout, touch=True)
        return _Stream(self.inner.connect_unix_socket(path, wait, *args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class AsyncBoundedBackend(httpcore.AsyncNetworkBackend):
    """``httpcore.AnyIOBackend`` (or ``inner``) with every stream held to the current request's bounds."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.inner: httpcore.AsyncNetworkBackend = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, *args: Any, **kwargs: Any
    ) -> _AsyncStream:
        wait = _wait(timeout, httpcore.ConnectTimeout, touch=True)
        return _AsyncStream(await self.inner.connect_tcp(host, port, wait, *args, **kwargs))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, *args: Any, **kwargs: Any
    ) -> _AsyncStream:
        wait = _wait(timeout, httpcore.ConnectTimeout, touch=True)
        return _AsyncStream(await self.inner.connect_unix_socket(path, wait, *args, **kwargs))

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)

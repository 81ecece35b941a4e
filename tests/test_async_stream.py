"""The network streams under a ``connect()`` client hand every extra to the inner stream (issue 22).

They used to answer httpcore's undocumented ``"is_readable"`` extra themselves (a poll object kept per
socket, issue 16): reliance on what httpcore asks, and on when. Now every extra, that one included, is
the inner stream's own answer (httpcore's documented ones: ``ssl_object``, ``client_addr``,
``server_addr``, ``socket``); the cost was measured with bench sections 1 and 8 (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

import httpcore
import pytest

from upbit_cancel.network import _AsyncStream, _Stream


class _SyncInner(httpcore.NetworkStream):
    def get_extra_info(self, info: str) -> Any:
        return ("sync", info)


class _AsyncInner(httpcore.AsyncNetworkStream):
    def get_extra_info(self, info: str) -> Any:
        return ("async", info)


@pytest.mark.parametrize("info", ["socket", "ssl_object", "client_addr", "server_addr", "is_readable", "other"])
def test_every_extra_is_the_inner_streams_own_answer(info: str) -> None:
    assert _Stream(_SyncInner()).get_extra_info(info) == ("sync", info)
    assert _AsyncStream(_AsyncInner()).get_extra_info(info) == ("async", info)

"""The generated calls' fast request path: one absolute URL with the query encoded by the SDK must be
the very request httpx would build from a relative path and ``params=``; anything unusual falls back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from upbit_client.fast_request import encode_query, prepare_request

VALUES: list[object] = [
    ["a b", "x+y", "&=?#/", "한국", "", "~._-", "%41", "[]"],
    ["6c1eac69-b9bc-4fbf-9982-e9c4641c4500", "6c1eac69-b9bc-4fbf-9982-e9c4641c4501"],
    "plain",
    3,
    2.5,
    True,
    False,
    None,
    [],
    [1, True, None, 0.1],
    ("t", "u"),
]
BASES = ["http://h", "http://h:81/sub", "http://h/sub/", "https://h/a%20b/", "http://[::1]:8000"]


def url_builder(**client_args: Any) -> httpx.Client:
    """A client that only builds requests: nothing is sent, so a MockTransport spares loading the CA bundle."""
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(500)), **client_args)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("key", ["k", "uuids[]", "a b", "ü"])
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_same_url_as_httpx_params(base: str, key: str, value: object) -> None:
    with url_builder(base_url=base) as client:
        kwargs: dict[str, Any] = {"method": "delete", "url": "/v1/orders/uuids", "params": {key: value, "z": "1"}}
        fast = prepare_request(client, kwargs)
        assert "params" not in fast
        expected, got = client.build_request(**kwargs).url, client.build_request(**fast).url
        assert (str(got), got.raw_path) == (str(expected), expected.raw_path)


def test_no_params_no_question_mark() -> None:
    with url_builder(base_url="http://h") as client:
        kwargs: dict[str, Any] = {"method": "delete", "url": "/v1/x", "params": {}}
        assert prepare_request(client, kwargs)["url"] == "http://h/v1/x"


@pytest.mark.parametrize(
    ("client_args", "params"),
    [
        ({"base_url": "http://h", "params": {"a": "1"}}, {"k": "v"}),  # client-wide params merge
        ({}, {"k": "v"}),  # no base URL
        ({"base_url": "http://h"}, {"k": {"a": 1}}),  # not a plain value
        ({"base_url": "http://h"}, {"k": [b"bytes"]}),
    ],
)
def test_falls_back_to_httpx(client_args: dict[str, Any], params: dict[str, object]) -> None:
    with url_builder(**client_args) as client:
        kwargs: dict[str, Any] = {"method": "delete", "url": "/v1/x", "params": params}
        assert prepare_request(client, kwargs) is kwargs


def test_encode_query_of_ids() -> None:
    assert encode_query({"uuids[]": ["a-1", "b.2"]}) == "uuids%5B%5D=a-1&uuids%5B%5D=b.2"

from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.list_orders_by_ids_order_by import ListOrdersByIdsOrderBy
from ...models.order import Order
from ...models.upbit_error import UpbitError
from ...types import (
    UNSET,
    ParameterRule,
    RateLimit,
    Response,
    Unset,
    ValueRule,
    check_query,
    prepare_request,
)

OPERATION_ID = "listOrdersByIds"
METHOD = "GET"
PATH = "/v1/orders/uuids"

QUERY_RULES: tuple[ParameterRule, ...] = (
    ParameterRule(
        python_name="market",
        wire_name="market",
        required=False,
        value=ValueRule(
            type="string",
            min_length=None,
            max_length=None,
            pattern=None,
            enum=None,
            pattern_description=None,
        ),
        is_array=False,
        min_items=None,
        max_items=None,
        item=None,
    ),
    ParameterRule(
        python_name="uuids",
        wire_name="uuids[]",
        required=False,
        value=ValueRule(
            type=None,
            min_length=None,
            max_length=None,
            pattern=None,
            enum=None,
            pattern_description=None,
        ),
        is_array=True,
        min_items=1,
        max_items=100,
        item=ValueRule(
            type="string",
            min_length=1,
            max_length=None,
            pattern="^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$",
            enum=None,
            pattern_description="not blank and free of control characters",
        ),
    ),
    ParameterRule(
        python_name="identifiers",
        wire_name="identifiers[]",
        required=False,
        value=ValueRule(
            type=None,
            min_length=None,
            max_length=None,
            pattern=None,
            enum=None,
            pattern_description=None,
        ),
        is_array=True,
        min_items=1,
        max_items=100,
        item=ValueRule(
            type="string",
            min_length=1,
            max_length=None,
            pattern="^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$",
            enum=None,
            pattern_description="not blank and free of control characters",
        ),
    ),
    ParameterRule(
        python_name="order_by",
        wire_name="order_by",
        required=False,
        value=ValueRule(
            type="string",
            min_length=None,
            max_length=None,
            pattern=None,
            enum=(
                "asc",
                "desc",
            ),
            pattern_description=None,
        ),
        is_array=False,
        min_items=None,
        max_items=None,
        item=None,
    ),
)
"""The query parameters' rules from the OpenAPI document, checked before anything is sent."""

EXACTLY_ONE_OF: tuple[tuple[str, ...], ...] = (
    (
        "uuids",
        "identifiers",
    ),
)
"""Groups of parameters of which exactly one must be given (``x-exactly-one-of``)."""

RATE_LIMIT: RateLimit | None = RateLimit(
    group="default", per_second=30, scope="account"
)
"""The rate-limit group this call counts in (``x-rate-limit``), if the document names one."""


def _get_kwargs(
    *,
    market: str | Unset = UNSET,
    uuids: list[str] | Unset = UNSET,
    identifiers: list[str] | Unset = UNSET,
    order_by: ListOrdersByIdsOrderBy | Unset = ListOrdersByIdsOrderBy.DESC,
) -> dict[str, Any]:
    check_query(
        QUERY_RULES,
        EXACTLY_ONE_OF,
        {
            "market": market,
            "uuids": uuids,
            "identifiers": identifiers,
            "order_by": order_by,
        },
    )

    params: dict[str, Any] = {}

    params["market"] = market

    json_uuids: list[str] | Unset = UNSET
    if not isinstance(uuids, Unset):
        json_uuids = uuids

    params["uuids[]"] = json_uuids

    json_identifiers: list[str] | Unset = UNSET
    if not isinstance(identifiers, Unset):
        json_identifiers = identifiers

    params["identifiers[]"] = json_identifiers

    json_order_by: str | Unset = UNSET
    if not isinstance(order_by, Unset):
        json_order_by = order_by.value

    params["order_by"] = json_order_by

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/orders/uuids",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> UpbitError | list[Order] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        if not isinstance(_response_200, list):
            raise TypeError(
                f"response_200 must be a list, not {type(_response_200).__name__}"
            )

        for response_200_item_data in _response_200:
            response_200_item = Order.from_dict(response_200_item_data)

            response_200.append(response_200_item)

        return response_200

    if response.status_code == 400:
        response_400 = UpbitError.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = UpbitError.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = UpbitError.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = UpbitError.from_dict(response.json())

        return response_404

    if response.status_code == 418:
        response_418 = UpbitError.from_dict(response.json())

        return response_418

    if response.status_code == 429:
        response_429 = UpbitError.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = UpbitError.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[UpbitError | list[Order]]:
    try:
        parsed = _parse_response(client=client, response=response)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # A body that is not the documented JSON (HTML from a proxy, truncated, wrong shape).
        raise errors.InvalidResponse(
            response.status_code, response.content, f"{type(exc).__name__}: {exc}"
        ) from exc
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=parsed,
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    market: str | Unset = UNSET,
    uuids: list[str] | Unset = UNSET,
    identifiers: list[str] | Unset = UNSET,
    order_by: ListOrdersByIdsOrderBy | Unset = ListOrdersByIdsOrderBy.DESC,
) -> Response[UpbitError | list[Order]]:
    """List orders by their ids (List Orders by IDs)

     Lists up to 100 orders named either by their `uuids[]` or by their
    client-chosen `identifiers[]`: exactly one of the two parameters must
    be given. An id the exchange does not know is simply absent from the
    answer. Each order's `state` tells what a cancel did.

    Requires the API key permission "View Orders". Counted in the
    `default` rate-limit group.

    Args:
        market (str | Unset):
        uuids (list[str] | Unset):
        identifiers (list[str] | Unset):
        order_by (ListOrdersByIdsOrderBy | Unset):  Default: ListOrdersByIdsOrderBy.DESC.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[UpbitError | list[Order]]
    """

    kwargs = _get_kwargs(
        market=market,
        uuids=uuids,
        identifiers=identifiers,
        order_by=order_by,
    )

    http = client.get_httpx_client()
    response = http.request(
        **prepare_request(http, kwargs),
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    market: str | Unset = UNSET,
    uuids: list[str] | Unset = UNSET,
    identifiers: list[str] | Unset = UNSET,
    order_by: ListOrdersByIdsOrderBy | Unset = ListOrdersByIdsOrderBy.DESC,
) -> UpbitError | list[Order] | None:
    """List orders by their ids (List Orders by IDs)

     Lists up to 100 orders named either by their `uuids[]` or by their
    client-chosen `identifiers[]`: exactly one of the two parameters must
    be given. An id the exchange does not know is simply absent from the
    answer. Each order's `state` tells what a cancel did.

    Requires the API key permission "View Orders". Counted in the
    `default` rate-limit group.

    Args:
        market (str | Unset):
        uuids (list[str] | Unset):
        identifiers (list[str] | Unset):
        order_by (ListOrdersByIdsOrderBy | Unset):  Default: ListOrdersByIdsOrderBy.DESC.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        UpbitError | list[Order]
    """

    return sync_detailed(
        client=client,
        market=market,
        uuids=uuids,
        identifiers=identifiers,
        order_by=order_by,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    market: str | Unset = UNSET,
    uuids: list[str] | Unset = UNSET,
    identifiers: list[str] | Unset = UNSET,
    order_by: ListOrdersByIdsOrderBy | Unset = ListOrdersByIdsOrderBy.DESC,
) -> Response[UpbitError | list[Order]]:
    """List orders by their ids (List Orders by IDs)

     Lists up to 100 orders named either by their `uuids[]` or by their
    client-chosen `identifiers[]`: exactly one of the two parameters must
    be given. An id the exchange does not know is simply absent from the
    answer. Each order's `state` tells what a cancel did.

    Requires the API key permission "View Orders". Counted in the
    `default` rate-limit group.

    Args:
        market (str | Unset):
        uuids (list[str] | Unset):
        identifiers (list[str] | Unset):
        order_by (ListOrdersByIdsOrderBy | Unset):  Default: ListOrdersByIdsOrderBy.DESC.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[UpbitError | list[Order]]
    """

    kwargs = _get_kwargs(
        market=market,
        uuids=uuids,
        identifiers=identifiers,
        order_by=order_by,
    )

    http = client.get_async_httpx_client()
    response = await http.request(**prepare_request(http, kwargs))

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    market: str | Unset = UNSET,
    uuids: list[str] | Unset = UNSET,
    identifiers: list[str] | Unset = UNSET,
    order_by: ListOrdersByIdsOrderBy | Unset = ListOrdersByIdsOrderBy.DESC,
) -> UpbitError | list[Order] | None:
    """List orders by their ids (List Orders by IDs)

     Lists up to 100 orders named either by their `uuids[]` or by their
    client-chosen `identifiers[]`: exactly one of the two parameters must
    be given. An id the exchange does not know is simply absent from the
    answer. Each order's `state` tells what a cancel did.

    Requires the API key permission "View Orders". Counted in the
    `default` rate-limit group.

    Args:
        market (str | Unset):
        uuids (list[str] | Unset):
        identifiers (list[str] | Unset):
        order_by (ListOrdersByIdsOrderBy | Unset):  Default: ListOrdersByIdsOrderBy.DESC.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        UpbitError | list[Order]
    """

    return (
        await asyncio_detailed(
            client=client,
            market=market,
            uuids=uuids,
            identifiers=identifiers,
            order_by=order_by,
        )
    ).parsed

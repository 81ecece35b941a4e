from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.cancel_orders_result import CancelOrdersResult
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

OPERATION_ID = "cancelOrdersByIds"
METHOD = "DELETE"
PATH = "/v1/orders/uuids"

QUERY_RULES: tuple[ParameterRule, ...] = (
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
        max_items=20,
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
        max_items=20,
        item=ValueRule(
            type="string",
            min_length=1,
            max_length=None,
            pattern="^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$",
            enum=None,
            pattern_description="not blank and free of control characters",
        ),
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
    uuids: list[str] | Unset = UNSET,
    identifiers: list[str] | Unset = UNSET,
) -> dict[str, Any]:
    check_query(
        QUERY_RULES,
        EXACTLY_ONE_OF,
        {
            "uuids": uuids,
            "identifiers": identifiers,
        },
    )

    params: dict[str, Any] = {}

    json_uuids: list[str] | Unset = UNSET
    if not isinstance(uuids, Unset):
        json_uuids = uuids

    params["uuids[]"] = json_uuids

    json_identifiers: list[str] | Unset = UNSET
    if not isinstance(identifiers, Unset):
        json_identifiers = identifiers

    params["identifiers[]"] = json_identifiers

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "delete",
        "url": "/v1/orders/uuids",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CancelOrdersResult | UpbitError | None:
    if response.status_code == 200:
        response_200 = CancelOrdersResult.from_dict(response.json())

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
) -> Response[CancelOrdersResult | UpbitError]:
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
    uuids: list[str] | Unset = UNSET,
    identifiers: list[str] | Unset = UNSET,
) -> Response[CancelOrdersResult | UpbitError]:
    """Cancel a list of orders (Order List Cancel)

     Requests cancellation of up to 20 orders named either by their `uuids[]`
    or by their client-chosen `identifiers[]`: exactly one of the two
    parameters must be given.

    Parameters go in the query string only; a request body is rejected
    with 400 `QUERY_PARAMETER_NOT_SUPPORTED`. Arrays are sent as repeated
    keys with brackets (`uuids[]=A&uuids[]=B`).

    A cancel can fail per order (the order was already filled or
    cancelled, or its market is suspended, e.g. for a rebranding): that
    is still a 200, with the order listed under `failed`.

    Requires the API key permission "Make Orders" (`out_of_scope`
    otherwise). Counted in the `default` rate-limit group.

    Args:
        uuids (list[str] | Unset):
        identifiers (list[str] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CancelOrdersResult | UpbitError]
    """

    kwargs = _get_kwargs(
        uuids=uuids,
        identifiers=identifiers,
    )

    http = client.get_httpx_client()
    response = http.request(
        **prepare_request(http, kwargs),
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    uuids: list[str] | Unset = UNSET,
    identifiers: list[str] | Unset = UNSET,
) -> CancelOrdersResult | UpbitError | None:
    """Cancel a list of orders (Order List Cancel)

     Requests cancellation of up to 20 orders named either by their `uuids[]`
    or by their client-chosen `identifiers[]`: exactly one of the two
    parameters must be given.

    Parameters go in the query string only; a request body is rejected
    with 400 `QUERY_PARAMETER_NOT_SUPPORTED`. Arrays are sent as repeated
    keys with brackets (`uuids[]=A&uuids[]=B`).

    A cancel can fail per order (the order was already filled or
    cancelled, or its market is suspended, e.g. for a rebranding): that
    is still a 200, with the order listed under `failed`.

    Requires the API key permission "Make Orders" (`out_of_scope`
    otherwise). Counted in the `default` rate-limit group.

    Args:
        uuids (list[str] | Unset):
        identifiers (list[str] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CancelOrdersResult | UpbitError
    """

    return sync_detailed(
        client=client,
        uuids=uuids,
        identifiers=identifiers,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    uuids: list[str] | Unset = UNSET,
    identifiers: list[str] | Unset = UNSET,
) -> Response[CancelOrdersResult | UpbitError]:
    """Cancel a list of orders (Order List Cancel)

     Requests cancellation of up to 20 orders named either by their `uuids[]`
    or by their client-chosen `identifiers[]`: exactly one of the two
    parameters must be given.

    Parameters go in the query string only; a request body is rejected
    with 400 `QUERY_PARAMETER_NOT_SUPPORTED`. Arrays are sent as repeated
    keys with brackets (`uuids[]=A&uuids[]=B`).

    A cancel can fail per order (the order was already filled or
    cancelled, or its market is suspended, e.g. for a rebranding): that
    is still a 200, with the order listed under `failed`.

    Requires the API key permission "Make Orders" (`out_of_scope`
    otherwise). Counted in the `default` rate-limit group.

    Args:
        uuids (list[str] | Unset):
        identifiers (list[str] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CancelOrdersResult | UpbitError]
    """

    kwargs = _get_kwargs(
        uuids=uuids,
        identifiers=identifiers,
    )

    http = client.get_async_httpx_client()
    response = await http.request(**prepare_request(http, kwargs))

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    uuids: list[str] | Unset = UNSET,
    identifiers: list[str] | Unset = UNSET,
) -> CancelOrdersResult | UpbitError | None:
    """Cancel a list of orders (Order List Cancel)

     Requests cancellation of up to 20 orders named either by their `uuids[]`
    or by their client-chosen `identifiers[]`: exactly one of the two
    parameters must be given.

    Parameters go in the query string only; a request body is rejected
    with 400 `QUERY_PARAMETER_NOT_SUPPORTED`. Arrays are sent as repeated
    keys with brackets (`uuids[]=A&uuids[]=B`).

    A cancel can fail per order (the order was already filled or
    cancelled, or its market is suspended, e.g. for a rebranding): that
    is still a 200, with the order listed under `failed`.

    Requires the API key permission "Make Orders" (`out_of_scope`
    otherwise). Counted in the `default` rate-limit group.

    Args:
        uuids (list[str] | Unset):
        identifiers (list[str] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CancelOrdersResult | UpbitError
    """

    return (
        await asyncio_detailed(
            client=client,
            uuids=uuids,
            identifiers=identifiers,
        )
    ).parsed

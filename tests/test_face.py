"""``upbit_cancel``'s face is what users call, plus only the types the signatures of those calls name.

The decision is ``USER_CALLS`` below. Every other exported name must be forced by a public signature
(``tests/test_public_types.py``: typed code must be able to name what our functions take and return),
and every name so forced is exported: when a rewrite stops naming an internal in a public signature,
the first test fails until the name leaves ``__all__`` (and the changelog says where it went).
"""

from __future__ import annotations

import importlib

import pytest

import upbit_cancel
from tests.test_public_types import NAME, annotations_of, ours

USER_CALLS = frozenset(
    {
        "__version__",
        # the calls
        "connect",
        "cancel_orders",
        "cancel_orders_async",
        "cancel_open_orders",
        "cancel_open_orders_async",
        "connect_pockets",
        "sweep_pockets",
        "sweep_pockets_async",
        "pocket_keys",
        "BatchOptions",
        "SweepOptions",
        "PacedTransport",
        "reset_pacing",
        "main",
        "unwrap",
        # the events (connect(on_event=...)): what a hook is told, matched on by type
        "Event",
        "RequestSent",
        "RequestAnswered",
        "RequestRateLimited",
        "RequestBlocked",
        "RequestFailed",
        "RequestRetried",
        "LookupConfirmed",
        # the dead-man's switch
        "Heartbeat",
        "GuardScope",
        "Guard",
        # the report
        "BatchResult",
        "OrderRef",
        "UnconfirmedOrder",
        "NotSentOrder",
        "ErrorInfo",
        "ReportDict",
        "PocketsResult",
        # the error tree
        "UpbitClientError",
        "ConfigurationError",
        "MissingCredentials",
        "TransportError",
        "RedirectRefused",
        "KeyBlocked",
        "BatchInterrupted",
        "BatchCancelled",
        "PocketsInterrupted",
        "PocketsCancelled",
        "UpbitAPIError",
        "AuthenticationError",
        "PermissionDenied",
        "RateLimited",
        "TemporarilyBlocked",
        "ServerError",
        "InvalidRequest",
        "InvalidResponse",
        "UnexpectedStatus",
    }
)

# Names that left the face in 3.0.0, and the module each still lives in (CHANGELOG.md, "Migrating to 3.0.0").
LEFT_THE_FACE = {"SharedBudget": "upbit_cancel.redis_store"}


def named_by_signatures(names: frozenset[str]) -> set[str]:
    """The exported names of ours that the public signatures of ``names`` name, and theirs in turn."""
    found: set[str] = set()
    todo = list(names)
    while todo:
        value = getattr(upbit_cancel, todo.pop())
        for _, text, home in annotations_of(value):
            for name in NAME.findall(text):
                if name in upbit_cancel.__all__ and name not in found | names and ours(name, home):
                    found.add(name)
                    todo.append(name)
    return found


def test_the_face_is_what_users_call_and_the_types_their_signatures_name() -> None:
    forced = named_by_signatures(USER_CALLS)
    extra = set(upbit_cancel.__all__) - USER_CALLS - forced
    missing = USER_CALLS - set(upbit_cancel.__all__)
    assert (sorted(extra), sorted(missing)) == ([], []), "exported but nothing public names it / not exported"


@pytest.mark.parametrize(("name", "module"), sorted(LEFT_THE_FACE.items()))
def test_a_name_that_left_the_face_is_refused_there_and_stays_in_its_module(name: str, module: str) -> None:
    assert name not in upbit_cancel.__all__
    with pytest.raises(ImportError):
        exec(f"from upbit_cancel import {name}", {})
    assert getattr(importlib.import_module(module), name) is not None


def test_the_command_is_on_the_face_and_returns_its_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert upbit_cancel.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("upbit-cancel ")

"""Real Upbit keys sign without warnings, the SDK leaves the process's warning filters alone, and
``requests_sent`` counts only requests that left the machine (issue 15, "warnings as errors")."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import httpx

from tests.keys import TEST_ACCESS_KEY
from upbit_auth import UpbitAuth
from upbit_auth.signing import build_claims, sign
from upbit_cancel.batch import cancel_orders
from upbit_client import Client
from upbit_sandbox import SandboxExchange

# The length of a real Upbit secret key: shorter than the 64 bytes RFC 7518 recommends for HS512.
UPBIT_LENGTH_SECRET = "0123456789abcdefghij0123456789ABCDEFGHIJ"
assert len(UPBIT_LENGTH_SECRET) == 40


def test_importing_the_sdk_leaves_the_warning_filters_unchanged() -> None:
    program = textwrap.dedent(
        """
        import warnings
        before = list(warnings.filters)
        import upbit_auth, upbit_auth.signing, upbit_auth.auth
        import upbit_cancel, upbit_cancel.cli, upbit_cancel.batch, upbit_cancel.client
        import upbit_sandbox, upbit_sandbox.exchange
        assert warnings.filters == before, [f for f in warnings.filters if f not in before]
        print("unchanged")
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "unchanged", done.stderr


def test_signing_with_a_40_character_secret_warns_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for algorithm in ("HS256", "HS512"):
            assert sign(build_claims("access", "nonce", b"a=1"), UPBIT_LENGTH_SECRET, algorithm).count(".") == 2


def test_a_sandbox_cancel_with_a_40_character_secret_passes_with_warnings_as_errors() -> None:
    # The whole process under -W error, as CI runs it: signing and the sandbox's check both take the key as issued.
    program = textwrap.dedent(
        f"""
        from upbit_auth import UpbitAuth
        from upbit_cancel.batch import cancel_orders
        from upbit_client import Client
        from upbit_sandbox import SandboxExchange

        exchange = SandboxExchange(credentials={{{TEST_ACCESS_KEY!r}: {UPBIT_LENGTH_SECRET!r}}})
        ids = [exchange.add_order().uuid for _ in range(3)]
        auth = UpbitAuth({TEST_ACCESS_KEY!r}, {UPBIT_LENGTH_SECRET!r})
        args = {{"auth": auth, "transport": exchange.transport()}}
        with Client(base_url="https://api.upbit.com", httpx_args=args) as c:
            result = cancel_orders(c, uuids=ids)
        print(len(result.success), len(result.unconfirmed), result.requests_sent)
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.split() == ["3", "0", "1"], done.stderr


def test_requests_sent_does_not_count_a_request_that_failed_before_leaving() -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: UPBIT_LENGTH_SECRET})
    ids = [exchange.add_order().uuid for _ in range(3)]

    def refuse(request: httpx.Request) -> None:
        raise RuntimeError("a hook that fails before sending")

    auth = UpbitAuth(TEST_ACCESS_KEY, UPBIT_LENGTH_SECRET)
    httpx_args = {"auth": auth, "transport": exchange.transport(), "event_hooks": {"request": [refuse]}}
    with Client(base_url="https://api.upbit.com", httpx_args=httpx_args) as client:
        result = cancel_orders(client, uuids=ids)
    assert exchange.requests == []
    assert result.requests_sent == 0

"""A store URL's credential never shows: not in a warning, an error, a log record, an exception or a repr.

Every form redis-py reads a password from is a row: the user info (``redis://:pw@``, ``rediss://user:pw@``),
the query (``?password=``, also percent-encoded, also on ``unix://``), and each reaches the SDK as an
argument, through ``$UPBIT_RATE_LIMIT_STORE`` or ``--rate-limit-store``. The stores here are unreachable
(nothing listens), so every run warns about the store once, and a URL that cannot work is refused with
an error quoting it: both must hide the password.
"""

from __future__ import annotations

import logging
import traceback

import pytest

from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from upbit_auth import UpbitAuth
from upbit_cancel import cli
from upbit_cancel.batch import cancel_orders
from upbit_cancel.errors import ConfigurationError
from upbit_cancel.redis_store import SharedBudget
from upbit_cancel.store import STORE_ENV, Send, StoreUnavailable, check_store_url, redacted_url
from upbit_client import Client
from upbit_sandbox import SandboxExchange

PASSWORD = "TopSecretPw123"

FORMS = [
    f"redis://127.0.0.1:1/0?password={PASSWORD}",
    f"redis://127.0.0.1:1/0?db=0&pass%77ord={PASSWORD}",
    f"redis://127.0.0.1:1/0?ssl_password={PASSWORD}&password={PASSWORD}",
    f"unix:///nonexistent-dir/redis.sock?password={PASSWORD}",
    f"unix://:{PASSWORD}@/nonexistent-dir/redis.sock",
    f"rediss://user:{PASSWORD}@127.0.0.1:1/0",
    f"redis://:{PASSWORD}@127.0.0.1:1/0",
    f"redis://user:{PASSWORD}@127.0.0.1:1/0?password={PASSWORD}",
    f"redis+sentinel://:{PASSWORD}@127.0.0.1:1,127.0.0.1:2/svc/0",
    f"redis+sentinel://127.0.0.1:1/svc?sentinel_password={PASSWORD}",
    f"redis+cluster://user:{PASSWORD}@127.0.0.1:1,127.0.0.1:2",
]

BROKEN = [
    f"redis://127.0.0.1:abc/0?password={PASSWORD}",
    f"redis://:{PASSWORD}@127.0.0.1:1/notanumber",
    f"ftp://user:{PASSWORD}@127.0.0.1/0",
    f"redis://:{PASSWORD}#with@odd/chars@127.0.0.1:1/0",
    f"redis+sentinel://:{PASSWORD}@127.0.0.1:1/svc/notanumber",
    f"redis+cluster://:{PASSWORD}@127.0.0.1:1/5",
    f"redis://127.0.0.1:1/0?socket_timeout=soon&password={PASSWORD}",
]


def everything_logged(records: list[logging.LogRecord]) -> str:
    texts = [record.getMessage() for record in records]
    texts += ["".join(traceback.format_exception(*record.exc_info)) for record in records if record.exc_info]
    return "\n".join(texts)


@pytest.mark.parametrize("url", FORMS)
def test_the_password_of_a_store_url_is_redacted_in_every_form(url: str) -> None:
    shown = redacted_url(url)
    assert PASSWORD not in shown
    assert shown.startswith(url.split("://")[0] + "://")


def test_a_store_url_without_a_credential_is_shown_as_it_is() -> None:
    for url in ("redis://cache:6379/0", "unix:///run/redis.sock?db=2", "rediss://cache/1?socket_timeout=1"):
        assert redacted_url(url) == url


@pytest.mark.parametrize("url", [*FORMS, BROKEN[-1]])
def test_a_store_that_fails_names_itself_without_its_password(url: str) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        store = SharedBudget(url, "pocket", "default", 30)
        assert PASSWORD not in repr(store)
        store.take(Send(None, [1, 2]))
    assert PASSWORD not in str(raised.value)
    assert "rate-limit store" in str(raised.value)


@pytest.mark.parametrize("url", FORMS)
def test_a_batch_given_a_store_url_never_logs_its_password(url: str, caplog: pytest.LogCaptureFixture) -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    orders = [exchange.add_order().uuid for _ in range(3)]
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
    httpx_args = {"auth": auth, "transport": exchange.transport()}
    with caplog.at_level(logging.DEBUG), Client(base_url="https://api.upbit.com", httpx_args=httpx_args) as client:
        result = cancel_orders(client, uuids=orders, rate_limit_store=url)
    assert len(result.success) == 3
    logged = everything_logged(caplog.records)
    assert "in this process only" in logged
    assert PASSWORD not in logged and PASSWORD not in repr(result)


@pytest.mark.parametrize("url", BROKEN[:4])
def test_a_store_url_that_cannot_work_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        check_store_url(url, STORE_ENV)
    assert PASSWORD not in str(raised.value) and STORE_ENV in str(raised.value)


@pytest.mark.parametrize("via", ["--rate-limit-store", STORE_ENV])
@pytest.mark.parametrize("url", [*FORMS, *BROKEN])
def test_upbit_cancel_never_prints_a_store_password(
    url: str, via: str, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    orders = [exchange.add_order().uuid for _ in range(3)]
    if via == STORE_ENV:
        cli_env.setenv(STORE_ENV, url)
        args = ["--uuid", *orders]
    else:
        args = [via, url, "--uuid", *orders]
    status = cli.main(args, transport=exchange.transport())
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    assert status in (0, 2), err
    if status == 0:
        assert "in this process only" in err and not exchange.orders("wait")
    else:
        assert via in err and not exchange.orders("done")

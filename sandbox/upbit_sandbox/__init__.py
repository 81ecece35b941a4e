"""A verifying sandbox exchange for the spec's order endpoints: in-process transport, loopback server, CLI.

```python
from upbit_auth import UpbitAuth
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange, running_server
from upbit_client import Client

exchange = SandboxExchange()
exchange.seed_demo_orders()
auth = UpbitAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
client = Client(base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": exchange.transport()})
with running_server(exchange) as url:  # real HTTP on 127.0.0.1, e.g. for vcrpy or benchmarks
    ...
```

Also: faults on demand (``exchange.faults``, ``faults.py``), a vcrpy configuration that keeps tokens
and keys out of cassettes (``vcr_config``), and pytest fixtures (``pytest_plugin.py``, loaded by
pytest itself): ``docs/testing.md``.
"""

from .clock import ExchangeClock
from .exchange import (
    DEFAULT_RATE_LIMIT_PER_SECOND,
    DEMO_ACCESS_KEY,
    DEMO_MARKETS,
    DEMO_SECRET_KEY,
    ENDPOINT_METHOD,
    ENDPOINT_PATH,
    LOOKUP_METHOD,
    LOOKUP_PATH,
    UNKNOWN_ORDER_MARKET,
    Order,
    OrderSide,
    OrderState,
    RequestRecord,
    SandboxExchange,
    SandboxResponse,
    UnknownOrderFields,
    demo_uuid,
)
from .faults import Fault, FaultKind, FaultPlan
from .recording import REDACTED, vcr_config
from .server import LOOPBACK, SandboxServer, main, running_server, start_server
from .transport import SandboxTransport

__all__ = [
    "DEFAULT_RATE_LIMIT_PER_SECOND",
    "DEMO_ACCESS_KEY",
    "DEMO_MARKETS",
    "DEMO_SECRET_KEY",
    "ENDPOINT_METHOD",
    "ENDPOINT_PATH",
    "LOOKUP_METHOD",
    "LOOKUP_PATH",
    "LOOPBACK",
    "REDACTED",
    "UNKNOWN_ORDER_MARKET",
    "ExchangeClock",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Order",
    "OrderSide",
    "OrderState",
    "RequestRecord",
    "SandboxExchange",
    "SandboxResponse",
    "SandboxServer",
    "SandboxTransport",
    "UnknownOrderFields",
    "demo_uuid",
    "main",
    "running_server",
    "start_server",
    "vcr_config",
]

"""Hand-written companions of the generated ``upbit_client``: the signing auth hook and the error tree.

```python
from upbit_auth import UpbitAuth
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids

client = Client(base_url="https://api.upbit.com", httpx_args={"auth": UpbitAuth.from_env()})
result = cancel_orders_by_ids.sync(client=client, uuids=["..."])
```
"""

from .auth import SecretKey, UpbitAuth
from .signing import build_claims, query_hash, sign

__all__ = ["SecretKey", "UpbitAuth", "build_claims", "query_hash", "sign"]

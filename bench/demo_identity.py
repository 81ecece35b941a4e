"""The sandbox's demo identity in a process that cannot import ``upbit_sandbox`` (``startup.user_python``'s venvs).

The bench (``startup.demo_env``) passes the demo keys and the namespace of the demo orders' uuids in ``BENCH_DEMO``;
without it (a process started by hand in the development venv) they come from ``upbit_sandbox`` itself.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable


def demo_identity() -> tuple[str, str, Callable[[str], str]]:
    """(access key, secret key, the uuid of the demo order labelled ``label``)."""
    raw = os.environ.get("BENCH_DEMO")
    if raw is None:
        from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, demo_uuid

        return DEMO_ACCESS_KEY, DEMO_SECRET_KEY, demo_uuid
    access, secret, namespace = json.loads(raw)
    space = uuid.UUID(namespace)
    return access, secret, lambda label: str(uuid.uuid5(space, label))

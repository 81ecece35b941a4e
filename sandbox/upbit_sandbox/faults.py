"""Faults on demand: the exchange's next answers as Upbit may give them on a bad day.

Every ``SandboxExchange`` has a ``faults`` plan. Each call queues one fault for the next ``times``
requests (in the order queued); each request that passes authentication (route, token, key,
signature, nonce) takes the next fault, so a fault never hides a signing bug and spends the nonce as
a real refusal does. ``only`` restricts a fault to one operation (the registry's name, e.g.
``"cancel_orders_by_ids"``): requests of other operations pass it by.

```python
from upbit_cancel import cancel_orders, connect
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange

exchange = SandboxExchange()
exchange.seed_demo_orders()
exchange.faults.blocked(seconds=60)  # the next request is answered 418, "Blocked for 60 seconds."
client = connect(access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY,
                 httpx_args={"transport": exchange.transport()})
report = cancel_orders(client, identifiers=["demo-0001"])
assert report.blocked is not None and exchange.requests[0].fault == "blocked"
```

| call | the exchange | the client gets | logged as |
| --- | --- | --- | --- |
| ``too_many_requests(times)`` | does nothing | 429 ``too_many_requests`` | status 429 |
| ``blocked(seconds, times)`` | does nothing | 418, ``Blocked for {seconds} seconds.`` | status 418 |
| ``server_error(times)`` | does nothing | 500 ``server_error`` | status 500 |
| ``reset(times)`` | does nothing | no answer: the connection closes | status None |
| ``lose_answer(times)`` | carries the request out | no answer: the connection closes | status None |
| ``latency(seconds, times)`` | carries the request out | its answer, ``seconds`` later | its status |

The in-process transport holds an answer back only within the request's read timeout: past it the
client gets ``httpx.ReadTimeout`` and the log has no status (``transport.py``). With the pytest
fixture ``upbit_exchange``, a fault still queued when a passing test ends fails it (``pytest_plugin.py``).

The request log (``SandboxExchange.requests``) names the fault of each request (``RequestRecord.fault``)
and records the status the client received (None: no answer). ``SandboxExchange(drop_answer_every=N)``
is the standing form of ``lose_answer``: every Nth cancel carried out loses its answer (logged the same).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["BLOCKED_ERROR_NAME", "Fault", "FaultKind", "FaultPlan"]

FaultKind = Literal["too_many_requests", "blocked", "server_error", "reset", "lost_answer", "latency"]
"""What a fault does; ``RequestRecord.fault`` names it for each request it hit."""

BLOCKED_ERROR_NAME: Final = "too_many_requests_blocked"
"""The error name of the 418 the ``blocked`` fault answers (the SDK branches on the status, 418)."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One queued fault: its ``kind``, ``seconds`` (block time or latency) and the operation it is ``only`` for."""

    kind: FaultKind
    seconds: float = 0.0
    only: str | None = None
    pocket: str | None = None
    """The pocket whose requests alone it hits (None: any request); e.g. one pocket's own 418 block."""

    @property
    def refusal(self) -> tuple[int, str, str] | None:
        """(status, error name, message) answered instead of carrying the request out; None if it is carried out."""
        if self.kind == "too_many_requests":
            return 429, "too_many_requests", "Too many requests."
        if self.kind == "blocked":
            return 418, BLOCKED_ERROR_NAME, f"Too many requests. Blocked for {self.seconds:g} seconds."
        if self.kind in ("server_error", "reset"):
            return 500, "server_error", "Internal server error."
        return None

    def describe(self) -> str:
        """The fault as the call that queues it: ``latency(seconds=5)``, ``blocked(seconds=60, only='...')``."""
        method = "lose_answer" if self.kind == "lost_answer" else self.kind
        arguments = [f"seconds={self.seconds:g}"] if self.kind in ("blocked", "latency") else []
        if self.only is not None:
            arguments.append(f"only={self.only!r}")
        return f"{method}({', '.join(arguments)})"

    @property
    def answered(self) -> bool:
        """False when the client gets no answer at all (the connection closes)."""
        return self.kind not in ("reset", "lost_answer")

    @property
    def delay(self) -> float:
        """Seconds the answer is held back (the ``latency`` fault)."""
        return self.seconds if self.kind == "latency" else 0.0


class FaultPlan:
    """The faults queued for an exchange's next requests (``SandboxExchange.faults``). Thread-safe.

    ``operations`` are the names ``only`` may take (the exchange's registry); a name outside them is
    refused with a ``ValueError`` naming it, so a misspelt ``only`` cannot silently never fire.
    """

    def __init__(self, operations: Iterable[str] = ()) -> None:
        self._operations = frozenset(operations)
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()

    def too_many_requests(self, times: int = 1, *, only: str | None = None, pocket: str | None = None) -> None:
        """The next ``times`` requests are answered 429 ``too_many_requests`` and not carried out."""
        self._add(Fault("too_many_requests", only=only, pocket=pocket), times)

    def blocked(
        self, seconds: float = 60.0, times: int = 1, *, only: str | None = None, pocket: str | None = None
    ) -> None:
        """The next ``times`` requests are answered 418, blocked for ``seconds`` (named in the message)."""
        if not seconds > 0:
            raise ValueError(f"seconds must be > 0; given: {seconds!r}")
        self._add(Fault("blocked", seconds, only, pocket), times)

    def server_error(self, times: int = 1, *, only: str | None = None, pocket: str | None = None) -> None:
        """The next ``times`` requests are answered 500 ``server_error`` and not carried out."""
        self._add(Fault("server_error", only=only, pocket=pocket), times)

    def reset(self, times: int = 1, *, only: str | None = None, pocket: str | None = None) -> None:
        """The next ``times`` requests are not carried out and get no answer: the connection closes."""
        self._add(Fault("reset", only=only, pocket=pocket), times)

    def lose_answer(self, times: int = 1, *, only: str | None = None, pocket: str | None = None) -> None:
        """The next ``times`` requests are carried out, then their answers are lost (the connection closes)."""
        self._add(Fault("lost_answer", only=only, pocket=pocket), times)

    def latency(self, seconds: float, times: int = 1, *, only: str | None = None, pocket: str | None = None) -> None:
        """The next ``times`` requests are carried out and answered ``seconds`` late."""
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0; given: {seconds!r}")
        self._add(Fault("latency", seconds, only, pocket), times)

    def clear(self) -> None:
        """Drop every fault still queued."""
        with self._lock:
            self._queue.clear()

    @property
    def pending(self) -> list[Fault]:
        """The faults still queued, next first."""
        with self._lock:
            return list(self._queue)

    def take(self, operation: str, pocket: str | None = None) -> Fault | None:
        """The next fault for a request of ``operation`` signed by a key of ``pocket`` (removed from the queue),
        or None. A fault aimed at a pocket hits only that pocket's requests."""
        with self._lock:
            for index, fault in enumerate(self._queue):
                if fault.only in (None, operation) and fault.pocket in (None, pocket):
                    del self._queue[index]
                    return fault
        return None

    def _add(self, fault: Fault, times: int) -> None:
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a whole number >= 1; given: {times!r}")
        if fault.only is not None and self._operations and fault.only not in self._operations:
            known = ", ".join(sorted(self._operations))
            raise ValueError(f"only must name an operation of the exchange ({known}); given: {fault.only!r}")
        with self._lock:
            self._queue.extend([fault] * times)

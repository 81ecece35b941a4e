"""Heartbeats from a bot to its guard: a dead-man's switch for Upbit, as Kraken's ``cancelAllOrdersAfter``.

``Heartbeat("bot-a", timeout=60, scope=GuardScope(...))`` names a guard and what it guards:

- ``beat()`` arms it, or pushes its deadline ``timeout`` seconds on; ``disarm()`` (or a beat with
  ``timeout=0``) disables it. A guard (``upbit_cancel.guard``) that sees the deadline pass cancels the
  scope's open orders, then keeps the heartbeat disarmed until the next beat (Kraken's rules).
- ``with Heartbeat(...) as beating:`` beats once at entry (raising if the store cannot be used: a bot
  learns at start that it has no guard), then every ``interval`` seconds (default ``timeout / 4``: 15 s for
  the recommended 60 s) from a daemon thread, so a bot's own loop never blocks on it. Leaving the block
  normally disarms it (the bot stopped on purpose); leaving it with an exception does not (the guard will
  clean up after the crash). ``async with`` does the same from asyncio or trio (anyio): the store is
  called in a worker thread, never on the event loop.
- A beat that fails in the background is logged (``upbit_cancel.heartbeat``, a warning per failure
  streak) and tried again at the next interval; ``healthy`` says whether the last beat was stored
  within ``timeout``.

The scope (``GuardScope``): the pocket, the ``--open`` filters (markets, side, states) and an identifier
prefix for bots sharing a pocket. Its states default to ``wait`` only: a ``watch`` order is a
stop-limit, often the stop protecting a holding, and cancelling it when a bot goes silent can leave the
holding unprotected; ``states=("wait", "watch")`` cancels both.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio

from .errors import ConfigurationError
from .heartbeat_store import HeartbeatStore, check_name, open_heartbeat_store
from .store import StoreUnavailable
from .sweep import OpenState, OrderSide, SweepOptions

__all__ = ["DEFAULT_GUARD_STATES", "GuardScope", "Heartbeat"]

log: logging.Logger = logging.getLogger("upbit_cancel.heartbeat")

DEFAULT_GUARD_STATES: tuple[OpenState, ...] = ("wait",)
"""What a guard cancels unless told otherwise: ``wait`` orders; ``watch`` (stop) orders only when asked."""


@dataclass(frozen=True, slots=True)
class GuardScope:
    """What a heartbeat's guard cancels when it fires: checked when made (the sweep's own checks).

    ``pocket`` (None: the guard's default pocket) chooses the key pair (``guard.pocket_client``);
    ``markets``, ``side``, ``states`` are ``--open``'s filters; ``identifier_prefix`` keeps to one bot's
    orders where several share a pocket."""

    pocket: str | None = None
    markets: Sequence[str] | None = None
    side: OrderSide | None = None
    states: Sequence[OpenState] = DEFAULT_GUARD_STATES
    identifier_prefix: str | None = None

    def __post_init__(self) -> None:
        if self.pocket is not None and (not isinstance(self.pocket, str) or not self.pocket.strip()):
            raise ConfigurationError(f"a scope's pocket must be a non-blank string or None; given: {self.pocket!r}")
        object.__setattr__(self, "markets", None if self.markets is None else tuple(self.markets))
        object.__setattr__(self, "states", tuple(self.states))
        self.sweep()  # every filter checked now, not when the guard fires

    def sweep(self, **more: Any) -> SweepOptions:
        """The sweep a fire runs: these filters, ``until_empty`` (listed again until nothing matches)."""
        return SweepOptions(
            markets=self.markets,
            side=self.side,
            states=self.states,
            identifier_prefix=self.identifier_prefix,
            until_empty=True,
            **more,
        )

    def to_text(self) -> str:
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return json.dumps({name: list(value) if isinstance(value, tuple) else value for name, value in fields.items()})

    @classmethod
    def from_text(cls, text: str) -> GuardScope:
        """The scope a heartbeat stored; ``ConfigurationError`` for one that does not read as a scope."""
        try:
            value = json.loads(text)
            return cls(**value)
        except (ValueError, TypeError) as error:
            raise ConfigurationError(f"a stored heartbeat scope does not read as a scope: {error}") from None


def _seconds(name: str, value: object, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or value == float("inf"):
        raise ConfigurationError(f"{name} must be a finite number of seconds >= 0; given: {value!r}")
    if not allow_zero and value == 0:
        raise ConfigurationError(f"{name} must be above 0; given: {value!r}")
    return float(value)


class Heartbeat:
    """One bot's heartbeat to its guard (see the module's docstring). ``store``: a ``HeartbeatStore``, or the
    setting ``heartbeat_store.open_heartbeat_store`` reads (None: the environment, then the default folder)."""

    def __init__(
        self,
        name: str,
        timeout: float = 60.0,
        *,
        scope: GuardScope | None = None,
        store: HeartbeatStore | str | None = None,
        interval: float | None = None,
    ) -> None:
        self.name: str = check_name(name)
        self.timeout: float = _seconds("timeout", timeout, allow_zero=True)
        self.scope: GuardScope = scope or GuardScope()
        self.interval: float = _seconds(
            "interval", interval if interval is not None else self.timeout / 4 or 1.0, False
        )
        if self.timeout and self.interval >= self.timeout:
            raise ConfigurationError(
                f"interval ({self.interval:g} s) must be shorter than timeout ({self.timeout:g} s)"
            )
        self.store: HeartbeatStore = (
            store if store is not None and not isinstance(store, str) else open_heartbeat_store(store)
        )
        self.last_beat: float | None = None
        """``time.monotonic()`` of the last beat the store took."""
        self.last_error: StoreUnavailable | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def healthy(self) -> bool:
        """The last beat was stored less than ``timeout`` ago: the guard sees this bot alive."""
        return self.last_beat is not None and time.monotonic() - self.last_beat < self.timeout

    def beat(self) -> None:
        """Arm, or push the deadline ``timeout`` on (a ``timeout`` of 0 disarms); ``StoreUnavailable`` if not stored."""
        if not self.timeout:
            self.disarm()
            return
        self.store.beat(self.name, self.timeout, self.scope.to_text())
        self.last_beat, self.last_error = time.monotonic(), None

    def disarm(self) -> None:
        """Disable the guard of this heartbeat until the next beat (before a maintenance window, on a clean stop)."""
        self.store.disarm(self.name)
        self.last_beat = None

    async def beat_async(self) -> None:
        await self._off_loop(self.beat)

    async def disarm_async(self) -> None:
        await self._off_loop(self.disarm)

    async def _off_loop(self, call: Any) -> None:
        if self.store.blocking:
            await anyio.to_thread.run_sync(call)
        else:
            call()

    def _beating(self) -> None:
        """The background thread: a beat every ``interval``; a failure is logged once per streak."""
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except StoreUnavailable as error:
                if self.last_error is None:
                    log.warning(
                        "heartbeat %s: not stored, trying again every %g s: %s", self.name, self.interval, error
                    )
                self.last_error = error

    def start(self) -> Heartbeat:
        """Beat now (raising if that fails), then every ``interval`` in a daemon thread until ``stop``."""
        self.beat()
        self._stop.clear()
        self._thread = threading.Thread(target=self._beating, name=f"heartbeat-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, disarm: bool = True) -> None:
        """Stop beating; ``disarm`` also disables the guard (else it fires ``timeout`` after the last beat)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if disarm:
            self.disarm()

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop(disarm=kind is None)

    async def __aenter__(self) -> Heartbeat:
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await anyio.to_thread.run_sync(lambda: self.stop(disarm=kind is None))

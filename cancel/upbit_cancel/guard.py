"""The guard: watches heartbeats and, when one goes silent, cancels exactly what it guards.

``Guard(["bot-a", "bot-b"], store=...)`` is the thin anyio driver (asyncio or trio) of ``guard_core``'s
rules: it reads the heartbeats (in a worker thread when the store waits on the network), sleeps until
the next deadline, and on an expiry claims the heartbeat (which disarms it) and sweeps its scope
(``heartbeat.GuardScope``) with ``cancel_open_orders_async`` and ``until_empty``, through the pocket's client
(``pockets.pocket_client``: its budget and 418 block are the pocket's, shared with every other
process through the rate-limit store). A fire whose sweep leaves orders unconfirmed or unsent, or whose
listing fails (the exchange unreachable, a 418), is tried again until the scope is empty or ``give_up``
seconds have passed (``guard_core.Firing``).

Each fire ends in a ``FireRecord`` (the whole report: every order once, with its best-known fate),
handed to ``on_fire`` and kept as ``last_fire`` in ``status()``. ``run()`` runs until cancelled, or until
a fire gives up: it returns that record then (the command exits 5), since a guard that could not empty
a scope needs a person. Cancelled mid-fire (SIGTERM), the fire's report so far is handed to ``on_fire``
(``interrupted``) before the cancellation goes on. State changes are logged (``upbit_cancel.guard``,
INFO; store loss and give-up as warnings) and, with ``status_file``, written there as JSON, whole.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from upbit_client import Client
from upbit_client.errors import UpbitClientError

from .batch import BatchOptions
from .errors import ConfigurationError, KeyBlocked
from .guard_core import FIRE, Firing, Watch, WatchState, gathering
from .heartbeat import GuardScope
from .heartbeat_store import Beat, HeartbeatStore, check_name, open_heartbeat_store
from .pockets import pocket_client
from .results import BatchResult, groups
from .store import StoreUnavailable

__all__ = ["DEFAULT_ATTEMPT_TIMEOUT", "DEFAULT_GIVE_UP", "FireRecord", "Guard"]

log: logging.Logger = logging.getLogger("upbit_cancel.guard")

DEFAULT_GIVE_UP = 600.0
"""Seconds a fire keeps trying (an unreachable exchange, a 418 block) before it gives up and reports what is left."""
DEFAULT_ATTEMPT_TIMEOUT = 60.0
"""``timeout_total`` of one attempt's sweep (within what is left of ``give_up``)."""


def _stamp(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat(timespec="milliseconds")


@dataclass(slots=True)
class FireRecord:
    """One fire of one heartbeat: when, its scope, how many attempts, the whole report, and
    whether it is ``complete`` (the scope found empty), gave up, or was ``interrupted``."""

    name: str
    fired_at: float
    """Wall-clock epoch seconds of the claim."""
    scope: str
    report: BatchResult
    attempts: int = 0
    complete: bool = False
    interrupted: bool = False
    error: str | None = None
    detected_after: float | None = None
    """Seconds from the deadline (as the guard read it) to the claim."""

    def summary(self) -> dict[str, Any]:
        report = self.report
        return {
            "heartbeat": self.name, "fired_at": _stamp(self.fired_at), "scope": json.loads(self.scope),
            "attempts": self.attempts, "complete": self.complete, "interrupted": self.interrupted,
            "error": self.error, "detected_after": self.detected_after,
            **{"cancelled" if group == "success" else group: len(orders) for group, orders in groups(report)},
            "elapsed": round(report.elapsed, 4), "rate_limited": report.rate_limited,
            "requests": report.listings_sent + report.requests_sent + report.lookups_sent,
        }  # fmt: skip


@dataclass(slots=True)
class _Settings:
    give_up: float
    attempt_timeout: float
    client_for: Callable[[str | None], Client]
    on_fire: Callable[[FireRecord], None] | None
    status_file: Path | None


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds; given: {value!r}")
    return float(value)


@dataclass(slots=True)
class _Clients:
    """One client per pocket, made when first needed (``client_for``), closed with the guard."""

    client_for: Callable[[str | None], Client]
    made: dict[str | None, Client] = field(default_factory=dict)

    def of(self, pocket: str | None) -> Client:
        if pocket not in self.made:
            self.made[pocket] = self.client_for(pocket)
        return self.made[pocket]

    async def close(self) -> None:
        for client in self.made.values():
            await client.get_async_httpx_client().aclose()


@dataclass(slots=True)
class _Held:
    """Fires found at ``found_at`` (monotonic), claimed and waiting on ``go`` to sweep together."""

    found_at: float
    go: anyio.Event = field(default_factory=anyio.Event)


class Guard:
    """Watches ``names`` in ``store`` (a ``HeartbeatStore`` or its setting) and fires on silence (module docstring).

    ``client_for(pocket)`` makes a pocket's client (default: ``pocket_client`` with ``base_url`` and ``environ``).
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        store: HeartbeatStore | str | None = None,
        base_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        give_up: float = DEFAULT_GIVE_UP,
        attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT,
        on_fire: Callable[[FireRecord], None] | None = None,
        status_file: str | os.PathLike[str] | None = None,
        client_for: Callable[[str | None], Client] | None = None,
    ) -> None:
        if isinstance(names, str) or not names:
            raise ConfigurationError(f"a guard watches a list of one or more heartbeat names; given: {names!r}")
        self.watches: dict[str, Watch] = {check_name(name): Watch(name) for name in names}
        self.store: HeartbeatStore = (
            store if store is not None and not isinstance(store, str) else open_heartbeat_store(store, environ)
        )
        default = lambda pocket: pocket_client(pocket, base_url=base_url, environ=environ)  # noqa: E731
        self._settings = _Settings(
            _positive("give_up", give_up), _positive("attempt_timeout", attempt_timeout),
            client_for or default, on_fire, Path(status_file) if status_file is not None else None,
        )  # fmt: skip
        self._clients = _Clients(self._settings.client_for)
        self.last_fires: dict[str, FireRecord] = {}
        self._fire_texts: dict[str, str] = {}
        """Each last fire as ``status()`` shows it, JSON text encoded once when the fire ended."""
        self.gave_up: FireRecord | None = None
        self._stopping = False
        self._wake: anyio.Event | None = None
        self._held: _Held | None = None

    # --- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Each heartbeat's state, trigger time (wall clock, when armed) and last fire: what ``--status`` prints."""
        now, wall = time.monotonic(), time.time()
        beats: dict[str, Any] = {}
        for name in self.watches:
            last = self.last_fires.get(name)
            fire = {**last.summary(), "report": last.report.to_dict()} if last is not None else None
            beats[name] = {**self._beat_status(name, now, wall), "last_fire": fire}
        return {**self._status_head(wall), "heartbeats": beats}

    def _status_head(self, wall: float) -> dict[str, Any]:
        return {"store": self.store.where, "pid": os.getpid(), "written_at": _stamp(wall)}

    def _beat_status(self, name: str, now: float, wall: float) -> dict[str, Any]:
        watch = self.watches[name]
        at = watch.trigger_at()
        return {"state": watch.state.value, "trigger_at": _stamp(wall + at - now) if at is not None else None}

    def _status_text(self) -> str:
        """``status()`` as JSON text, each last fire taken as encoded once when it ended (``_fire_texts``): a
        guard's status file holds every last fire's whole report, and encoding them all again at each change of
        state, on the event loop, delayed the next claims and sweeps (``docs/benchmarks.md``, section 17)."""
        now, wall = time.monotonic(), time.time()
        beats = ", ".join(
            f"{json.dumps(name)}: {json.dumps(self._beat_status(name, now, wall))[:-1]}, "
            f'"last_fire": {self._fire_texts.get(name, "null")}}}'
            for name in self.watches
        )
        return f'{json.dumps(self._status_head(wall))[:-1]}, "heartbeats": {{{beats}}}}}'

    def _changed(self, line: str | None, level: int = logging.INFO) -> None:
        if line is not None:
            log.log(level, "%s", line)
        path = self._settings.status_file
        if path is None:
            return
        try:
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_text(self._status_text(), encoding="utf-8")
            os.replace(temporary, path)
        except OSError as error:
            log.warning("guard status not written to %s: %s", path, error)

    # --- the loop ----------------------------------------------------------------------------

    async def _call(self, call: Callable[[], Any]) -> Any:
        """A store call, in a worker thread when it waits on the network (never on the event loop)."""
        return await anyio.to_thread.run_sync(call) if self.store.blocking else call()

    def _read_all(self) -> dict[str, Beat | None]:
        beats: dict[str, Beat | None] = {}
        for name, watch in self.watches.items():
            if watch.state is WatchState.FIRING:
                continue
            try:
                beats[name] = self.store.read(name)
            except StoreUnavailable:
                beats[name] = None
        return beats

    async def _look(self, tasks: anyio.abc.TaskGroup) -> float:
        """Read every heartbeat, act on what changed; the monotonic time of the next look."""
        beats = await self._call(self._read_all)
        now = time.monotonic()
        for name, beat in beats.items():
            watch = self.watches[name]
            deadline = watch.deadline
            action, line = watch.observe(beat, now)
            if line is not None:
                warn = watch.state in (WatchState.STORE_LOST, WatchState.GRACE) or "master changed" in line
                self._changed(line, logging.WARNING if warn else logging.INFO)
            if beat is not None and watch.near(now):
                self._prepare(beat.scope)
            if action == FIRE:
                watch.state = WatchState.FIRING
                if self._held is None:
                    self._held = _Held(now)
                tasks.start_soon(self._fire, name, deadline, self._held.go)
        if self._held is not None and gathering(self.watches.values(), self._held.found_at) is None:
            self._held.go.set()  # no other heartbeat expires with these: their sweeps start together
            self._held = None
        return min(watch.next_look(now) for watch in self.watches.values())

    def _prepare(self, scope_text: str | None) -> None:
        """Make the client of a heartbeat's pocket as its deadline nears (``Watch.near``; nothing is sent): its fire
        then finds it made, the sweep's modules loaded and the TLS context built (180 ms for a guard's first fire
        on a loaded machine), instead of paying for them after the deadline."""
        from .sweep import cancel_open_orders_async  # noqa: F401  (loaded while idle, not by the first fire)

        if scope_text is None:
            return
        try:
            self._clients.of(GuardScope.from_text(scope_text).pocket)
        except Exception:  # a scope or a pocket that cannot be swept: said, and reported, when it fires
            log.debug("no client made ahead for scope %s", scope_text, exc_info=True)

    async def run(self) -> FireRecord | None:
        """Watch until cancelled or stopped (``stop()``; None), or until a fire gives up (its record)."""
        log.info("guard watching %s in %s", ", ".join(self.watches), self.store.where)
        self._changed(None)
        try:
            async with anyio.create_task_group() as tasks:
                while self.gave_up is None and not self._stopping:
                    at = await self._look(tasks)
                    self._wake = anyio.Event()
                    with anyio.move_on_after(max(0.0, at - time.monotonic())):
                        await self._wake.wait()
                tasks.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._clients.close()
        return self.gave_up

    def stop(self) -> None:
        """End ``run`` at its next look (a fire in progress is cancelled, its report so far handed to ``on_fire``).

        Call it from the guard's own event loop (``on_fire``, another task); from another thread, cancel the
        task that runs ``run`` instead."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    def run_sync(self, backend: str = "asyncio") -> FireRecord | None:
        """``run`` on its own event loop (``anyio.run``)."""
        return anyio.run(self.run, backend=backend)

    # --- a fire ------------------------------------------------------------------------------

    async def _fire(self, name: str, deadline: float | None, go: anyio.Event) -> None:
        """Claim ``name`` (it may have been beaten meanwhile, or claimed by another guard), then sweep its scope
        once ``go`` is set (heartbeats expiring with it found and claimed too: ``guard_core.gathering``)."""
        watch = self.watches[name]
        try:
            scope_text = await self._call(lambda: self.store.claim(name))
        except StoreUnavailable:
            scope_text = None
        if scope_text is None:
            watch.state = WatchState.UNKNOWN
            return
        detected = time.monotonic() - deadline if deadline is not None else None
        record = FireRecord(name, time.time(), scope_text, BatchResult("uuids"), detected_after=detected)
        self._changed(f"heartbeat {name}: expired, firing (scope {scope_text})", logging.WARNING)
        try:
            await self._sweep_until_done(record, go)
        finally:
            watch.state = WatchState.DISARMED
            self._finished(record)

    def _finished(self, record: FireRecord) -> None:
        self.last_fires[record.name] = record
        self._fire_texts[record.name] = json.dumps({**record.summary(), "report": record.report.to_dict()})
        how = "complete" if record.complete else "interrupted" if record.interrupted else "gave up"
        level = logging.INFO if record.complete else logging.WARNING
        self._changed(f"heartbeat {record.name}: fired, {how}: {json.dumps(record.summary())}", level)
        if self._settings.on_fire is not None:
            try:
                self._settings.on_fire(record)
            except Exception:
                log.warning("on_fire raised; ignored", exc_info=True)
        if not record.complete and not record.interrupted:
            self.gave_up = record
            if self._wake is not None:
                self._wake.set()

    async def _sweep_until_done(self, record: FireRecord, go: anyio.Event) -> None:
        """Attempts until the scope is empty or ``give_up`` passes (``guard_core.Firing``); the report in ``record``."""
        settings, started = self._settings, time.monotonic()
        firing = Firing(record.name, started, settings.give_up)
        partial: list[BatchResult] = []
        try:
            scope = GuardScope.from_text(record.scope)
            client = self._clients.of(scope.pocket)
        except UpbitClientError as error:  # a scope or a pocket that can never be swept
            record.error = f"{type(error).__name__}: {error}"
            return
        try:
            await go.wait()
            while True:
                outcome, blocked = await self._attempt(client, scope, firing, partial)
                at = firing.attempted(outcome, time.monotonic(), blocked)
                if at is None:
                    break
                log.warning("heartbeat %s: attempt %d left work (%s); again in %.1f s",
                            record.name, firing.attempts, firing.last_error, at - time.monotonic())  # fmt: skip
                await anyio.sleep(max(0.0, at - time.monotonic()))
        except anyio.get_cancelled_exc_class():
            if partial:
                firing.attempted(partial[-1], time.monotonic())
            record.interrupted = True
            raise
        finally:
            record.report, record.attempts = firing.report(time.monotonic() - started), firing.attempts
            record.complete, record.error = firing.complete and not record.interrupted, firing.last_error

    async def _attempt(
        self, client: Client, scope: GuardScope, firing: Firing, partial: list[BatchResult]
    ) -> tuple[BatchResult | Exception, float | None]:
        """One sweep of the scope within the time left; (its report or error, a block's end in monotonic time)."""
        from .sweep import cancel_open_orders_async  # loaded with the first fire

        budget = max(0.001, min(self._settings.attempt_timeout, firing.time_left(time.monotonic())))
        partial.clear()
        try:
            result = await cancel_open_orders_async(
                client, sweep=scope.sweep(), options=BatchOptions(timeout_total=budget), report_to=partial.append
            )
        except KeyBlocked as blocked:
            return blocked, time.monotonic() + max(0.0, blocked.until - time.time())
        except UpbitClientError as error:  # the listing failed: nothing of this attempt was cancelled
            return error, None
        except Exception as error:  # anything else: tried again all the same; a guard must not die of it
            log.warning("heartbeat %s: attempt failed unexpectedly", firing.name, exc_info=True)
            return error, None
        return result, None

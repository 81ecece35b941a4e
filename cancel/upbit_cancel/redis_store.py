"""One rate-limit budget for every process and machine of a pocket, kept on Redis (the ``[redis]`` extra).

``SharedBudget`` is the Redis ``store.BudgetStore``: the rules are ``store``'s; each step that counts is one
Lua script (``lua/*.lua``, shipped in the package), so checking and charging a window are atomic and take
one round trip. Window keys live a few windows (long enough for every send that may share one); Redis's
own clock expires them and the blocks. The phase and the trickle are kept per host (the phase includes
the host's clock error and latency). Every call may wait on the network: ``blocking`` is True.
"""

from __future__ import annotations

import contextlib
import functools
from importlib import resources
from typing import TYPE_CHECKING, Any

from .store import BudgetKeys, Send, StoreUnavailable, TakeResult, redacted_url

if TYPE_CHECKING:
    import redis as redis_module

__all__ = ["SharedBudget", "lua_script"]

_WINDOW_TTL_MS = 5000
_PHASE_TTL_MS = 3_600_000
_TIMEOUT = 0.5


@functools.cache
def lua_script(name: str) -> str:
    """The source of the Lua script ``lua/<name>.lua`` of this package (take, fill, settle, block)."""
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


class SharedBudget:
    """The Redis side of one (pocket, group) budget. Every method raises ``StoreUnavailable`` on failure.

    ``pocket``: who shares the budget (``ratelimit.pocket_id``), hashed into the keys.
    """

    blocking = True

    def __init__(
        self, url: str, pocket: str, group: str, per_second: int, *, window_seconds: int = 1, client: Any = None
    ) -> None:
        self.url = url
        self.per_second = per_second
        self._ttl_ms = _WINDOW_TTL_MS * window_seconds
        self.keys = BudgetKeys.of(pocket, group)
        try:
            import redis
        except ImportError as error:  # depends on the installed extras
            raise StoreUnavailable(
                "the shared store needs redis-py: pip install 'upbit-order-cancel[redis]'"
            ) from error
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._redis: redis_module.Redis = client or redis.Redis.from_url(
            url, socket_timeout=_TIMEOUT, socket_connect_timeout=_TIMEOUT
        )
        try:
            self._take = self._redis.register_script(lua_script("take"))
            self._fill = self._redis.register_script(lua_script("fill"))
            self._block = self._redis.register_script(lua_script("block"))
            self._settle = self._redis.register_script(lua_script("settle"))
        except self._errors as error:  # pragma: no cover - register_script does not talk to the server
            raise self._unavailable(error) from error

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"rate-limit store {redacted_url(self.url)}: {type(error).__name__}: {error}")

    def take(self, send: Send) -> TakeResult:
        """Charge ``send`` if every window it may land in has room (``lua/take.lua``)."""
        charge, check = self.keys.for_send(send.windows, send.local_seconds)
        keys = [self.keys.block, self.keys.phase, *charge, *check, *(f"{key}:s" for key in charge), self.keys.trickle]
        reserve, interval, now = send.trickle or (0, 0.0, 0.0)
        ask_phase = "1" if send.windows is None and send.ask_phase else "0"
        args: list[str | int] = [self.per_second, len(charge), ask_phase, self._ttl_ms, len(check)]
        args += [reserve, repr(interval), repr(now)]
        try:
            reply = self._take(keys=keys, args=args)
        except self._errors as error:
            raise self._unavailable(error) from error
        code = int(reply[0])
        if code == -2:
            return TakeResult(False, blocked_until=int(reply[1]) / 1000)
        held = int(reply[1]) if code == 0 else 0
        return TakeResult(code == 1, phase_in_store=code == -1, held=held == 1, trickling=held == 2)

    def fill(self, windows: list[int] | None, local_seconds: list[int]) -> None:
        charge, _ = self.keys.for_send(windows, local_seconds)
        try:
            self._fill(keys=[*charge, *(f"{key}:s" for key in charge)], args=[self.per_second, self._ttl_ms])
        except self._errors as error:
            raise self._unavailable(error) from error

    def settle(
        self, exchange_windows: bool, give_back: list[int], take: list[int], settled: list[int] | tuple[()] = ()
    ) -> None:
        """Give back one charge of each of ``give_back``, charge ``take``: exchange windows, else local seconds.

        ``settled``: the charges now final (an answer confirmed them): a window full of final charges is
        really full, one full of charges in flight may open again when their answers come.
        """
        if not give_back and not take and not settled:
            return
        counts = self.keys.counts
        keys = [*counts(exchange_windows, give_back + take), *(f"{key}:s" for key in counts(exchange_windows, settled))]
        try:
            self._settle(keys=keys, args=[len(give_back), self._ttl_ms, len(take)])
        except self._errors as error:
            raise self._unavailable(error) from error

    def block(self, until: float, seconds: float) -> float:
        """Block the pocket (every group and process) until ``until`` (epoch s, ``seconds`` away); returns the end."""
        try:
            reply = self._block(keys=[self.keys.block], args=[int(until * 1000), max(1, int(seconds * 1000))])
        except self._errors as error:
            raise self._unavailable(error) from error
        return int(reply) / 1000

    def save_phase(self, lo: float, hi: float) -> None:
        try:
            self._redis.set(self.keys.phase, f"{lo!r} {hi!r}", px=_PHASE_TTL_MS)
        except self._errors as error:
            raise self._unavailable(error) from error

    def load_phase(self) -> tuple[float, float] | None:
        try:
            value = self._redis.get(self.keys.phase)
        except self._errors as error:
            raise self._unavailable(error) from error
        if value is None:
            return None
        try:
            text = value.decode() if isinstance(value, bytes) else str(value)
            lo, hi = (float(part) for part in text.split())
        except ValueError:
            return None
        return lo, hi

    def close(self) -> None:
        with contextlib.suppress(*self._errors):
            self._redis.close()

"""One rate-limit budget for every process and machine of a pocket, kept on Redis (the ``[redis]`` extra).

Rules, and why:

- Keys are ``upbit-rl:<sha256(pocket)[:16]>:...``: the pocket is the exchange's unit of budget (every key
  of one pocket shares it); a pocket the user did not name is its access key's own, so neither the pocket
  name nor the access key appears in Redis (and the secret never reaches this module). Budgets are per
  rate-limit group; a 418 block is per pocket. Windows last ``window_seconds`` (the spec's, usually 1);
  "second" below means such a window.
- Once the exchange's phase is known, a send is charged to the exchange's own window, ``floor(t + theta)``
  with ``theta`` anchored by the ``Date`` header (so every machine names the same window), and to the
  next one too when the send falls in the uncertain band around a boundary. Counting and checking happen
  in one Lua script: atomic per window, one round trip.
- Before the phase is known, a send at local time ``t`` is charged to the local seconds ``floor(t)`` and
  ``floor(t) + 1``: any exchange second overlaps at most two local seconds, and every send that may fall
  in it is counted in the later of them, so no exchange second gets more than the budget whatever the
  phase. It halves the pace, which is why the learned phase is shared: processes on one host read it
  from the store (the phase includes the host's clock error and latency, so it is stored per host).
  Known-phase sends also check those local-second counts, so the switch-over cannot overfill a window.
- A request counts in the store until its answer says where it landed, as it does in the process:
  its send is charged to one window (or local second) beyond those it should reach, because a request
  held up on the way (a busy event loop, a stalled machine, a queue at the exchange) arrives later than
  it was sent. The answer settles the charge (``settle``): the window its ``Date`` names keeps it, the
  others give it back; without a ``Date``, windows that opened after the answer give it back (it
  arrived before its answer). Without this, four processes starting together drew 8-22 x 429 per run
  on a loaded 2-core machine; with it, 0.
- Each count has a "settled" twin (``...:s``): the charges an answer confirmed. A window full only of
  unconfirmed charges (requests still in flight, which their answers may give back) is reported as
  such (``TakeResult.held``), so the caller asks again shortly instead of waiting out the window.
- If Redis cannot be reached, the caller falls back to its in-process limiter (``SharedBudget`` raises
  ``StoreUnavailable``; ``RateLimiter`` logs one warning and stops using the store).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

if TYPE_CHECKING:
    import redis as redis_module

__all__ = [
    "STORE_ENV",
    "SharedBudget",
    "StoreUnavailable",
    "TakeResult",
    "check_store_setting",
    "check_store_url",
    "redacted_url",
]

STORE_ENV = "UPBIT_RATE_LIMIT_STORE"
"""The environment variable naming the shared store (``redis://HOST:PORT/DB``) for the CLI and the library."""

# Window keys live a few seconds: long enough for every send that may share the window, no longer.
_WINDOW_TTL_MS = 5000
_PHASE_TTL_MS = 3_600_000
_TIMEOUT = 0.5

# KEYS[1] block key, KEYS[2] phase key, KEYS[3..2+n] keys to charge, then m keys only to check, then the n
# "settled" keys of the keys to charge (how much of each count its answers confirmed), last the trickle key.
# ARGV[1] budget, ARGV[2] n, ARGV[3] '1' if the caller does not know the phase, ARGV[4] TTL ms, ARGV[5] m,
# ARGV[6] the reserve (0: none), ARGV[7] the trickle interval (s), ARGV[8] the caller's clock: the last
# ``reserve`` of a count go one per interval (the trickle key holds the host's clock at the last one), for
# every process of the host together, so that some answer shows where the exchange's boundary falls.
# Returns {1} taken, {0, held} full (held 1: only charges of requests still in flight fill it, and their
# answers may give them back soon; 2: the reserve is trickling), {-1} the phase is in the store (read it and
# ask again), {-2, until} blocked.
_TAKE = """
local block = redis.call('GET', KEYS[1])
if block then return {-2, block} end
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return {-1} end
local budget = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local m = tonumber(ARGV[5])
local extra = 0
for i = 3 + n, 2 + n + m do extra = extra + tonumber(redis.call('GET', KEYS[i]) or '0') end
local full, held = false, 1
for i = 3, 2 + n do
  if tonumber(redis.call('GET', KEYS[i]) or '0') + extra >= budget then
    full = true
    if tonumber(redis.call('GET', KEYS[i + n + m]) or '0') + extra >= budget then held = 0 end
  end
end
if full then return {0, held} end
local reserve = tonumber(ARGV[6])
if reserve > 0 then
  local top = 0
  for i = 3, 2 + n do top = math.max(top, tonumber(redis.call('GET', KEYS[i]) or '0')) end
  if top + extra >= budget - reserve then
    local last = tonumber(redis.call('GET', KEYS[#KEYS]) or '')
    if last and tonumber(ARGV[8]) - last < tonumber(ARGV[7]) and tonumber(ARGV[8]) >= last then return {0, 2} end
    redis.call('SET', KEYS[#KEYS], ARGV[8], 'PX', ARGV[4])
  end
end
for i = 3, 2 + n do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
return {1}
"""

# A 429 answered a send: its windows are full, whoever filled them (KEYS[1..n], their settled keys after).
# Filled to twice the budget, so that charges given back later (``_SETTLE``) cannot reopen them.
_FILL = """
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') < 2 * tonumber(ARGV[1]) then
    redis.call('SET', KEYS[i], 2 * tonumber(ARGV[1]), 'PX', ARGV[2])
  end
end
return 1
"""

# An answer settled a send's charge: KEYS[1..ARGV[1]] give one back, the next ARGV[3] take one (the window
# its Date named, if it was not charged), the rest are the settled keys of the charges kept (one more each).
_SETTLE = """
local n = tonumber(ARGV[1])
local k = tonumber(ARGV[3])
for i = 1, n do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
for i = n + 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 1
"""

# A 418: the key is blocked until ARGV[1] (epoch ms), for ARGV[2] ms more (Redis's own clock keeps the
# expiry, so a writer's clock error moves only the end it reports); a shorter block never shortens a longer one.
_BLOCK = """
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
"""


class StoreUnavailable(Exception):
    """The shared store could not be used (unreachable, timed out, refused the script)."""


def redacted_url(url: str) -> str:
    """``url`` without a password (``redis://:secret@host`` → ``redis://***@host``), for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


_STORE_FORMS = "redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB] or unix:///PATH"


def check_store_url(url: object, source: str) -> str:
    """``url`` if redis-py can use it as the shared store; else ``ConfigurationError`` naming ``source`` and the
    (password-redacted) value. Checked before anything is sent: a store that can never work is bad usage,
    not a store that is down (which only costs the sharing, see ``StoreUnavailable``)."""
    if not isinstance(url, str):
        raise ConfigurationError(f"{source} must be a string ({_STORE_FORMS}); given: {type(url).__name__}")
    problem = None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        problem = f"is not a valid URL ({error})"
    else:
        scheme = parts.scheme.lower()
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
            problem = "must not contain whitespace or control characters"
        elif scheme == "unix":
            if not parts.path:
                problem = "needs a socket path"
        elif scheme not in ("redis", "rediss"):
            problem = "must use the redis, rediss or unix scheme"
        elif not parts.hostname:
            problem = "has no host"
        elif port == 0:
            problem = "has an invalid port"
        elif parts.path.strip("/") and not parts.path.strip("/").isdigit():
            problem = "has a database that is not a number"
    if problem is not None:
        raise ConfigurationError(f"{source} {problem}: it must look like {_STORE_FORMS}; given: {redacted_url(url)!r}")
    return url


def check_store_setting(rate_limit_store: str | None) -> None:
    """Check the store a batch is told to use: ``rate_limit_store``, else ``$UPBIT_RATE_LIMIT_STORE``
    (``ConfigurationError`` naming the argument or the variable)."""
    if rate_limit_store is not None:
        if rate_limit_store:
            check_store_url(rate_limit_store, "rate_limit_store")
    elif os.environ.get(STORE_ENV):
        check_store_url(os.environ[STORE_ENV], STORE_ENV)


@dataclass(frozen=True, slots=True)
class TakeResult:
    """``taken``; else ``blocked_until`` (epoch seconds) if the key is blocked, or ``phase_in_store``."""

    taken: bool
    blocked_until: float | None = None
    phase_in_store: bool = False
    held: bool = False
    """Not taken only because of charges of requests still in flight: ask again soon, not a window later."""
    trickling: bool = False
    """Not taken because the reserve is trickling out (phase unknown): ask again after the interval."""


class SharedBudget:
    """The Redis side of one (pocket, group) budget. Every method raises ``StoreUnavailable`` on failure.

    ``pocket``: who shares the budget (``ratelimit.pocket_id``), hashed into the keys.
    """

    def __init__(
        self, url: str, pocket: str, group: str, per_second: int, *, window_seconds: int = 1, client: Any = None
    ) -> None:
        self.url = url
        self.per_second = per_second
        self._ttl_ms = _WINDOW_TTL_MS * window_seconds
        digest = hashlib.sha256(pocket.encode("utf-8")).hexdigest()[:16]
        self._key_prefix = f"upbit-rl:{digest}"
        self._prefix = f"{self._key_prefix}:{group or '-'}"
        self._phase_key = f"{self._prefix}:phase:{socket.gethostname()}"
        self._block_key = f"{self._key_prefix}:block"
        self._trickle_key = f"{self._prefix}:trickle:{socket.gethostname()}"
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
            self._take = self._redis.register_script(_TAKE)
            self._fill = self._redis.register_script(_FILL)
            self._block = self._redis.register_script(_BLOCK)
            self._settle = self._redis.register_script(_SETTLE)
        except self._errors as error:  # pragma: no cover - register_script does not talk to the server
            raise self._unavailable(error) from error

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"rate-limit store {redacted_url(self.url)}: {type(error).__name__}: {error}")

    def _window_key(self, window: int) -> str:
        return f"{self._prefix}:w:{window}"

    def _local_key(self, second: int) -> str:
        return f"{self._prefix}:l:{socket.gethostname()}:{second}"

    def keys_for(self, windows: list[int] | None, local_seconds: list[int]) -> tuple[list[str], list[str]]:
        """(keys to charge, keys only to check) for a send.

        Phase unknown (``windows`` None): charge ``local_seconds`` (the send's local second and the
        next). Phase known: charge the exchange ``windows``, check the counts of ``local_seconds`` (the
        local seconds whose counts hold every phase-unknown send that may share those windows).
        """
        local = [self._local_key(second) for second in local_seconds]
        if windows is None:
            return local, []
        return [self._window_key(window) for window in windows], local

    def take(
        self,
        windows: list[int] | None,
        local_seconds: list[int],
        *,
        ask_phase: bool = True,
        trickle: tuple[int, float, float] | None = None,
    ) -> TakeResult:
        """Charge a send if every window has room; ``ask_phase``: with the phase unknown, ask for the stored one.

        ``trickle`` (reserve, interval seconds, the caller's clock now): the last ``reserve`` of a count go
        one per interval.
        """
        charge, check = self.keys_for(windows, local_seconds)
        keys = [self._block_key, self._phase_key, *charge, *check, *(f"{key}:s" for key in charge), self._trickle_key]
        reserve, interval, now = trickle or (0, 0.0, 0.0)
        args = [self.per_second, len(charge), "1" if windows is None and ask_phase else "0", self._ttl_ms, len(check)]
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
        charge, _ = self.keys_for(windows, local_seconds)
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
        key = self._window_key if exchange_windows else self._local_key
        keys = [key(n) for n in give_back] + [key(n) for n in take] + [f"{key(n)}:s" for n in settled]
        try:
            self._settle(keys=keys, args=[len(give_back), self._ttl_ms, len(take)])
        except self._errors as error:
            raise self._unavailable(error) from error

    def block(self, until: float, seconds: float) -> float:
        """Block the pocket (every group and process) until ``until`` (epoch s, ``seconds`` away); returns the end."""
        try:
            reply = self._block(keys=[self._block_key], args=[int(until * 1000), max(1, int(seconds * 1000))])
        except self._errors as error:
            raise self._unavailable(error) from error
        return int(reply) / 1000

    def save_phase(self, lo: float, hi: float) -> None:
        try:
            self._redis.set(self._phase_key, f"{lo!r} {hi!r}", px=_PHASE_TTL_MS)
        except self._errors as error:
            raise self._unavailable(error) from error

    def load_phase(self) -> tuple[float, float] | None:
        try:
            value = self._redis.get(self._phase_key)
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

"""The sandbox exchange's core: an in-memory order book answering ``DELETE /v1/orders/uuids`` as Upbit does.

It verifies every request the way Upbit documents it (bearer JWT, HMAC with the secret as-is, nonce
reuse, the SHA-512 query hash over the percent-decoded wire query, query-only parameters, each
parameter's own rules as the registry states them, the per-second rate limit) and answers with
Upbit's error names, statuses and ``Remaining-Req`` header. The checks are written from the rules
alone, on purpose without ``upbit_auth.signing`` or ``UpbitAuth``: if the SDK misreads a rule, the
sandbox must not share the misreading. Faults on demand (429, 418, 500, resets, lost answers,
latency) are queued on ``SandboxExchange.faults`` (``faults.py``).

The exchange knows nothing about HTTP plumbing; ``transport.py`` (in-process ``httpx.MockTransport``)
and ``server.py`` (loopback HTTP server) feed it raw requests through ``SandboxExchange.handle``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, get_args
from urllib.parse import unquote, unquote_plus

import jwt
from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS

from upbit_client.api.order import cancel_orders_by_ids as _endpoint
from upbit_client.api.order import list_orders_by_ids as _lookup_endpoint
from upbit_client.errors import InvalidRequest
from upbit_client.models import CancelOrdersOrder, OpenOrderState
from upbit_client.models import Order as OrderModel
from upbit_client.models import OrderSide as _SpecOrderSide
from upbit_client.registry import OPERATIONS
from upbit_client.rules import Operation, check_wire

from . import book
from .clock import ExchangeClock, http_date
from .faults import Fault, FaultKind, FaultPlan

if TYPE_CHECKING:
    from .transport import SandboxTransport


class _IssuedKeyHMAC(HMACAlgorithm):
    """PyJWT's HMAC without its key-length warning: Upbit's secrets (40 characters) are shorter than RFC 7518
    recommends, and a warning per request (an error under ``-W error``) is not the exchange's to give."""

    def check_key_length(self, key: bytes) -> str | None:
        return None


# The signature check, on its own PyJWS (PyJWT's global objects and warning filters stay untouched).
_VERIFIER = PyJWS(algorithms=[])
_VERIFIER.register_algorithm("HS256", _IssuedKeyHMAC(HMACAlgorithm.SHA256))
_VERIFIER.register_algorithm("HS512", _IssuedKeyHMAC(HMACAlgorithm.SHA512))

OrderState: TypeAlias = Literal[OpenOrderState, "done", "cancel"]
"""Upbit's order states: ``wait`` / ``watch`` open, ``done`` filled, ``cancel`` cancelled."""
OrderSide: TypeAlias = _SpecOrderSide
"""``bid`` buys, ``ask`` sells."""
OPEN_STATES: Final = frozenset(get_args(OpenOrderState))
"""The states an order can still be cancelled in, the spec's ``OpenOrderState`` (``watch``: reserved; the uuid
cancel takes it, Upbit's filter-based batch cancel does not). An exchange made with other ``operations`` takes
them from its own open-order listing's ``states[]`` enum (``_open_states``)."""
_KST: Final = datetime.timezone(datetime.timedelta(hours=9))
UnknownOrderFields = Literal["null", "absent"]
"""How the cancel answer lists an id naming no order: ``null`` sends ``"market": null`` (and ``"uuid": null`` for an
unknown identifier), ``absent`` leaves those fields out. Upbit documents every field of the answer as optional."""

# The endpoint's facts come from openapi.yaml through the generated module, so a spec change moves the
# sandbox with the client; the checks themselves (JWT, nonce, hash) stay written independently here.
ENDPOINT_METHOD: Final = _endpoint.METHOD
ENDPOINT_PATH: Final = _endpoint.PATH
if _endpoint.RATE_LIMIT is None:
    raise RuntimeError("openapi.yaml names no x-rate-limit for DELETE /v1/orders/uuids; the sandbox needs one")
RATE_LIMIT_GROUP: Final = _endpoint.RATE_LIMIT.group
DEFAULT_RATE_LIMIT_PER_SECOND: Final = _endpoint.RATE_LIMIT.per_second
LOOKUP_METHOD: Final = _lookup_endpoint.METHOD
LOOKUP_PATH: Final = _lookup_endpoint.PATH
ALLOWED_JWT_ALGORITHMS: Final = ("HS256", "HS512")
# Upbit reports a deprecated per-minute budget too; clients must ignore it, so a constant is honest enough.
_DEPRECATED_MINUTE_BUDGET: Final = 1800

DEMO_ACCESS_KEY: Final = "sandbox-access-key"
"""The access key the sandbox accepts by default. Fake: it only ever opens the sandbox."""
DEMO_SECRET_KEY: Final = "sandbox-secret-key-not-a-real-upbit-secret-only-for-the-local-sandbox-0000"
"""The secret of ``DEMO_ACCESS_KEY``. Fake and public by design; 64+ bytes so HS512 signs without warnings."""
DEMO_MARKETS: Final = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "BTC-ETH")
UNKNOWN_ORDER_MARKET: Final = None
"""``market`` reported for an id that names no order: null (the exchange cannot know the market of an order it
has never seen; the spec makes every field of the answer optional and ``market`` nullable)."""

_DEMO_CREATED_AT: Final = 1733878800.0
"""2024-12-11T10:00:00+09:00: the first demo order's creation time, one second more for each next one."""
_DEMO_NAMESPACE: Final = uuid.UUID("5b0e6a3c-0d1e-4c55-9f47-2f0a5d5a3b11")


def pocket_access_key(pocket: str) -> str:
    """The access key ``add_pocket`` issues for ``pocket`` when given none (fake: it only opens the sandbox)."""
    return f"sandbox-access-key-{pocket}"


def pocket_secret_key(pocket: str) -> str:
    """The secret ``add_pocket`` issues for ``pocket`` when given none: fake, public, derived from the name."""
    return f"sandbox-secret-key-{hashlib.sha256(pocket.encode()).hexdigest()}"


def demo_uuid(label: str) -> str:
    """The deterministic uuid the demo seed gives the order labelled ``label`` (e.g. ``demo-0001``)."""
    return str(uuid.uuid5(_DEMO_NAMESPACE, label))


@dataclass(frozen=True, slots=True)
class Order:
    """One order of the book, as a snapshot (the book replaces it when its state changes)."""

    uuid: str
    market: str
    identifier: str | None
    state: OrderState
    side: OrderSide = "bid"
    created_at: float = 0.0
    """Creation time, epoch seconds of the exchange's clock."""
    pocket: str | None = None
    """The pocket the order was placed from: only that pocket's keys list, look up or cancel it (the others are
    answered as for an order that does not exist). None: the shared book, which every key sees (one pocket)."""

    def to_result(self) -> dict[str, Any]:
        """The order as Upbit lists it under ``success`` or ``failed``, through the spec's ``CancelOrdersOrder``."""
        return CancelOrdersOrder(uuid=self.uuid, market=self.market, identifier=self.identifier).to_dict()

    def to_lookup(self) -> dict[str, Any]:
        """The order as ``GET /v1/orders/uuids`` lists it (the fields the SDK reads, plus fixed demo values).

        Built with the spec's ``Order`` model, so each field goes out under the name ``openapi.yaml`` gives it.
        """
        return OrderModel(
            uuid=self.uuid,
            side=self.side,
            ord_type="limit",
            price="1000",
            state=self.state,
            market=self.market,
            created_at=datetime.datetime.fromtimestamp(self.created_at, _KST).isoformat(timespec="milliseconds"),
            volume="1.0",
            remaining_volume="0.0" if self.state == "done" else "1.0",
            reserved_fee="0.5",
            remaining_fee="0.5",
            paid_fee="0.0",
            locked="1000.5",
            executed_volume="1.0" if self.state == "done" else "0.0",
            prevented_volume="0",
            prevented_locked="0",
            trades_count=1 if self.state == "done" else 0,
            identifier=self.identifier,
        ).to_dict()


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the exchange answered: enough for a test to prove what was (or was not) sent."""

    method: str
    target: str
    """The raw path and query string exactly as received (still percent-encoded)."""
    status: int | None
    """The status the client received; None when it received no answer (the connection closed)."""
    access_key: str | None
    """The access key the request authenticated with, or None when it did not get that far."""
    error_name: str | None
    fault: FaultKind | None = None
    """The fault that hit this request (``upbit_sandbox.faults``; ``drop_answer_every`` is ``lost_answer``)."""


@dataclass(frozen=True, slots=True)
class SandboxResponse:
    """An answer of the exchange: status, JSON body and headers (``Remaining-Req`` and content type)."""

    status: int
    body: Any
    """The JSON body: an object for the modelled operation and errors, the spec's example for the others."""
    headers: dict[str, str] = field(default_factory=dict)
    drop_answer: bool = False
    """The transports must drop the answer (close without a response); the request may have been carried out."""
    delay: float = 0.0
    """Seconds the transports hold the answer back (the ``latency`` fault)."""
    timed_out: bool = False
    """The answer would reach the client after it stopped waiting (``handle``'s ``answer_within``): the
    in-process transport waits ``delay`` and raises ``httpx.ReadTimeout`` (``drop_answer`` is true too)."""

    def content(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @property
    def error_name(self) -> str | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error["name"]) if isinstance(error, dict) else None


class _Rejected(Exception):
    """An Upbit error answer, raised from deep inside the checks and turned into a response once."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(f"{status} {name}: {message}")
        self.status = status
        self.name = name
        self.message = message


@dataclass(slots=True)
class _Window:
    second: int
    used: int


def _open_states(operations: Mapping[str, Operation]) -> frozenset[str]:
    """The states the open-order listing takes (its ``states[]`` items' enum), else ``OPEN_STATES``."""
    listing = operations.get("list_open_orders")
    rule = next((p for p in listing.parameters if p.python_name == "states"), None) if listing else None
    enum = rule.item.enum if rule is not None and rule.item is not None else None
    return frozenset(str(state) for state in enum) if enum else OPEN_STATES


class SandboxExchange:
    """An in-memory Upbit exchange that serves every operation of the spec and checks it like Upbit.

    The operations come from the generated registry (``operations``, default: ``upbit_client.registry``),
    so an operation added to ``openapi.yaml`` is served the moment it is generated: its requests are
    authenticated and checked against the parameter rules of the spec (400 ``validation_error``), and
    answered with the spec's success example. ``DELETE /v1/orders/uuids`` is modelled with state (the
    order book below). Each rate-limit group has its own per-second window.

    ``credentials`` maps access keys to secret keys (default: the demo key pair). ``rate_limit_per_second``
    is the budget per pocket per whole-second window (``int(clock())``); None turns the limit off. As on
    Upbit, every key of one pocket shares its budget (``add_credentials(..., pocket=...)``); a key added
    without a pocket is a pocket of its own.
    ``latency`` (seconds) is added to every answer by the transports, not by ``handle``: the request is
    handled that long after it was sent, as one-way network latency would have it.
    ``clock_offset`` (seconds) sets the exchange's clock ahead of ``clock`` (negative: behind); the rate
    windows and the ``Date`` header of every answer follow that clock (``self.clock``, an ``ExchangeClock``).
    ``drop_answer_every`` N > 0 carries out every Nth cancel and then drops its answer (the client's
    connection closes; logged with no status, fault ``lost_answer``). ``self.faults`` queues one-off faults
    for the next requests: 429, 418, 500, reset, lost answer, latency (``faults.py``, ``docs/testing.md``).

    Checks run in this order, the first failure answering: route (404 ``not_found``), bearer token
    (``no_authorization_token``), JWT header alg and decoding (``jwt_verification``), access key
    (``invalid_access_key``), signature (``jwt_verification``), nonce (``nonce_used``; every authenticated
    request spends its nonce, a 429 included), rate budget (429 ``too_many_requests``; only authenticated
    requests spend it, so others report a full budget), query hash (``invalid_query_payload``), body (400
    ``QUERY_PARAMETER_NOT_SUPPORTED``), parameters (400 ``validation_error``). The query hash is taken
    over the raw query plain percent-decoded (a ``+`` stays a ``+``), while parameter values are
    form-decoded (a ``+`` is a space, ``%2B`` a plus), as Upbit's own ``urlencode`` helper sends them.

    Every method is thread-safe: one lock guards the book, the nonces, the rate windows and the log.
    """

    def __init__(
        self,
        credentials: Mapping[str, str] | None = None,
        *,
        rate_limit_per_second: int | None = DEFAULT_RATE_LIMIT_PER_SECOND,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
        operations: Mapping[str, Operation] | None = None,
        unknown_order_fields: UnknownOrderFields = "null",
        drop_answer_every: int = 0,
        clock_offset: float = 0.0,
    ) -> None:
        if rate_limit_per_second is not None and rate_limit_per_second < 1:
            raise ValueError(f"rate_limit_per_second must be >= 1 or None (off); given: {rate_limit_per_second}")
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds; given: {latency}")
        self.rate_limit_per_second = rate_limit_per_second
        self.latency = latency
        self.clock: ExchangeClock = ExchangeClock(clock, clock_offset)
        if unknown_order_fields not in ("null", "absent"):
            raise ValueError(f"unknown_order_fields must be 'null' or 'absent'; given: {unknown_order_fields!r}")
        if drop_answer_every < 0:
            raise ValueError(f"drop_answer_every must be >= 0 (0: never); given: {drop_answer_every}")
        self.unknown_order_fields = unknown_order_fields
        self.drop_answer_every = drop_answer_every
        """Fault: every Nth cancel that was carried out has its answer dropped (0: never)."""
        self.faults: FaultPlan = FaultPlan(
            _operation_name(operation) for operation in (operations or OPERATIONS).values()
        )
        """Faults queued for the next requests, e.g. ``exchange.faults.blocked(seconds=60)`` (``faults.py``)."""
        self._cancels_answered = 0
        self._credentials: dict[str, str] = dict(
            {DEMO_ACCESS_KEY: DEMO_SECRET_KEY} if credentials is None else credentials
        )
        self._lock = threading.Lock()
        self._orders: dict[str, Order] = {}
        self._uuid_by_identifier: dict[str, str] = {}
        self._used_nonces: dict[str, set[str]] = {}
        self._windows: dict[tuple[str, str], _Window] = {}
        self.suspended_markets: set[str] = set()
        """Markets whose orders cannot be cancelled now (a suspension): a cancel lists them under ``failed``."""
        self._pockets: dict[str, str] = {}
        self._log: list[RequestRecord] = []
        # Literal paths before templated ones, so /v1/orders/uuids is never taken for /v1/orders/{id}.
        self._routes = sorted(
            ((_route(operation.path), operation) for operation in (operations or OPERATIONS).values()),
            key=lambda route: len(route[0][1]),
        )
        # Groups other than the endpoint's keep the spec's own budget and window (order-cancel-all: 1 per 2 s).
        self._group_limits = book.group_limits(operations or OPERATIONS, RATE_LIMIT_GROUP)
        self._open_states = _open_states(operations or OPERATIONS)

    # --- the order book -------------------------------------------------------------------------------

    def add_credentials(self, access_key: str, secret_key: str, *, pocket: str | None = None) -> None:
        """Accept a key pair; ``pocket``: the pocket it was issued for (its keys share one budget), else its own."""
        with self._lock:
            self._credentials[access_key] = secret_key
            if pocket is None:
                self._pockets.pop(access_key, None)
            else:
                self._pockets[access_key] = pocket

    def add_pocket(self, pocket: str, access_key: str | None = None, secret_key: str | None = None) -> tuple[str, str]:
        """Issue a key pair for ``pocket`` (default: ``pocket_access_key(pocket)`` / ``pocket_secret_key(pocket)``)
        and return it: its keys share the pocket's budget and see only the pocket's orders (``add_order(pocket=)``,
        ``seed_demo_orders(pocket=)``). Faults may be aimed at it: ``faults.blocked(pocket=...)``."""
        if not isinstance(pocket, str) or not pocket.strip():
            raise ValueError(f"pocket must be a non-empty name; given: {pocket!r}")
        access = access_key or pocket_access_key(pocket)
        secret = secret_key or pocket_secret_key(pocket)
        self.add_credentials(access, secret, pocket=pocket)
        return access, secret

    def owner_of(self, access_key: str | None) -> str | None:
        """The pocket ``access_key`` was issued for (``add_credentials(pocket=...)``), or None."""
        return self._pockets.get(access_key) if access_key is not None else None

    def _sees(self, access_key: str | None) -> Callable[[Order], bool]:
        """Whether a request signed with ``access_key`` may see an order: a shared one, or one of its own pocket."""
        owner = self.owner_of(access_key)
        return lambda order: order.pocket is None or order.pocket == owner

    def pocket_of(self, access_key: str) -> str:
        """The pocket whose budget ``access_key`` spends (the key itself when it was added without one)."""
        return "pocket:" + self._pockets[access_key] if access_key in self._pockets else "key:" + access_key

    def add_order(
        self,
        uuid_: str | None = None,
        *,
        market: str = "KRW-BTC",
        identifier: str | None = None,
        state: OrderState = "wait",
        side: OrderSide = "bid",
        created_at: float | None = None,
        pocket: str | None = None,
    ) -> Order:
        """Put an order in the book (a random uuid if none is given); uuids and identifiers must be unique.

        ``created_at`` (epoch seconds) defaults to now on the exchange's clock. ``pocket``: the pocket whose
        keys alone may see it (``Order.pocket``); None puts it in the shared book every key sees.
        """
        when = self.clock() if created_at is None else created_at
        order = Order(uuid_ or str(uuid.uuid4()), market, identifier, state, side, when, pocket)
        with self._lock:
            if order.uuid in self._orders:
                raise ValueError(f"an order with uuid {order.uuid!r} is already in the book")
            if identifier is not None and identifier in self._uuid_by_identifier:
                raise ValueError(f"an order with identifier {identifier!r} is already in the book")
            self._orders[order.uuid] = order
            if identifier is not None:
                self._uuid_by_identifier[identifier] = order.uuid
        return order

    def seed_demo_orders(
        self,
        open_orders: int = 40,
        filled: int = 3,
        cancelled: int = 3,
        *,
        pocket: str | None = None,
        label: str | None = None,
    ) -> list[Order]:
        """The documented demo book, the same on every run; returns the orders added, open ones first.

        - ``open_orders`` open orders ``demo-0001``, ``demo-0002``, …;
        - ``filled`` filled orders ``demo-filled-0001``, …;
        - ``cancelled`` cancelled orders ``demo-cancelled-0001``, ….

        The label is the order's identifier, and its uuid is ``demo_uuid(label)``; markets cycle through
        ``DEMO_MARKETS``. Seeding twice raises ``ValueError`` (the ids would repeat). With ``pocket``, the
        orders are that pocket's alone and their labels start with its name (``a-0001``, ``a-filled-0001``, …),
        or with ``label`` when given.
        """
        prefix = label or ("demo" if pocket is None else pocket)
        plan: list[tuple[str, OrderState]] = [(f"{prefix}-{n:04d}", "wait") for n in range(1, open_orders + 1)]
        plan += [(f"{prefix}-filled-{n:04d}", "done") for n in range(1, filled + 1)]
        plan += [(f"{prefix}-cancelled-{n:04d}", "cancel") for n in range(1, cancelled + 1)]
        return [
            self.add_order(
                demo_uuid(label),
                market=DEMO_MARKETS[index % len(DEMO_MARKETS)],
                identifier=label,
                state=s,
                created_at=_DEMO_CREATED_AT + index,
                pocket=pocket,
            )
            for index, (label, s) in enumerate(plan)
        ]

    def order(self, uuid_: str) -> Order:
        """The current snapshot of one order; ``KeyError`` if it is not in the book."""
        with self._lock:
            return self._orders[uuid_]

    def orders(self, state: OrderState | None = None) -> list[Order]:
        """Snapshots of the book's orders in the order they were added, optionally only those in ``state``."""
        with self._lock:
            return [order for order in self._orders.values() if state is None or order.state == state]

    # --- the request log -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the log of every request answered so far, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # --- transports -----------------------------------------------------------------------------------

    def transport(self) -> SandboxTransport:
        """An ``httpx.MockTransport`` (a ``SandboxTransport``) serving this exchange to sync and async clients."""
        from .transport import SandboxTransport

        return SandboxTransport(self)

    # --- answering ------------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        target: str | bytes,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        *,
        answer_within: float | None = None,
    ) -> SandboxResponse:
        """Answer one raw request: ``target`` is the path and query string exactly as on the wire.

        ``headers`` may be any mapping (looked up case-insensitively) or a list of pairs. Adds no latency.
        ``answer_within``: seconds the client still waits for the answer (None: for ever; below 0: it gave
        up before the request arrived). An answer it would not wait for (held back longer by the ``latency``
        fault) is ``timed_out``: the request is carried out all the same, and logged with no status and
        fault ``latency``, as the client received nothing.
        """
        if isinstance(target, bytes):
            # Wire bytes of a query are ASCII when a client percent-encodes properly; anything else is kept readable.
            target = target.decode("utf-8", "replace")
        header_pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
        authorization = next((value for name, value in header_pairs if name.lower() == "authorization"), None)
        path, _, raw_query = target.partition("?")
        with self._lock:
            access_key: str | None = None
            group = RATE_LIMIT_GROUP
            drop = False
            fault: Fault | None = None
            try:
                operation, path_values = self._route(method, path)
                group = operation.rate_limit.group if operation.rate_limit else group
                claims, access_key = self._authenticate(authorization)
                self._spend_nonce(access_key, claims)
                fault = self.faults.take(_operation_name(operation), self.owner_of(access_key))
                if fault is not None and fault.refusal is not None:
                    raise _Rejected(*fault.refusal)
                self._spend_rate_budget(access_key, group)
                self._check_query_hash(raw_query, claims)
                if body:
                    raise _Rejected(400, "QUERY_PARAMETER_NOT_SUPPORTED", "This API only accepts query parameters.")
                if operation.method == ENDPOINT_METHOD and operation.path == ENDPOINT_PATH:
                    kind, ids = _ids(_check_rules(operation, raw_query, path_values, dict(header_pairs)))
                    response = SandboxResponse(200, self._cancel(kind, ids, self._sees(access_key)))
                    drop = self._drop_this_answer()
                elif operation.method == LOOKUP_METHOD and operation.path == LOOKUP_PATH:
                    pairs = _check_rules(operation, raw_query, path_values, dict(header_pairs))
                    response = SandboxResponse(200, self._lookup(pairs, self._sees(access_key)))
                elif book.serves(operation):
                    _check_rules(operation, raw_query, path_values, dict(header_pairs))
                    sees = self._sees(access_key)
                    answer = book.answer(operation, self._orders, raw_query, self.suspended_markets, sees)
                    response = SandboxResponse(200, answer)
                else:
                    _check_rules(operation, raw_query, path_values, dict(header_pairs))
                    response = SandboxResponse(operation.success_status, operation.success_example)
            except _Rejected as rejected:
                response = SandboxResponse(
                    rejected.status, {"error": {"name": rejected.name, "message": rejected.message}}
                )
            response.headers.update(
                {
                    "Content-Type": "application/json; charset=utf-8",
                    "Remaining-Req": self._remaining_req(access_key, group),
                    "Date": http_date(self.clock()),
                }
            )
            fault_kind: FaultKind | None = None
            if fault is not None:
                response, fault_kind = replace(response, drop_answer=not fault.answered, delay=fault.delay), fault.kind
            elif drop:
                response, fault_kind = replace(response, drop_answer=True), "lost_answer"
            if _too_late(response, answer_within):
                late = max(answer_within or 0.0, 0.0)
                response = replace(response, drop_answer=True, timed_out=True, delay=late)
                fault_kind = fault_kind or "latency"
            status, error_name = (None, None) if response.drop_answer else (response.status, response.error_name)
            self._log.append(RequestRecord(method.upper(), target, status, access_key, error_name, fault_kind))
            return response

    def _authenticate(self, authorization: str | None) -> tuple[dict[str, Any], str]:
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _Rejected(401, "no_authorization_token", "Authorization: Bearer <JWT> header is required.")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as error:
            raise _Rejected(401, "jwt_verification", f"Failed to decode the JWT token: {error}") from error
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_JWT_ALGORITHMS:
            raise _Rejected(401, "jwt_verification", f"JWT alg must be HS256 or HS512; got {algorithm!r}.")
        access_key = unverified.get("access_key")
        if not isinstance(access_key, str) or access_key not in self._credentials:
            raise _Rejected(401, "invalid_access_key", "The access key is not registered.")
        try:
            # Accept only the header's own alg, so a token cannot claim one alg and be verified as another.
            payload = _VERIFIER.decode(token, self._credentials[access_key], algorithms=[algorithm])
        except jwt.InvalidTokenError as error:
            raise _Rejected(401, "jwt_verification", f"Failed to verify the JWT token: {error}") from error
        claims = json.loads(payload)  # already decoded once above, unverified: a JSON object
        if not isinstance(claims.get("nonce"), str) or not claims["nonce"]:
            raise _Rejected(401, "jwt_verification", "The JWT token has no nonce claim.")
        return claims, access_key

    def _spend_nonce(self, access_key: str, claims: Mapping[str, Any]) -> None:
        # Spent before the rate check, so a 429 burns the nonce too: Upbit wants a retry to carry a new one.
        used = self._used_nonces.setdefault(access_key, set())
        nonce = str(claims["nonce"])
        if nonce in used:
            raise _Rejected(401, "nonce_used", "This nonce has already been used.")
        used.add(nonce)

    def _route(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        for (pattern, names), operation in self._routes:
            matched = pattern.fullmatch(path)
            if matched and operation.method == method.upper():
                return operation, {name: unquote(value) for name, value in zip(names, matched.groups(), strict=True)}
        raise _Rejected(404, "not_found", f"No route for {method.upper()} {path}.")

    def _spend_rate_budget(self, access_key: str, group: str = RATE_LIMIT_GROUP) -> None:
        if self.rate_limit_per_second is None:
            return
        budget, length = self._group_limits.get(group, (self.rate_limit_per_second, 1))
        second = int(self.clock()) // length
        pocket = self.pocket_of(access_key)
        window = self._windows.get((pocket, group))
        if window is None or window.second != second:
            window = self._windows[(pocket, group)] = _Window(second, 0)
        if window.used >= budget:
            raise _Rejected(429, "too_many_requests", "Too many requests.")
        window.used += 1

    def _remaining_req(self, access_key: str | None, group: str = RATE_LIMIT_GROUP) -> str:
        # Requests that never proved an access key spend no budget and report a whole one.
        left = self.rate_limit_per_second if self.rate_limit_per_second is not None else DEFAULT_RATE_LIMIT_PER_SECOND
        budget, length = self._group_limits.get(group, (left, 1))
        left = budget
        if self.rate_limit_per_second is not None and access_key is not None:
            window = self._windows.get((self.pocket_of(access_key), group))
            if window is not None and window.second == int(self.clock()) // length:
                left = max(budget - window.used, 0)
        return f"group={group}; min={_DEPRECATED_MINUTE_BUDGET}; sec={left}"

    @staticmethod
    def _check_query_hash(raw_query: str, claims: Mapping[str, Any]) -> None:
        if not raw_query:
            return
        if claims.get("query_hash_alg") != "SHA512" or not isinstance(claims.get("query_hash"), str):
            raise _Rejected(401, "invalid_query_payload", "query_hash and query_hash_alg=SHA512 claims are required.")
        # Plain percent-decoding as Upbit does it: a "+" stays a "+", order and repeats stay as on the wire.
        expected = hashlib.sha512(unquote(raw_query).encode("utf-8")).hexdigest()
        if claims["query_hash"] != expected:
            raise _Rejected(401, "invalid_query_payload", "Failed to verify the query hash.")

    def _cancel(self, kind: str, ids: list[str], sees: Callable[[Order], bool]) -> dict[str, Any]:
        success: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        reported: set[tuple[str, str]] = set()
        for given in ids:
            order_uuid = given if kind == "uuids[]" else self._uuid_by_identifier.get(given)
            order = self._orders.get(order_uuid) if order_uuid is not None else None
            if order is None or not sees(order):
                # Another pocket's order is answered as one that does not exist, as Upbit answers it.
                # Keyed apart from real uuids so an unknown id can never shadow an order of the book.
                if ("unknown", given) in reported:
                    continue
                reported.add(("unknown", given))
                failed.append(self._unknown_order(kind, given))
                continue
            if ("order", order.uuid) in reported:
                continue
            reported.add(("order", order.uuid))
            if order.state in self._open_states and order.market not in self.suspended_markets:
                self._orders[order.uuid] = replace(order, state="cancel")
                success.append(order.to_result())
            else:
                failed.append(order.to_result())
        return book.cancel_answer(success, failed)

    # --- order lookup (GET /v1/orders/uuids) and the lost-answer fault: kept apart from the cancel path above ---

    def _unknown_order(self, kind: str, given: str) -> dict[str, Any]:
        """How the cancel answer lists an id naming no order: the id it was named by, the rest null or absent."""
        if self.unknown_order_fields == "absent":
            entry = CancelOrdersOrder(uuid=given) if kind == "uuids[]" else CancelOrdersOrder(identifier=given)
        elif kind == "uuids[]":
            entry = CancelOrdersOrder(uuid=given, market=UNKNOWN_ORDER_MARKET, identifier=None)
        else:
            entry = CancelOrdersOrder(uuid=None, market=UNKNOWN_ORDER_MARKET, identifier=given)
        return entry.to_dict()

    def _drop_this_answer(self) -> bool:
        """True for every ``drop_answer_every``-th cancel carried out (the lost-answer fault)."""
        if not self.drop_answer_every:
            return False
        self._cancels_answered += 1
        return self._cancels_answered % self.drop_answer_every == 0

    def _lookup(self, pairs: list[tuple[str, str]], sees: Callable[[Order], bool]) -> list[dict[str, Any]]:
        """``GET /v1/orders/uuids``: the known orders among those named, newest first unless ``order_by=asc``.

        ``pairs``: the request's query, already checked against the spec's rules (``_check_rules``)."""
        kind, ids = _ids(pairs)
        # The values were checked against the spec's rules (order_by's enum among them) by _check_rules.
        options = {key: value for key, value in pairs if key in ("market", "order_by")}
        found: list[Order] = []
        for given in dict.fromkeys(ids):
            order_uuid = given if kind == "uuids[]" else self._uuid_by_identifier.get(given)
            order = self._orders.get(order_uuid) if order_uuid is not None else None
            if order is not None and sees(order) and options.get("market") in (None, order.market):
                found.append(order)
        position = {order_uuid: index for index, order_uuid in enumerate(self._orders)}
        found.sort(key=lambda order: position[order.uuid], reverse=options.get("order_by", "desc") == "desc")
        return [order.to_lookup() for order in found]


def _ids(pairs: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """The id kind (``uuids[]`` or ``identifiers[]``) and the ids of a request whose query passed ``_check_rules``.

    That check applied the spec's rules: exactly one kind given (``x-exactly-one-of``), how many ids each
    takes, what each id may be. The first kind given is read; the check leaves no other.
    """
    for kind in ("uuids[]", "identifiers[]"):
        ids = [value for key, value in pairs if key == kind]
        if ids:
            return kind, ids
    raise _Rejected(400, "validation_error", "uuids[] or identifiers[] is required.")


def _too_late(response: SandboxResponse, answer_within: float | None) -> bool:
    """True when the client stops waiting before ``response`` would reach it (``handle``'s ``answer_within``)."""
    if answer_within is None:
        return False
    return answer_within < 0 or (not response.drop_answer and response.delay > answer_within)


def _operation_name(operation: Operation) -> str:
    """The registry's name of ``operation`` (its generated module's), as ``FaultPlan``'s ``only`` takes it."""
    return operation.module.rpartition(".")[2]


def _route(path: str) -> tuple[re.Pattern[str], list[str]]:
    """A pattern matching the spec path ``path`` (each ``{name}`` one path segment) and the names in order."""
    parts = re.split(r"\{([^}]+)\}", path)
    pattern = "".join(re.escape(part) if index % 2 == 0 else "([^/]+)" for index, part in enumerate(parts))
    return re.compile(pattern), parts[1::2]


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The query's (key, value) pairs in wire order, form-decoded as Upbit reads them ('+' is a space; only
    the query hash uses plain percent-decoding of the whole raw query)."""
    pairs = []
    for pair in raw_query.split("&"):
        if pair:
            raw_key, _, raw_value = pair.partition("=")
            pairs.append((unquote_plus(raw_key), unquote_plus(raw_value)))
    return pairs


def _check_rules(
    operation: Operation, raw_query: str, path: Mapping[str, str], headers: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The request's query pairs, once they keep every rule the spec gives ``operation``'s parameters.

    400 ``validation_error`` for a query key the spec does not declare for the operation (named, with the
    ones it does declare), or for a declared parameter that breaks its rule (type, enum, pattern, minItems,
    maxItems, exactly one of, ...: ``upbit_client.rules.check_wire`` over the served registry's rules).
    """
    pairs = _query_pairs(raw_query)
    declared = [rule.wire_name for rule in operation.parameters if rule.location == "query"]
    for key, _ in pairs:
        if key not in declared:
            takes = ", ".join(declared) if declared else "no query parameters"
            raise _Rejected(
                400, "validation_error", f"Unknown parameter {key!r}: {operation.operation_id} takes {takes}."
            )
    try:
        check_wire(operation, pairs, path, {name.lower(): value for name, value in headers.items()})
    except InvalidRequest as error:
        raise _Rejected(400, "validation_error", str(error)) from error
    return pairs

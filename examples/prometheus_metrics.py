"""Export upbit_cancel's per-request events as Prometheus metrics with prometheus_client.

``UpbitMetrics`` is an ``on_event`` hook for ``upbit_cancel.connect``: give it a registry (None: the
process-wide default one, the one ``prometheus_client.start_http_server`` serves) and pass it whole::

    metrics = UpbitMetrics()
    client = connect(on_event=metrics)

It only bumps in-memory counters (thread-safe in prometheus_client), so it is quick and never blocks, as
a hook must be: it runs on the thread or event loop that sent each request (docs/hooks.md). Labels are
the operation (``cancel_orders_by_ids``), the rate-limit group, the status and the error's class name:
never an order id, so the number of series stays small.

Run as a script, it cancels a few orders on the in-process sandbox (one lost answer and one 429 on the
way) and prints the metrics as Prometheus would scrape them. Needs ``pip install prometheus-client``
and the ``[sandbox]`` extra. ``tests/test_prometheus_example.py`` runs it and checks the counts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from upbit_cancel import (
    Event,
    LookupConfirmed,
    RequestAnswered,
    RequestBlocked,
    RequestFailed,
    RequestRateLimited,
    RequestRetried,
    RequestSent,
    cancel_orders,
    connect,
    reset_pacing,
)

NONE = "none"
"""The label value for an operation or group the spec does not name."""


class UpbitMetrics:
    """An ``on_event`` hook counting requests, answers, 429s, 418s, failures, retries and confirmed ids."""

    def __init__(self, registry: CollectorRegistry | None = None, namespace: str = "upbit") -> None:
        where = {"namespace": namespace, "registry": registry} if registry is not None else {"namespace": namespace}
        self.sent = Counter("requests", "Requests sent to the exchange.", ["operation"], **where)
        self.answers = Counter("answers", "Answers, by status.", ["operation", "status"], **where)
        self.latency = Histogram("answer_seconds", "Seconds to the answer's headers.", ["operation"], **where)
        self.remaining = Gauge("remaining_req", "Requests left in the second (Remaining-Req).", ["group"], **where)
        self.rate_limited = Counter("rate_limited", "429 answers.", ["group"], **where)
        self.blocked = Counter("blocked", "418 answers: the pocket is blocked.", ["group"], **where)
        self.blocked_until = Gauge("blocked_until_seconds", "When the last 418's block ends (epoch).", **where)
        self.failed = Counter("failed", "Requests without an answer.", ["operation", "error"], **where)
        self.retries = Counter("retries", "Requests the batch sent again.", ["operation", "reason"], **where)
        self.confirmed = Counter("confirmed_ids", "Ids of lost answers a lookup settled.", ["outcome"], **where)

    def __call__(self, event: Event) -> None:
        if isinstance(event, RequestSent):
            self.sent.labels(event.request.operation or NONE).inc()
        elif isinstance(event, RequestAnswered):
            operation = event.request.operation or NONE
            self.answers.labels(operation, str(event.status)).inc()
            self.latency.labels(operation).observe(event.latency)
            if event.remaining is not None:
                self.remaining.labels(event.remaining.group).set(event.remaining.sec)
        elif isinstance(event, RequestRateLimited):
            self.rate_limited.labels(event.request.group or NONE).inc()
        elif isinstance(event, RequestBlocked):
            self.blocked.labels(event.request.group or NONE).inc()
            self.blocked_until.set(event.until)
        elif isinstance(event, RequestFailed):
            self.failed.labels(event.request.operation or NONE, event.error).inc()
        elif isinstance(event, RequestRetried):
            self.retries.labels(event.operation, event.reason or NONE).inc()
        elif isinstance(event, LookupConfirmed):
            self.confirmed.labels("cancelled").inc(len(event.cancelled))
            self.confirmed.labels("not_cancelled").inc(len(event.ids) - len(event.cancelled))


def main() -> None:
    """Cancel three demo orders on the in-process sandbox, a lost answer and a 429 on the way; print the metrics."""
    from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange

    reset_pacing()
    exchange = SandboxExchange()
    exchange.seed_demo_orders()
    exchange.faults.lose_answer(only="cancel_orders_by_ids")
    exchange.faults.too_many_requests(only="cancel_orders_by_ids")
    registry = CollectorRegistry()
    with connect(
        "https://api.upbit.com",  # never reached: the sandbox's transport answers
        access_key=DEMO_ACCESS_KEY,
        secret_key=DEMO_SECRET_KEY,
        httpx_args={"transport": exchange.transport()},
        on_event=UpbitMetrics(registry),
    ) as client:
        report = cancel_orders(client, identifiers=["demo-0001", "demo-0002", "demo-0003"])
    print(f"cancelled {len(report.success)} of 3")
    print(generate_latest(registry).decode(), end="")


if __name__ == "__main__":
    main()

"""The Prometheus metrics every service exports on `GET /metrics` (text format, no auth).

One place defines every metric object; code that counts something imports the object and calls
`.labels(...).inc()` next to the event it counts. Labels are bounded sets only — the route
*template* (never the raw path), the method, the status class (2xx…5xx), event types, topics,
providers and reasons — so the hot path costs a dict lookup and prometheus-client's own lock.
What each metric means, for an operator: docs/operations.md.

The process registry is the default one (`prometheus_client.REGISTRY`), so the process and
platform collectors come for free. Each replica is its own process and its own scrape target.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# --- HTTP ---------------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "backbone_http_requests_total",
    "HTTP requests answered, by route template, method and status class.",
    ["service", "route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "backbone_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["service", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# --- webhooks -----------------------------------------------------------------------------------

WEBHOOKS = Counter(
    "backbone_webhooks_total",
    "Webhook deliveries by provider and outcome (processed, duplicate, rejected) and reason.",
    ["provider", "outcome", "reason"],
)


def declare_series(counter: Counter, *label_sets: tuple[str, ...]) -> None:
    """Export these label sets at 0 from the start. A series born at its first increment has no
    earlier sample, so `rate()`/`increase()` miss that first event: a rare dead letter, rejection
    or upgrade would never show on a graph or fire a rule."""
    for labels in label_sets:
        counter.labels(*labels)


def declare_webhook_outcomes(
    provider: str, *, outcomes: Iterable[str] = (), rejections: Iterable[str]
) -> None:
    """A webhook route's series, at 0: processed, duplicate (+ `outcomes`), rejected by reason."""
    answered = [(provider, outcome, "") for outcome in ("processed", "duplicate", *outcomes)]
    declare_series(WEBHOOKS, *answered, *[(provider, "rejected", reason) for reason in rejections])


def count_webhook(provider: str, status: str) -> Counter:
    """The counter for a delivery answered with `status` (accepted counts as processed)."""
    outcome = "processed" if status == "accepted" else status
    return WEBHOOKS.labels(provider, outcome, "")


def count_webhook_rejected(provider: str, reason: str) -> None:
    """A delivery refused (4xx) for `reason` (the error code, or the signature check's reason)."""
    WEBHOOKS.labels(provider, "rejected", reason).inc()


# --- events -------------------------------------------------------------------------------------

EVENTS_PUBLISHED = Counter(
    "backbone_events_published_total",
    "Events the outbox relay published to Kafka, by event type.",
    ["service", "type"],
)
EVENTS_CONSUMED = Counter(
    "backbone_events_consumed_total",
    "Events a consumer applied (result=applied) or found already applied (result=duplicate).",
    ["consumer", "type", "result"],
)
HANDLER_LATENCY = Histogram(
    "backbone_handler_duration_seconds",
    "Time one handler call takes (a batched handler's run counts once), by consumer and type.",
    ["consumer", "type"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
HANDLER_RETRIES = Counter(
    "backbone_handler_retries_total",
    "Record-by-record attempts after a failed batch, beyond the first, by consumer and type.",
    ["consumer", "type"],
)
DEAD_LETTERS = Counter(
    "backbone_dead_letters_total",
    "Records sent to <topic>.dlq, by consumer and topic.",
    ["consumer", "topic"],
)
CONSUMER_REBALANCES = Counter(
    "backbone_consumer_rebalances_total",
    "Partition assignments this replica received (one per rebalance it was in, the first join too).",
    ["consumer"],
)
OFFSET_COMMIT_FAILURES = Counter(
    "backbone_offset_commit_failures_total",
    "Offset commits that failed (a rebalance, a coordinator moving, the broker gone): redelivery follows.",
    ["consumer"],
)
PRODUCE_RETRIES = Counter(
    "backbone_kafka_produce_retries_total",
    "Produce requests the Kafka client had to send again (a leader moved, a broker gone), by service.",
    ["service"],
)
RELAY_FAILURES = Counter(
    "backbone_outbox_relay_failures_total",
    "Outbox drains that failed and were retried after a backoff (the rows stay unsent until then).",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "backbone_consumer_lag_records",
    "Records behind the partition's end (highwater - position), summed per topic, this replica.",
    ["consumer", "topic"],
)

# --- business -----------------------------------------------------------------------------------

SIGNUPS = Counter(
    "backbone_signups_total",
    "Users whose first workspace was provisioned, by signup path (individual, invited, skool).",
    ["path"],
)
CONVERSIONS = Counter(
    "backbone_conversions_total",
    "Personal workspaces converted to team workspaces.",
)
UPGRADES = Counter(
    "backbone_upgrades_total",
    "Subscriptions that became active on a paid plan, by plan.",
    ["plan"],
)
QUOTA_REFUSALS = Counter(
    "backbone_quota_refusals_total",
    "Usage refused because it would exceed the plan's quota, by meter.",
    ["meter"],
)


# --- outbox backlog (read on scrape) ------------------------------------------------------------

BacklogReader = Callable[[], Awaitable[tuple[int, float]]]


class OutboxBacklog(Collector):
    """The outbox's unsent rows and the oldest one's age, as last measured by the relay.

    The relay measures after each drain and on its safety poll (cheap: one indexed query); a
    scrape only reads the numbers, so scraping never touches the database.
    """

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, float]] = {}

    def set(self, service: str, *, rows: int, oldest_seconds: float) -> None:
        self._values[service] = (rows, oldest_seconds)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        rows = GaugeMetricFamily(
            "backbone_outbox_backlog_rows", "Outbox rows not yet published.", labels=["service"]
        )
        age = GaugeMetricFamily(
            "backbone_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none).",
            labels=["service"],
        )
        for service, (count, oldest) in self._values.items():
            rows.add_metric([service], count)
            age.add_metric([service], oldest)
        yield rows
        yield age


OUTBOX_BACKLOG = OutboxBacklog()
REGISTRY.register(OUTBOX_BACKLOG)


# --- counting only what committed ---------------------------------------------------------------

_PENDING = "metrics_on_commit"


def count_on_commit(session: AsyncSession, counter: Counter, amount: float = 1) -> None:
    """Increment `counter` once `session`'s transaction commits; never if it rolls back.

    Service functions flush but never commit (the request or consumer batch does), and a
    consumer batch that fails is retried record by record: counting at the call would count
    twice. Business counters go through here so they move by exactly what happened.
    """
    session.sync_session.info.setdefault(_PENDING, []).append((counter, amount))


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for counter, amount in session.info.pop(_PENDING, ()):
        counter.inc(amount)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


# --- the app's side -----------------------------------------------------------------------------


def install_metrics(app: FastAPI, *, service: str) -> None:
    """Count every request by route template and serve `GET /metrics` (unauthenticated)."""
    app.add_middleware(_Measure, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class _Measure:
    """Pure ASGI middleware (no BaseHTTPMiddleware task per request): one count, one timing."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self._app = app
        self._service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, remember_status)
        finally:
            route = _route_template(scope)
            method = str(scope.get("method", ""))
            HTTP_REQUESTS.labels(self._service, route, method, f"{status // 100}xx").inc()
            HTTP_LATENCY.labels(self._service, route, method).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    """The matched route's path template (`/v1/orgs/{org_id}`), or `unmatched`: bounded labels.

    The router records the matched route in the (shared) scope; a request no route matched
    (404) must not put its raw path in a label.
    """
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"

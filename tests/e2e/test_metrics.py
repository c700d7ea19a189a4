"""`GET /metrics` on every service, on the live test platform (docs/operations.md).

Counters are per process: a service's value is the sum over its replicas' own addresses.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import httpx
import yaml

from devstack.pytest_plugin import TEST_ENV, TEST_SERVICE_KEY
from devstack.scrape import Samples, scrape, scrape_text, value
from devstack.services import Fleet
from devstack.stripe_mock import sign_stripe_payload
from devstack.testing import bearer_token, call_service, eventually, new_slug, sign_up

REPO = Path(__file__).resolve().parents[2]
SERVICE = {"X-Service-Key": TEST_SERVICE_KEY}

# Exported by compose's OpenTelemetry collector (span metrics), not by the services.
NOT_FROM_SERVICES = ("traces_span_metrics_",)
# Made by Prometheus itself for every target it scrapes.
FROM_PROMETHEUS = {"up"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or"}
PROMQL_WORDS |= {"unless", "offset", "inf", "nan"}


def exported_names(text: str) -> set[str]:
    """The sample names a scrape can show, from its TYPE lines (series not yet observed too)."""
    names = set()
    for match in re.finditer(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE):
        name, kind = match.groups()
        base = name.removesuffix("_total")
        names |= {name, f"{base}_total", f"{base}_created"} if kind == "counter" else {name}
        if kind in ("histogram", "summary"):
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
    return names


def referenced_names(expression: str) -> set[str]:
    """The metric and recording-rule names a PromQL expression reads."""
    stripped = re.sub(r'"[^"]*"', "", expression)  # label values
    stripped = re.sub(r"\{[^}]*\}", "", stripped)  # label matchers
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)  # ranges
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)  # grouping labels
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\(?))", stripped):
        token, call = match.group(0), match.group(1)
        if call != "(" and token.lower() not in PROMQL_WORDS:
            names.add(token)
    return names


def rule_groups() -> list[dict[str, str]]:
    rules = yaml.safe_load((REPO / "deploy/prometheus/rules.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def dashboard_expressions() -> Iterable[tuple[str, str]]:
    for path in sorted((REPO / "deploy/grafana/dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]


async def test_every_service_exports_metrics_and_a_signup_moves_the_counters(services: Fleet) -> None:
    before = {name: await scrape(services, name) for name in services.replicas}

    user_id, _ = await sign_up(services)

    # Claims are complete once workspace's events reached identity: every hop has committed.
    workspace = await eventually(
        lambda: scrape(services, "workspace"),
        until=lambda s: (
            value(s, "backbone_signups_total", path="individual")
            >= value(before["workspace"], "backbone_signups_total", path="individual") + 1
        ),
        what=f"workspace counting {user_id}'s signup",
    )
    identity = await scrape(services, "identity")
    signups = value(workspace, "backbone_signups_total", path="individual")
    assert signups == value(before["workspace"], "backbone_signups_total", path="individual") + 1

    def moved(samples: Samples, service: str, name: str, **labels: str) -> float:
        return value(samples, name, **labels) - value(before[service], name, **labels)

    assert moved(identity, "identity", "backbone_webhooks_total", provider="auth", outcome="processed") == 1
    assert moved(identity, "identity", "backbone_events_published_total", type="user.created") >= 1
    assert moved(workspace, "workspace", "backbone_events_published_total", type="org.created") >= 1
    consumed = moved(
        workspace, "workspace", "backbone_events_consumed_total", type="user.created", result="applied"
    )
    assert consumed >= 1
    assert (
        moved(identity, "identity", "backbone_http_requests_total", route="/v1/webhooks/auth", status="2xx")
        >= 1
    )
    assert value(workspace, "backbone_outbox_backlog_rows", service="workspace") >= 0
    lag = [labels for name, labels in workspace if name == "backbone_consumer_lag_records"]
    assert lag, "workspace reports no consumer lag"

    for name in services.replicas:
        text = await scrape_text(services.replicas[name][0].own_url)
        for metric in (
            "backbone_http_requests_total",
            "backbone_http_request_duration_seconds_bucket",
            "backbone_outbox_backlog_rows",
            "backbone_outbox_oldest_age_seconds",
        ):
            assert f"\n{metric}{{" in text, (name, metric)


async def test_dashboards_and_rules_refer_only_to_exported_metrics(services: Fleet) -> None:
    exported: set[str] = set()
    for replica in services.all():
        exported |= exported_names(await scrape_text(replica.own_url))
    rules = rule_groups()
    recorded = {rule["record"] for rule in rules if "record" in rule}
    assert recorded, "no recording rules"
    assert any("alert" in rule for rule in rules), "no alerts"

    missing = []
    expressions = [(f"rules.yml: {rule.get('record') or rule['alert']}", rule["expr"]) for rule in rules]
    expressions += list(dashboard_expressions())
    for where, expression in expressions:
        names = referenced_names(expression)
        assert names, f"{where}: no metric in {expression!r}"
        for name in names - exported - recorded - FROM_PROMETHEUS:
            if not name.startswith(NOT_FROM_SERVICES):
                missing.append(f"{where}: {name}")
    assert missing == []
    assert any("backbone_" in expression for _, expression in dashboard_expressions())


async def test_conversion_and_quota_counters_move_by_exactly_what_was_done(services: Fleet) -> None:
    user_id, claims = await sign_up(services)
    org_id = claims["org_id"]
    before_workspace = await scrape(services, "workspace")
    before_billing = await scrape(services, "billing")
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:

        async def consume(quantity: int) -> int:
            body = {"quantity": quantity, "idempotency_key": uuid.uuid4().hex}
            path = f"/v1/orgs/{org_id}/meters/sessions/consume"
            return (await client.post(path, json=body, headers=SERVICE)).status_code

        # individual_free allows 10 sessions a month: 10 go through, then two refusals.
        assert [await consume(10), await consume(1), await consume(2)] == [200, 402, 402]
    token = await bearer_token(services, user_id)
    body = {"name": "Metrics Co", "slug": new_slug("metrics")}
    converted = await call_service(
        services, "workspace", "POST", f"/v1/orgs/{org_id}/convert", token=token, json=body
    )
    assert converted.status_code == 200, converted.text

    workspace = await scrape(services, "workspace")
    billing = await scrape(services, "billing")
    conversions = value(workspace, "backbone_conversions_total") - value(
        before_workspace, "backbone_conversions_total"
    )
    refusals = value(billing, "backbone_quota_refusals_total", meter="sessions") - value(
        before_billing, "backbone_quota_refusals_total", meter="sessions"
    )
    assert (conversions, refusals) == (1, 2)


async def post_stripe(fleet: Fleet, event: dict[str, object], *, secret: str) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {
        "Stripe-Signature": sign_stripe_payload(body, secret=secret),
        "Content-Type": "application/json",
    }
    async with httpx.AsyncClient(base_url=fleet["billing"].url, timeout=10) as client:
        return await client.post("/v1/webhooks/stripe", content=body, headers=headers)


async def test_an_upgrade_and_stripe_webhook_outcomes_are_counted_once(services: Fleet) -> None:
    _, claims = await sign_up(services)
    org_id = claims["org_id"]
    subscription = {
        "id": f"sub_{uuid.uuid4().hex[:14]}",
        "object": "subscription",
        "customer": "cus_metrics",
        "status": "active",
        "cancel_at_period_end": False,
        "current_period_end": int(time.time()) + 30 * 86400,
        "metadata": {"org_id": org_id},
        "items": {"object": "list", "data": [{"price": {"id": "price_individual_pro_month"}}]},
    }
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "customer.subscription.created",
        "created": int(time.time()),
        "data": {"object": subscription},
    }
    before = await scrape(services, "billing")
    secret = TEST_ENV["BILLING_STRIPE_WEBHOOK_SECRET"]

    statuses = [(await post_stripe(services, event, secret=secret)).json()["status"] for _ in range(3)]
    refused = await post_stripe(services, event, secret="whsec_wrong")

    assert statuses == ["processed", "duplicate", "duplicate"]
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_signature")
    after = await scrape(services, "billing")

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("backbone_upgrades_total", plan="individual_pro") == 1
    assert moved("backbone_webhooks_total", provider="stripe", outcome="processed") == 1
    assert moved("backbone_webhooks_total", provider="stripe", outcome="duplicate") == 2
    rejected = moved(
        "backbone_webhooks_total", provider="stripe", outcome="rejected", reason="invalid_signature"
    )
    assert rejected == 1


async def test_rare_events_have_a_series_before_the_first_one(services: Fleet) -> None:
    """A series born at its first increment has no earlier sample, so rate() and increase()
    miss that event: the first dead letter or rejection would never reach a graph or a rule."""
    expected = {
        "workspace": [
            ("backbone_dead_letters_total", {"consumer": "workspace", "topic": "identity.users"}),
            ("backbone_signups_total", {"path": "skool"}),
            ("backbone_handler_retries_total", {"consumer": "workspace", "type": "user.created"}),
        ],
        "identity": [
            (
                "backbone_webhooks_total",
                {"provider": "auth", "outcome": "rejected", "reason": "invalid_signature"},
            )
        ],
        "billing": [
            (
                "backbone_webhooks_total",
                {"provider": "stripe", "outcome": "rejected", "reason": "invalid_signature"},
            ),
            ("backbone_upgrades_total", {"plan": "business"}),
            ("backbone_quota_refusals_total", {"meter": "scenarios"}),
        ],
        "skool-ingest": [
            (
                "backbone_webhooks_total",
                {"provider": "skool", "outcome": "rejected", "reason": "signature_mismatch"},
            ),
            ("backbone_dead_letters_total", {"consumer": "skool-ingest", "topic": "identity.users"}),
        ],
    }
    for service, series in expected.items():
        samples = await scrape(services, service)
        for name, labels in series:
            assert (name, frozenset(labels.items())) in samples, f"{service} does not export {name}{labels}"

"""The Prometheus `make run` starts (devstack/prometheus.py), against the test platform's replicas:
it scrapes every replica and evaluates the recording rules of deploy/prometheus/rules.yml."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.paths import local_dir
from devstack.platform import Platform
from devstack.prometheus import DEFAULT_PORT, PrometheusServer
from devstack.services import Fleet
from devstack.testing import eventually, new_user_id, publish, sign_up


@pytest.fixture
def prometheus(platform: Platform, services: Fleet) -> Iterator[PrometheusServer]:
    server = PrometheusServer(
        port=DEFAULT_PORT + platform.ports.service_offset,
        folder=local_dir() / "test-run" / "prometheus",
        replicas=services.all(),
    )
    server.start(print)
    try:
        yield server
    finally:
        server.stop()


async def api(server: PrometheusServer, path: str, **params: str) -> Any:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.get(f"/api/v1/{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_prometheus_scrapes_every_replica_and_records_the_funnel(
    prometheus: PrometheusServer, services: Fleet
) -> None:
    await sign_up(services)

    targets = await eventually(
        lambda: api(prometheus, "targets"),
        until=lambda data: (
            len(data["activeTargets"]) == len(services.all())
            and all(target["health"] == "up" for target in data["activeTargets"])
        ),
        timeout=60,
        interval=0.5,
        what="every replica scraped",
    )
    assert {target["labels"]["job"] for target in targets["activeTargets"]} == set(services.replicas)
    signups = await eventually(
        lambda: api(prometheus, "query", query='backbone_signups_total{path="individual"}'),
        until=lambda data: bool(data["result"]) and float(data["result"][0]["value"][1]) >= 1,
        timeout=60,
        interval=0.5,
        what="the signup counter scraped",
    )
    assert signups["result"][0]["metric"]["job"] == "workspace"
    rules = await api(prometheus, "rules")
    recorded = {rule["name"] for group in rules["groups"] for rule in group["rules"]}
    assert {"backbone:signups:rate5m", "backbone:consumer_lag_records:sum"} <= recorded
    broken = [rule for group in rules["groups"] for rule in group["rules"] if rule["health"] == "err"]
    assert broken == []
    lag = await eventually(
        lambda: api(prometheus, "query", query="backbone:consumer_lag_records:sum"),
        until=lambda data: (
            {series["metric"]["consumer"] for series in data["result"]} >= {"workspace", "identity"}
        ),
        timeout=60,
        interval=0.5,
        what="the consumer-lag rule evaluated for workspace and identity",
    )
    assert all(float(series["value"][1]) >= 0 for series in lag["result"])


def _dead_letter_alert(data: Any, *, consumer: str, topic: str) -> dict[str, Any] | None:
    for alert in data["alerts"]:
        labels = alert["labels"]
        if (labels["alertname"], labels.get("consumer"), labels.get("topic")) == (
            "BackboneDeadLetter",
            consumer,
            topic,
        ):
            return dict(alert)
    return None


async def test_a_dead_letter_fires_its_alert(
    prometheus: PrometheusServer, services: Fleet, platform: Platform
) -> None:
    series = 'backbone_dead_letters_total{consumer="workspace", topic="identity.users"}'
    await eventually(  # scraped before the poison: its increase then counts the new letter
        lambda: api(prometheus, "query", query=series),
        until=lambda data: bool(data["result"]),
        timeout=60,
        interval=0.5,
        what="workspace's dead-letter series scraped",
    )
    # Earlier tests of the session may have dead-lettered here already: compare, not just look.
    earlier = _dead_letter_alert(
        await api(prometheus, "alerts"), consumer="workspace", topic="identity.users"
    )
    before = float(earlier["value"]) if earlier else 0.0

    await publish(platform.kafka_bootstrap, "identity.users", key=new_user_id(), value=b"not an envelope")

    alert = await eventually(
        lambda: api(prometheus, "alerts"),
        until=lambda data: (
            (found := _dead_letter_alert(data, consumer="workspace", topic="identity.users")) is not None
            and found["state"] == "firing"
            and float(found["value"]) >= before + 0.5
        ),
        timeout=60,
        interval=0.5,
        what="BackboneDeadLetter firing for workspace on identity.users",
    )
    assert _dead_letter_alert(alert, consumer="workspace", topic="identity.users") is not None

"""The record parser, the testing helpers and the Kafka settings, without a broker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backbone_client.events import (
    PAYLOADS,
    Event,
    MalformedEvent,
    SubscriptionChanged,
    UnknownEventType,
    event_type_of,
    parse_record,
    topic_for,
)
from backbone_client.kafka import KafkaSettings
from backbone_client.testing import record_headers, record_value


def test_a_record_with_its_headers_parses_to_the_typed_event(plan_change: Any) -> None:
    event = plan_change(plan="individual_pro", version=3)
    headers = [(name, value.encode()) for name, value in record_headers(event).items()]
    parsed = parse_record(record_value(event), headers)
    assert isinstance(parsed.data, SubscriptionChanged)
    assert (parsed.id, parsed.subject, parsed.data.plan, parsed.data.version) == (
        event.id,
        "org-1",
        "individual_pro",
        3,
    )
    assert parsed.data.limits.sessions_per_month == 10


def test_a_record_without_headers_is_read_from_its_value(plan_change: Any) -> None:
    value = record_value(plan_change())
    assert event_type_of(value) == "subscription.changed"
    assert isinstance(parse_record(value), Event)


def test_what_is_no_valid_event_is_malformed(plan_change: Any) -> None:
    document = json.loads(record_value(plan_change()))
    bad_values = [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"type": "subscription.changed"}',
        json.dumps({**document, "data": {"org_id": "x"}}).encode(),
        json.dumps({**document, "id": "not-a-uuid"}).encode(),
    ]
    for value in bad_values:
        with pytest.raises(MalformedEvent):
            parse_record(value)


def test_headers_that_contradict_the_value_make_it_malformed(plan_change: Any) -> None:
    event = plan_change()
    with pytest.raises(MalformedEvent, match="contradict"):
        parse_record(record_value(event), {**record_headers(event), "ce_type": "user.created"})


def test_an_event_type_the_kit_does_not_know_is_named(raw_envelope: Any) -> None:
    with pytest.raises(UnknownEventType) as raised:
        parse_record(raw_envelope("subscription.renamed", subject="o", data={}))
    assert raised.value.event_type == "subscription.renamed"


def test_every_payload_has_its_topic() -> None:
    assert {topic_for(event_type) for event_type in PAYLOADS} == {
        "identity.users",
        "workspace.orgs",
        "billing.subscriptions",
        "invites.invitations",
        "skool.subscriptions",
    }


def test_kafka_settings_come_from_the_services_variables() -> None:
    settings = KafkaSettings.from_env(
        "practice-app",
        {
            "KAFKA_BOOTSTRAP_SERVERS": "broker:9093",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "PRACTICE_APP_KAFKA_USERNAME": "practice-app",
            "PRACTICE_APP_KAFKA_PASSWORD": "secret",
        },
    )
    security = settings.security()
    assert security is not None and security.use_ssl
    assert (type(security).__name__, settings.bootstrap_servers) == ("SASLScram512", "broker:9093")
    assert "secret" not in repr(settings)
    assert KafkaSettings.from_env("x", {}).security() is None


def test_sasl_without_credentials_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="username and password"):
        KafkaSettings.from_env("x", {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})

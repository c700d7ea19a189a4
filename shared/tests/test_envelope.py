"""The CloudEvents envelope and the topic map."""

from __future__ import annotations

import pytest

from shared.events import Envelope, dlq_topic, new_envelope, topic_for
from shared.events.schemas.identity import UserCreated


def test_an_envelope_round_trips_with_cloudevents_attributes() -> None:
    data = UserCreated(user_id="user_1", email="a@example.com", first_name="Ada")
    envelope = new_envelope(
        source="identity",
        subject="user_1",
        data=data,
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )

    parsed = Envelope.from_bytes(envelope.to_bytes())

    assert parsed == envelope
    assert parsed.specversion == "1.0"
    assert parsed.type == "user.created"
    assert parsed.datacontenttype == "application/json"
    assert parsed.dataschema == "urn:backbone:event:user.created:v1"
    assert parsed.payload(UserCreated) == data


@pytest.mark.parametrize(
    "event_type,topic",
    [
        ("user.created", "identity.users"),
        ("org.converted", "workspace.orgs"),
        ("membership.added", "workspace.orgs"),
        ("subscription.changed", "billing.subscriptions"),
        ("invitation.accepted", "invites.invitations"),
        ("skool.cancelled", "skool.subscriptions"),
    ],
)
def test_each_event_type_has_its_producers_topic(event_type: str, topic: str) -> None:
    assert topic_for(event_type) == topic
    assert dlq_topic(topic) == f"{topic}.dlq"


def test_an_unknown_event_type_has_no_topic() -> None:
    with pytest.raises(KeyError):
        topic_for("payment.teleported")

"""For a product service's own unit tests: platform events as the platform's outbox writes them.

event = new_event(SubscriptionChanged(...), subject=org_id)
async with TestKafkaBroker(broker) as test_broker:
    await publish_event(test_broker, event)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker

from backbone_client.events import CONTENT_TYPE, Event, EventData, topic_for

PRODUCERS = {
    "identity.users": "identity",
    "workspace.orgs": "workspace",
    "billing.subscriptions": "billing",
    "invites.invitations": "invites",
    "skool.subscriptions": "skool-ingest",
}


def new_event(data: EventData, *, subject: str, event_id: uuid.UUID | None = None) -> Event[Any]:
    """`data` in a fresh envelope (new id unless given, now, its producer as `source`)."""
    event: Event[Any] = Event[type(data)].model_validate(  # type: ignore[misc]
        {
            "id": event_id or uuid.uuid4(),
            "type": data.event_type,
            "source": PRODUCERS[topic_for(data.event_type)],
            "time": datetime.now(UTC),
            "subject": subject,
            "dataschema": f"urn:backbone:event:{data.event_type}:v{data.schema_version}",
            "data": data,
        }
    )
    return event


def record_value(event: Event[Any]) -> bytes:
    """The record's value: the structured-mode CloudEvent."""
    return event.model_dump_json(exclude_none=True).encode()


def record_headers(event: Event[Any]) -> dict[str, str]:
    """The headers the outbox relay writes beside it."""
    headers = {
        "content-type": CONTENT_TYPE,
        "ce_id": str(event.id),
        "ce_type": event.type,
        "ce_source": event.source,
    }
    return headers | ({"traceparent": event.traceparent} if event.traceparent else {})


async def publish_event(broker: KafkaBroker, event: Event[Any], *, headers: bool = True) -> None:
    """Put `event` on its topic, keyed by its subject, as the platform would."""
    await broker.publish(
        record_value(event),
        topic=topic_for(event.type),
        key=event.subject.encode(),
        headers=record_headers(event) if headers else None,
    )

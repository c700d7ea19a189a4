"""The client kit's event models (clients/python, backbone_client.events) against the one source:
shared.events.schemas and the AsyncAPI documents generated from it. The kit cannot import the
platform (it installs on its own), so its models are a copy; these tests fail on any drift."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from backbone_client.events import PAYLOADS, parse_record
from backbone_client.events import topic_for as kit_topic_for
from backbone_client.subscriber import (
    DLQ_ATTEMPTS,
    DLQ_CONSUMER,
    DLQ_ERROR,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
)
from backbone_client.testing import new_event, record_headers, record_value
from shared.events.envelope import CONTENT_TYPE, Envelope, new_envelope
from shared.events.registry import event_schemas
from shared.events.topics import ALL_TOPICS, PRODUCER_BY_TOPIC, topic_for
from shared.messaging import dlq

ASYNCAPI = Path(__file__).resolve().parents[1] / "docs" / "asyncapi"
FIX = "update clients/python/src/backbone_client/events/payloads.py to match shared.events.schemas"
REF = "#/components/schemas/{model}"


def _without_descriptions(schema: Any) -> Any:
    """Docstrings are documentation, not contract: the kit may say more (or less) than a service."""
    if isinstance(schema, dict):
        return {key: _without_descriptions(value) for key, value in schema.items() if key != "description"}
    if isinstance(schema, list):
        return [_without_descriptions(value) for value in schema]
    return schema


@cache
def _schemas_of(models: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    """Each model's JSON schema and its nested models', by class name (as AsyncAPI lists them)."""
    _, top = models_json_schema([(model, "validation") for model in models], ref_template=REF)
    return {name: _without_descriptions(schema) for name, schema in top["$defs"].items()}


def test_the_kit_knows_exactly_the_event_types_the_platform_declares() -> None:
    assert sorted(PAYLOADS) == sorted(event_schemas()), FIX


@pytest.mark.parametrize("event_type", sorted(event_schemas()))
def test_each_payload_has_the_platforms_schema_version_and_topic(event_type: str) -> None:
    platform, kit = event_schemas()[event_type], PAYLOADS[event_type]
    assert kit.__name__ == platform.__name__, FIX
    assert kit.schema_version == platform.schema_version, FIX
    assert kit_topic_for(event_type) == topic_for(event_type)
    ours = _schemas_of(tuple(PAYLOADS.values()))
    theirs = _schemas_of(tuple(event_schemas().values()))
    assert ours[kit.__name__] == theirs[platform.__name__], FIX


def test_the_kit_matches_every_payload_schema_in_the_asyncapi_documents() -> None:
    ours = _schemas_of(tuple(PAYLOADS.values()))
    compared = 0
    for path in sorted(ASYNCAPI.glob("*.json")):
        for name, schema in json.loads(path.read_text())["components"]["schemas"].items():
            if name == "Envelope":
                continue
            assert ours.get(name) == _without_descriptions(schema), f"{path.name}: {name}. {FIX}"
            compared += 1
    assert compared >= len(PAYLOADS)


def test_the_kit_uses_the_platforms_topics_content_type_and_dead_letter_headers() -> None:
    from backbone_client.events import ALL_TOPICS as KIT_TOPICS
    from backbone_client.events import CONTENT_TYPE as KIT_CONTENT_TYPE
    from backbone_client.testing import PRODUCERS

    assert (KIT_TOPICS, KIT_CONTENT_TYPE, PRODUCERS) == (ALL_TOPICS, CONTENT_TYPE, PRODUCER_BY_TOPIC)
    kit_headers = (DLQ_ERROR, DLQ_ATTEMPTS, DLQ_CONSUMER, DLQ_ORIGINAL_TOPIC, DLQ_ORIGINAL_PARTITION)
    platform_headers = (dlq.DLQ_ERROR, dlq.DLQ_ATTEMPTS, dlq.DLQ_CONSUMER, dlq.DLQ_ORIGINAL_TOPIC)
    assert kit_headers[:4] == platform_headers and DLQ_ORIGINAL_PARTITION == dlq.DLQ_ORIGINAL_PARTITION
    assert DLQ_ORIGINAL_OFFSET == dlq.DLQ_ORIGINAL_OFFSET


def test_an_event_the_platform_writes_parses_in_the_kit_and_back() -> None:
    from shared.events.schemas.billing import PlanLimits, SubscriptionChanged

    data = SubscriptionChanged(
        org_id="org-1",
        plan="individual_pro",
        plan_kind="personal",
        status="active",
        version=2,
        limits=PlanLimits(seats=1, sessions_per_month=100, scenarios=50, ai_generation=True),
        features={"voice_training": True},
    )
    written = new_envelope(source="billing", subject="org-1", data=data)
    parsed = parse_record(written.to_bytes(), {"ce_id": str(written.id), "ce_type": written.type})
    assert (parsed.id, parsed.data.model_dump(), parsed.dataschema) == (
        written.id,
        data.model_dump(),
        data.dataschema(),
    )
    # ...and an event the kit's testing helpers write is one the platform reads.
    kit_event = new_event(PAYLOADS["subscription.changed"].model_validate(data.model_dump()), subject="org-1")
    read = Envelope.from_bytes(record_value(kit_event))
    assert (read.id, read.dataschema) == (kit_event.id, data.dataschema())
    assert read.payload(SubscriptionChanged) == data
    assert record_headers(kit_event)["ce_type"] == "subscription.changed"

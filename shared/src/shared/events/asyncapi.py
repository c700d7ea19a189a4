"""A service's AsyncAPI 3.0 document, built from what the code declares (docs/asyncapi/README.md).

Channels are the topics the service publishes on or consumes, and the `<topic>.dlq` of each
topic it consumes; messages are the event types (CloudEvents `type`), each an envelope whose
`data` is the payload schema's JSON schema. Everything is sorted, so the document is stable.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic.json_schema import models_json_schema

from shared.events.envelope import CONTENT_TYPE, Envelope, EventData
from shared.events.registry import schemas_on
from shared.events.topics import PRODUCER_BY_TOPIC, dlq_topic, topic_for
from shared.messaging.dlq import (
    DLQ_ATTEMPTS,
    DLQ_CONSUMER,
    DLQ_ERROR,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
)
from shared.settings import ServiceSettings

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DEAD_LETTER = "dead_letter"
_SCHEMAS = "#/components/schemas/"
_MESSAGES = "#/components/messages/"


def build_asyncapi(
    *,
    service: str,
    version: str,
    published: Sequence[type[EventData]],
    consumed: Mapping[str, Collection[str]],
    group_id: str,
) -> dict[str, Any]:
    """The AsyncAPI document of `service`: it sends `published` on their topics, and receives
    the event types `consumed` names per topic (as consumer group `group_id`)."""
    _refuse_unknown_types(service, consumed)
    topics = sorted({*(topic_for(schema.event_type) for schema in published), *consumed})
    channels = {topic: _channel(topic) for topic in topics}
    channels |= {dlq_topic(topic): _dead_letter_channel(topic) for topic in consumed}
    operations = _send_operations(service, published) | _receive_operations(service, consumed, group_id)
    messages = {schema.event_type: _message(schema) for topic in topics for schema in schemas_on(topic)}
    if consumed:
        messages[DEAD_LETTER] = _dead_letter_message()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": service,
            "version": version,
            "description": f"The Kafka topics {service} publishes on and consumes, generated from the code "
            "(shared.events.asyncapi); every event is a CloudEvents 1.0 envelope in structured mode.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"kafka": _server()},
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {
            "messages": dict(sorted(messages.items())),
            "schemas": _schemas([schema for topic in topics for schema in schemas_on(topic)]),
        },
    }


def _refuse_unknown_types(service: str, consumed: Mapping[str, Collection[str]]) -> None:
    for topic, event_types in consumed.items():
        unknown = set(event_types) - {schema.event_type for schema in schemas_on(topic)}
        if unknown:
            raise ValueError(
                f"{service} consumes {sorted(unknown)} from {topic}, which carries no such event"
            )


def _server() -> dict[str, Any]:
    # A placeholder, not this process's setting: the document must not change with the environment.
    default = ServiceSettings.model_fields["kafka_bootstrap_servers"].default
    return {
        "host": "{bootstrap}",
        "protocol": "kafka",
        "description": "The Kafka cluster of the platform.",
        "variables": {
            "bootstrap": {"default": default, "description": "KAFKA_BOOTSTRAP_SERVERS (settings)."}
        },
    }


def _send_operations(service: str, published: Sequence[type[EventData]]) -> dict[str, Any]:
    by_topic: dict[str, list[str]] = {}
    for schema in published:
        by_topic.setdefault(topic_for(schema.event_type), []).append(schema.event_type)
    description = f"{service} publishes these events through its outbox, keyed by subject."
    return {
        f"send-{topic}": _operation("send", topic, sorted(event_types), description)
        for topic, event_types in by_topic.items()
    }


def _receive_operations(
    service: str, consumed: Mapping[str, Collection[str]], group_id: str
) -> dict[str, Any]:
    operations = {}
    for topic, event_types in consumed.items():
        operations[f"receive-{topic}"] = _operation(
            "receive",
            topic,
            sorted(event_types),
            f"{service} applies these events (other types on the topic are skipped), "
            "idempotently and in order per partition.",
            group_id=group_id,
        )
        operations[f"dead-letter-{topic}"] = _operation(
            "send",
            dlq_topic(topic),
            [DEAD_LETTER],
            f"A record {service} could not apply (poison, or retries ran out) goes here; "
            "`python -m shared.messaging.replay` puts it back.",
        )
    return operations


def _channel(topic: str) -> dict[str, Any]:
    return {
        "address": topic,
        "description": f"Published by {PRODUCER_BY_TOPIC[topic]}; the Kafka key is each event's subject "
        "(its aggregate id), so one aggregate's events stay in order.",
        "messages": {
            schema.event_type: {"$ref": _MESSAGES + schema.event_type} for schema in schemas_on(topic)
        },
    }


def _dead_letter_channel(topic: str) -> dict[str, Any]:
    return {
        "address": dlq_topic(topic),
        "description": f"Dead letters of {topic}: the records a consumer could not apply.",
        "messages": {DEAD_LETTER: {"$ref": _MESSAGES + DEAD_LETTER}},
    }


def _operation(
    action: str, channel: str, messages: Sequence[str], description: str, *, group_id: str | None = None
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "description": description,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"} for message in messages],
    }
    if group_id is not None:
        operation["bindings"] = {
            "kafka": {
                "groupId": {"type": "string", "enum": [group_id]},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        }
    return operation


def _message(schema: type[EventData]) -> dict[str, Any]:
    producer = PRODUCER_BY_TOPIC[topic_for(schema.event_type)]
    return {
        "name": schema.event_type,
        "title": schema.__name__,
        "contentType": CONTENT_TYPE,
        "headers": _headers(event_type=schema.event_type, source=producer),
        "payload": {
            "allOf": [
                {"$ref": _SCHEMAS + Envelope.__name__},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": schema.event_type},
                        "source": {"const": producer},
                        "dataschema": {"const": schema.dataschema()},
                        "data": {"$ref": _SCHEMAS + schema.__name__},
                    },
                    "required": ["dataschema"],
                },
            ]
        },
        "correlationId": {
            "description": "W3C trace context: one trace follows a flow across services.",
            "location": "$message.header#/traceparent",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The envelope's subject (the aggregate id)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _dead_letter_message() -> dict[str, Any]:
    dlq_headers = {
        DLQ_ERROR: "Why it failed (at most 4,000 characters).",
        DLQ_ATTEMPTS: "How many times it was tried.",
        DLQ_CONSUMER: "The consumer (service) that gave up on it.",
        DLQ_ORIGINAL_TOPIC: "The topic it came from.",
        DLQ_ORIGINAL_PARTITION: "Its partition there.",
        DLQ_ORIGINAL_OFFSET: "Its offset there.",
    }
    headers = _headers(event_type=None, source=None)
    headers["properties"] |= {
        name: {"type": "string", "description": text} for name, text in dlq_headers.items()
    }
    # The original headers are kept as they were, if any: the record may not even be an event.
    headers["required"] = sorted(dlq_headers)
    return {
        "name": DEAD_LETTER,
        "title": "Dead letter",
        "summary": "A record a consumer could not apply: same key and value, original headers kept.",
        "headers": headers,
        "payload": {"description": "The original record's value, unchanged (usually an event envelope)."},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original record's key."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _headers(*, event_type: str | None, source: str | None) -> dict[str, Any]:
    """The Kafka headers the outbox writes beside every envelope (shared.outbox.writer)."""
    ce_type: dict[str, Any] = {"type": "string", "description": "The CloudEvents type."}
    ce_source: dict[str, Any] = {"type": "string", "description": "The publishing service."}
    if event_type is not None:
        ce_type["const"] = event_type
    if source is not None:
        ce_source["const"] = source
    return {
        "type": "object",
        "properties": {
            "content-type": {"type": "string", "const": CONTENT_TYPE},
            "ce_id": {"type": "string", "format": "uuid", "description": "The event id (the inbox's key)."},
            "ce_type": ce_type,
            "ce_source": ce_source,
            "traceparent": {"type": "string", "description": "W3C trace context, when the event has one."},
        },
        "required": ["ce_id", "ce_source", "ce_type", "content-type"],
    }


def _schemas(message_schemas: Sequence[type[EventData]]) -> dict[str, Any]:
    """The envelope's and every payload's JSON schema, nested models hoisted beside them."""
    models: list[type[Any]] = [Envelope, *message_schemas]
    by_model, top = models_json_schema(
        [(model, "validation") for model in models], ref_template=_SCHEMAS + "{model}"
    )
    found: dict[str, Any] = dict(top.get("$defs", {}))
    for (model, _), schema in by_model.items():
        if "$ref" not in schema:
            found[model.__name__] = schema
    return dict(sorted(found.items()))

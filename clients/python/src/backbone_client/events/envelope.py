"""The CloudEvents 1.0 envelope every platform event travels in, and the parser from a Kafka record.

A record's value is the whole event in structured mode (`content-type:
application/cloudevents+json`): `{specversion, id, type, source, time, subject, datacontenttype,
dataschema, traceparent, data}`. Its headers repeat `ce_id`, `ce_type`, `ce_source` (and
`traceparent`) so a consumer can route without parsing the value; the value is the authority and a
header that contradicts it makes the record malformed. The key is the event's `subject`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backbone_client.events.payloads import PAYLOADS, EventData

DataT = TypeVar("DataT", bound=EventData)
CONTENT_TYPE = "application/cloudevents+json"


class MalformedEvent(ValueError):
    """The record is no platform event the kit can read: it can never succeed (dead-letter it)."""


class UnknownEventType(LookupError):
    """A well-formed event of a type this version of the kit does not know (a newer platform):
    skip it, it is not for this consumer."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class Event(BaseModel, Generic[DataT]):
    """One platform event: the CloudEvents attributes and its typed payload.

    Annotate a handler's parameter with `Event[SubscriptionChanged]` (or a union of them for a
    topic carrying several types) to receive it typed.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID
    type: str = Field(min_length=1)
    source: str = Field(min_length=1)
    time: datetime
    subject: str = Field(min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    traceparent: str | None = None
    data: DataT


Headers = Mapping[str, str | bytes] | Iterable[tuple[str, bytes]]


def header_map(headers: Headers | None) -> dict[str, str]:
    """Record headers (aiokafka's list of pairs, or FastStream's mapping) as text."""
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {
        name: value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        for name, value in pairs
    }


def event_type_of(value: bytes | None, headers: Headers | None = None) -> str:
    """The record's event type: the `ce_type` header, else the envelope's `type` (a record
    written without headers). Raises MalformedEvent when neither is readable."""
    found = header_map(headers).get("ce_type") or _envelope(value).get("type")
    if not isinstance(found, str) or not found:
        raise MalformedEvent("the event names no type")
    return found


def parse_record(value: bytes | None, headers: Headers | None = None) -> Event[Any]:
    """A Kafka record (value + CloudEvents headers) as the typed event.

    Raises UnknownEventType for a type the kit does not know, MalformedEvent for anything else
    that is not a valid event of its type (bad JSON, missing attributes, a payload that fails its
    schema, a `ce_id`/`ce_type` header that contradicts the value).
    """
    raw = _envelope(value)
    event_type = raw.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEvent("the event names no type")
    model = PAYLOADS.get(event_type)
    if model is None:
        raise UnknownEventType(event_type)
    try:
        event: Event[Any] = Event[model].model_validate(raw)  # type: ignore[valid-type]
    except ValidationError as error:
        raise MalformedEvent(f"invalid {event_type}: {error}") from error
    named = header_map(headers)
    if named.get("ce_type", event_type) != event_type or named.get("ce_id", str(event.id)) != str(event.id):
        raise MalformedEvent("the ce_id/ce_type headers contradict the event")
    return event


def _envelope(value: bytes | None) -> dict[str, Any]:
    try:
        document = json.loads(value or b"")
    except ValueError as error:
        raise MalformedEvent(f"the value is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise MalformedEvent("the value is not a JSON object")
    return document

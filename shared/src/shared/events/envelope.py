"""The CloudEvents 1.0 envelope every event travels in (structured mode, JSON)."""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

DataT = TypeVar("DataT", bound="EventData")
# The media type of a structured-mode CloudEvent in JSON (the record's `content-type` header).
CONTENT_TYPE = "application/cloudevents+json"


class EventData(BaseModel):
    """A versioned payload schema; subclasses name their event `type` and schema `version`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    @classmethod
    def dataschema(cls) -> str:
        return f"urn:backbone:event:{cls.event_type}:v{cls.schema_version}"


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes plus the W3C `traceparent` distributed-tracing extension."""

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
    data: dict[str, Any]

    def payload(self, schema: builtins.type[DataT]) -> DataT:
        """Parse `data` with the schema registered for this event type."""
        return schema.model_validate(self.data)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


def new_envelope(*, source: str, subject: str, data: EventData, traceparent: str | None = None) -> Envelope:
    """Wrap a payload in a fresh envelope (new id, now)."""
    return Envelope(
        id=uuid.uuid4(),
        type=data.event_type,
        source=source,
        time=datetime.now(UTC),
        subject=subject,
        dataschema=data.dataschema(),
        traceparent=traceparent,
        data=data.model_dump(mode="json"),
    )

"""Tables every service has in its own database: the outbox and the inbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, LargeBinary, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp_column(*, nullable: bool = False, server_now: bool = True) -> Any:
    """A `timestamptz` column, by default NOT NULL DEFAULT now()."""
    return Column(
        DateTime(timezone=True),
        nullable=nullable,
        server_default=text("now()") if server_now else None,
    )


class OutboxMessage(SQLModel, table=True):
    """An event waiting to be (or already) published; written in the same transaction as its change."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unsent", "position", postgresql_where=text("sent_at IS NULL")),)

    position: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    event_id: uuid.UUID = Field(unique=True)
    event_type: str
    topic: str
    key: str
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict[str, str] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    sent_at: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True, server_now=False)
    )


class InboxEntry(SQLModel, table=True):
    """An event a consumer has applied; its key makes a second delivery a no-op."""

    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True)
    event_id: uuid.UUID = Field(primary_key=True)
    event_type: str
    processed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())

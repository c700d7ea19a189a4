"""Transactional outbox: events are rows written with the change, then relayed to Kafka."""

from shared.outbox.relay import OutboxRelay
from shared.outbox.writer import record_event

__all__ = ["OutboxRelay", "record_event"]

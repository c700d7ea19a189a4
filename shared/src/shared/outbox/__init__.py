"""Transactional outbox: events are rows written with the change, then relayed to Kafka."""

from shared.outbox.relay import OutboxRelay
from shared.outbox.writer import NewEvent, record_event, record_events

__all__ = ["NewEvent", "OutboxRelay", "record_event", "record_events"]

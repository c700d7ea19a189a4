"""Consuming events: the idempotent, retrying subscriber wrapper and its dead-letter queue."""

from shared.messaging.consumer import EventConsumer, EventHandler, PermanentError

__all__ = ["EventConsumer", "EventHandler", "PermanentError"]

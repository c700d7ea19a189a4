"""Events: the CloudEvents envelope, the topic map and the versioned payload schemas."""

from shared.events.envelope import Envelope, EventData, new_envelope
from shared.events.topics import ALL_TOPICS, dlq_topic, topic_for

__all__ = ["ALL_TOPICS", "Envelope", "EventData", "dlq_topic", "new_envelope", "topic_for"]

"""Count the Kafka client's produce retries as a metric.

aiokafka retries a produce that failed with a retriable error (the partition's leader moved, a
broker went away) inside its sender, and reports it only as a warning in its log. Under a
replicated cluster these retries are normal and must stay invisible to the outbox relay; an
operator still wants to see them. This handler turns those warnings into
`backbone_kafka_produce_retries_total` (docs/operations.md), once per process.
"""

from __future__ import annotations

import logging

from shared.metrics import PRODUCE_RETRIES

SENDER_LOGGER = "aiokafka.producer.sender"
# aiokafka's sender: a request that failed as a whole, or one partition's batch sent again.
_RETRY_MESSAGES = ("Got error produce response",)


class _ProduceRetryCounter(logging.Handler):
    def __init__(self, service: str) -> None:
        super().__init__(level=logging.WARNING)
        self.service = service
        self._retries = PRODUCE_RETRIES.labels(service)

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith(_RETRY_MESSAGES):
            self._retries.inc()


def count_produce_retries(service: str) -> None:
    """Count this process's produce retries under `service` (a second call for the same service
    changes nothing; a service process has one, a test process may host several)."""
    logger = logging.getLogger(SENDER_LOGGER)
    counters = [handler for handler in logger.handlers if isinstance(handler, _ProduceRetryCounter)]
    if not any(counter.service == service for counter in counters):
        logger.addHandler(_ProduceRetryCounter(service))
        if logger.getEffectiveLevel() > logging.WARNING:
            logger.setLevel(logging.WARNING)  # the warnings must be made to be counted

"""The Kafka client's produce retries become a metric (shared.messaging.produce_retries)."""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY

from shared.messaging.produce_retries import SENDER_LOGGER, count_produce_retries


def _retries(service: str) -> float:
    return REGISTRY.get_sample_value("backbone_kafka_produce_retries_total", {"service": service}) or 0.0


def test_the_senders_retry_warnings_are_counted_once_per_process() -> None:
    count_produce_retries("another-service")  # a test process may host several services' relays
    count_produce_retries("retry-test")
    count_produce_retries("retry-test")  # a second relay of the service adds no second count
    sender = logging.getLogger(SENDER_LOGGER)
    before = _retries("retry-test")

    # The two warnings aiokafka's sender writes when it sends a produce again (aiokafka 0.12).
    sender.warning("Got error produce response: %s", "NodeNotReadyError")
    sender.warning(
        "Got error produce response on topic-partition %s, retrying. Error: %s",
        "t-0",
        "NotLeaderForPartition",
    )
    sender.warning("Cannot send %r to %s: %r", "InitProducerIdRequest", 1, "timeout")  # not a produce

    assert _retries("retry-test") - before == 2
    assert (
        REGISTRY.get_sample_value("backbone_kafka_produce_retries_total", {"service": "retry-test"})
        is not None
    )

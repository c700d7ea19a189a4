"""How many partitions each topic gets: configuration, read by whoever creates the topics.

`KAFKA_TOPIC_PARTITIONS` sets every topic's count; `KAFKA_TOPIC_PARTITIONS_<TOPIC>` one topic's
(the name upper-cased, `.` and `-` as `_`: `KAFKA_TOPIC_PARTITIONS_WORKSPACE_ORGS=24`). A `.dlq`
topic takes its own variable if set (`…_WORKSPACE_ORGS_DLQ`), else its topic's count.

Defaults: 12 in the production profile and compose.yaml (work for up to 12 consumers of a group,
shared evenly by 1, 2, 3, 4, 6 or 12; docs/partitions.md); 3 in development and the test
platform, where nothing runs more than three replicas — a decision: what `make run`, the tests
and CI start stays exactly as it was (12 measured only tens of milliseconds slower here).

The count is fixed once a topic exists: `devstack.kafka.create_topics` refuses a live topic
whose count differs from this (docs/partitions.md, "Growing a live deployment").
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.events.topics import ALL_TOPICS

PARTITIONS_VARIABLE = "KAFKA_TOPIC_PARTITIONS"
DEVELOPMENT_PARTITIONS = 3
PRODUCTION_PARTITIONS = 12
DLQ_SUFFIX = ".dlq"
GROWTH_DOCS = "docs/partitions.md#growing-a-live-deployment"


def topic_variable(topic: str) -> str:
    """The variable that overrides one topic's count: `workspace.orgs` → `…_WORKSPACE_ORGS`."""
    return f"{PARTITIONS_VARIABLE}_{re.sub(r'[.-]', '_', topic).upper()}"


def _count(name: str, value: str) -> int:
    if not re.fullmatch(r"[1-9][0-9]*", value):  # as deploy/kafka/partitions.sh reads it
        raise ValueError(f"{name}={value!r}: expected a number of partitions, 1 or more")
    return int(value)


@dataclass(frozen=True)
class TopicPartitions:
    """The partition count of every topic: `default`, or a topic's entry in `overrides`."""

    default: int
    overrides: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for topic, count in {"every topic": self.default, **self.overrides}.items():
            if count < 1:
                raise ValueError(f"{topic}: {count} partitions (at least one)")

    def of(self, topic: str) -> int:
        if topic in self.overrides:
            return self.overrides[topic]
        if topic.endswith(DLQ_SUFFIX):
            return self.of(topic.removesuffix(DLQ_SUFFIX))
        return self.default

    @classmethod
    def from_env(
        cls, *, default: int, environ: Mapping[str, str] = os.environ, topics: tuple[str, ...] = ALL_TOPICS
    ) -> TopicPartitions:
        """`KAFKA_TOPIC_PARTITIONS` (else `default`) and the overrides of `topics` and their
        `.dlq`s; a value that is not a positive number is refused, not guessed."""
        value = environ.get(PARTITIONS_VARIABLE)
        overrides: dict[str, int] = {}
        for topic in (*topics, *(f"{topic}{DLQ_SUFFIX}" for topic in topics)):
            variable = topic_variable(topic)
            if environ.get(variable):
                overrides[topic] = _count(variable, environ[variable])
        return cls(default=_count(PARTITIONS_VARIABLE, value) if value else default, overrides=overrides)


DEVELOPMENT = TopicPartitions(default=DEVELOPMENT_PARTITIONS)


def development_partitions(environ: Mapping[str, str] = os.environ) -> TopicPartitions:
    """What `make run` creates: 3 per topic unless the shell says otherwise."""
    return TopicPartitions.from_env(default=DEVELOPMENT_PARTITIONS, environ=environ)


def production_partitions(environ: Mapping[str, str] = os.environ) -> TopicPartitions:
    """What the production profile creates: 12 per topic unless the shell says otherwise."""
    return TopicPartitions.from_env(default=PRODUCTION_PARTITIONS, environ=environ)


class PartitionCountMismatch(RuntimeError):
    """A live topic has another partition count than the configured one: never altered, never
    accepted. `found`: topic → (partitions it has, partitions configured)."""

    def __init__(self, found: Mapping[str, tuple[int, int]]) -> None:
        self.found = dict(found)
        lines = [
            f"Kafka topic {topic} has {live} partitions, the configuration says {configured} "
            f"({PARTITIONS_VARIABLE} or {topic_variable(topic)}); "
            + (
                "Kafka cannot take partitions away"
                if live > configured
                else "adding partitions would move keys to other partitions and break per-key order"
            )
            for topic, (live, configured) in sorted(self.found.items())
        ]
        keep = " ".join(f"{topic_variable(topic)}={live}" for topic, (live, _) in sorted(self.found.items()))
        super().__init__(
            "refused: the platform never changes a live topic's partition count.\n  "
            + "\n  ".join(lines)
            + f"\nKeep what the topics have ({keep}), or grow through a new topic generation: {GROWTH_DOCS}"
        )

"""`devstack trace <id>`: one user's, org's, invitation's or Skool member's timeline across the
five services, and where it stopped.

How it finds things (docs/operations.md, "Timeline"):
1. Every service's `GET /v1/ops/timeline?q=<id>` (service key): the events its outbox holds about
   the id, its webhook deliveries naming it, and related ids (an email's user id, a user's
   personal org, a slug's invitation and org...). The related ids are looked up too, up to two
   hops from the id (`HOPS`, `MAX_RELATED`).
2. Every service's `GET /v1/ops/subscriptions`: which consumer group handles which event types.
3. Kafka: each group's committed offsets and each partition's end (lag), and the `.dlq` topics.
4. Every service's `POST /v1/ops/consumptions`: which of the events its inbox has applied.
Kafka is read before the inboxes, so an event consumed in between shows as consumed, never as
"missing with no lag".
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from devstack.groups import committed_offsets
from devstack.kafka import end_offsets
from shared.events.topics import ALL_TOPICS
from shared.http.operator import MAX_EVENT_IDS
from shared.messaging.kafka_connection import KafkaTarget
from shared.messaging.replay import DeadLetter, list_dead_letters
from shared.telemetry import trace_id_of

# Related ids are followed this many hops (an email -> its user id -> the user's personal org),
# at most MAX_RELATED of them. Only one user's, org's or invitation's own other names are related
# ids (never a team org's members), so the search stays about one subject.
HOPS = 2
MAX_RELATED = 20
# Lines at the same instant (one transaction's now()): what was received or consumed comes before
# what that transaction published.
_RANK = {"webhook": 0, "consumed": 1, "dead-lettered": 1, "published": 2, "waiting": 2, "missing": 3}


@dataclass(frozen=True)
class Line:
    """One line of the timeline."""

    at: datetime
    service: str
    what: str
    event_type: str = ""
    event_id: str = ""
    trace_id: str = ""
    kind: str = ""  # webhook, published, waiting, consumed, missing, dead-lettered


@dataclass
class Trace:
    query: str
    searched: list[str]
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # services that did not answer, truncations
    unreachable: list[str] = field(default_factory=list)  # services that did not answer

    @property
    def found(self) -> bool:
        return bool(self.lines)

    @property
    def complete(self) -> bool:
        """Every service answered (the command's exit status is 0 only then)."""
        return not self.unreachable


@dataclass(frozen=True)
class _Event:
    """An event some outbox holds about the id."""

    service: str
    event_id: str
    event_type: str
    topic: str
    subject: str
    created_at: datetime
    published_at: datetime | None
    trace_id: str


@dataclass(frozen=True)
class _Group:
    service: str
    group: str
    consumer: str
    # (topic, event type); None when the service did not answer (then its committed offsets say
    # which topics it reads, not which types it handles).
    handles: frozenset[tuple[str, str]] | None


@dataclass(frozen=True)
class _KafkaView:
    lags: dict[tuple[str, TopicPartition], int]  # (group, partition) -> records not yet committed
    partitions: dict[str, list[int]]  # topic -> its partitions
    group_topics: dict[str, set[str]]  # group -> the topics it has committed offsets on
    letters: list[DeadLetter]


class _Operator:
    """The operator endpoints of the services; a service that does not answer is noted, not fatal."""

    def __init__(
        self, client: httpx.AsyncClient, urls: Mapping[str, str], notes: list[str], down: list[str]
    ) -> None:
        self._client = client
        self._urls = urls
        self._notes = notes
        self.down = down

    async def ask(self, service: str, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        if service in self.down:
            return None
        try:
            response = await self._client.request(method, f"{self._urls[service]}{path}", **kwargs)
            response.raise_for_status()
        except httpx.HTTPError as error:
            self.down.append(service)
            self._notes.append(f"{service} did not answer ({type(error).__name__}: {error})")
            return None
        answer: dict[str, Any] = response.json()
        return answer

    async def every(self, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        answers = await asyncio.gather(*(self.ask(name, method, path, **kwargs) for name in self._urls))
        return [answer for answer in answers if answer is not None]


async def collect_trace(
    query: str,
    *,
    urls: Mapping[str, str],
    operator_key: str,
    kafka: KafkaTarget,
    now: datetime | None = None,
) -> Trace:
    """Ask every service and Kafka about `query`; the lines come back in time order."""
    trace = Trace(query=query, searched=[query])
    headers = {"X-Service-Key": operator_key}
    async with httpx.AsyncClient(headers=headers, timeout=10) as client:
        operator = _Operator(client, urls, trace.notes, trace.unreachable)
        timelines = await _timelines(operator, [query])
        for _ in range(HOPS):
            related = _related(timelines, exclude=set(trace.searched))
            related = related[: max(0, MAX_RELATED + 1 - len(trace.searched))]
            if not related:
                break
            timelines += await _timelines(operator, related)
            trace.searched += related
        groups = [_group(answer) for answer in await operator.every("GET", "/v1/ops/subscriptions")]
        # A service that is down still has a consumer group (named after it) and offsets.
        answered = {group.service for group in groups}
        groups += [_Group(name, name, name, None) for name in urls if name not in answered]
        events, webhooks = _entries(timelines, trace.notes)
        topics = sorted({event.topic for event in events})
        seen = await _kafka(kafka, groups, topics)
        event_ids = [event.event_id for event in events]
        consumed = await _consumptions(operator, event_ids) if event_ids else {}
    now = now or datetime.now(UTC)
    ids = {*trace.searched, *event_ids}
    letters = [letter for letter in seen.letters if letter.key in ids or letter.event_id in ids]
    trace.lines = sorted(
        [
            *webhooks,
            *_event_lines(events, now),
            *_consumed_lines(events, consumed),
            *_dead_letter_lines(letters, now),
            *_missing_lines(events, groups, consumed, letters, seen, operator.down, now),
        ],
        key=lambda line: (line.at, _RANK[line.kind]),
    )
    return trace


async def _timelines(operator: _Operator, ids: Iterable[str]) -> list[dict[str, Any]]:
    rounds = await asyncio.gather(
        *(operator.every("GET", "/v1/ops/timeline", params={"q": value}) for value in ids)
    )
    return [answer for answers in rounds for answer in answers]


def _related(timelines: Sequence[dict[str, Any]], *, exclude: set[str]) -> list[str]:
    found = {value for answer in timelines for value in answer["related"]}
    return sorted(found - exclude)


def _group(answer: dict[str, Any]) -> _Group:
    handles = frozenset(
        (subscription["topic"], event_type)
        for subscription in answer["subscriptions"]
        for event_type in subscription["event_types"]
    )
    return _Group(answer["service"], answer["group"], answer["consumer"], handles)


def _entries(timelines: Sequence[dict[str, Any]], notes: list[str]) -> tuple[list[_Event], list[Line]]:
    """The events (once each, though several ids found them) and the webhook deliveries."""
    events: dict[str, _Event] = {}
    webhooks: dict[tuple[str, str, str], Line] = {}
    for answer in timelines:
        if answer["truncated"]:
            notes.append(f"{answer['service']}: more than a page about {answer['query']}; some left out")
        for entry in answer["entries"]:
            at = datetime.fromisoformat(entry["at"])
            if entry["kind"] == "event":
                published = entry["published_at"]
                events[entry["event_id"]] = _Event(
                    service=entry["service"],
                    event_id=entry["event_id"],
                    event_type=entry["event_type"],
                    topic=entry["topic"],
                    subject=entry["subject"],
                    created_at=at,
                    published_at=datetime.fromisoformat(published) if published else None,
                    trace_id=entry["trace_id"] or "",
                )
            else:
                line = Line(
                    at=at,
                    service=entry["service"],
                    what=entry["summary"],
                    event_type=entry["event_type"] or "",
                    trace_id=entry["trace_id"] or "",
                    kind="webhook",
                )
                webhooks[(line.service, line.what, entry["at"])] = line
    return list(events.values()), list(webhooks.values())


async def _kafka(kafka: KafkaTarget, groups: Sequence[_Group], topics: Sequence[str]) -> _KafkaView:
    """Each group's lag on each partition of `topics`, and every dead letter of every topic."""
    found = await asyncio.gather(*(list_dead_letters(kafka=kafka, topic=t) for t in ALL_TOPICS))
    letters = [letter for letters in found for letter in letters]
    if not topics:
        return _KafkaView({}, {}, {}, letters)
    ends = await end_offsets(kafka, list(topics))
    committed = await asyncio.gather(*(committed_offsets(kafka, group.group) for group in groups))
    lags = {
        (group.group, tp): end - max(offsets.get(tp, 0), 0)
        for group, offsets in zip(groups, committed, strict=True)
        for tp, end in ends.items()
    }
    partitions: dict[str, list[int]] = {}
    for tp in ends:
        partitions.setdefault(tp.topic, []).append(tp.partition)
    group_topics = {
        group.group: {tp.topic for tp in offsets} for group, offsets in zip(groups, committed, strict=True)
    }
    return _KafkaView(lags, {t: sorted(numbers) for t, numbers in partitions.items()}, group_topics, letters)


async def _consumptions(operator: _Operator, event_ids: list[str]) -> dict[tuple[str, str], datetime]:
    """(consumer, event id) -> when it was applied, from every service's inbox."""
    chunks = [event_ids[start : start + MAX_EVENT_IDS] for start in range(0, len(event_ids), MAX_EVENT_IDS)]
    rounds = await asyncio.gather(
        *(operator.every("POST", "/v1/ops/consumptions", json={"event_ids": chunk}) for chunk in chunks)
    )
    answers = [answer for answers in rounds for answer in answers]
    return {
        (row["consumer"], row["event_id"]): datetime.fromisoformat(row["processed_at"])
        for answer in answers
        for row in answer["consumptions"]
    }


def partition_of(key: str, partitions: list[int]) -> int:
    """The partition Kafka's default partitioner gives a keyed record (murmur2 of the key)."""
    partition: int = DefaultPartitioner()(key.encode(), partitions, partitions)
    return partition


def _event_lines(events: Sequence[_Event], now: datetime) -> list[Line]:
    lines = []
    for event in events:
        if event.published_at is None:
            waited = (now - event.created_at).total_seconds()
            what, kind = f"waiting {waited:.0f}s in the outbox (not on {event.topic} yet)", "waiting"
        else:
            took = (event.published_at - event.created_at).total_seconds() * 1000
            what, kind = f"published on {event.topic} after {took:.0f} ms", "published"
        lines.append(
            Line(
                event.created_at, event.service, what, event.event_type, event.event_id, event.trace_id, kind
            )
        )
    return lines


def _consumed_lines(events: Sequence[_Event], consumed: Mapping[tuple[str, str], datetime]) -> list[Line]:
    by_id = {event.event_id: event for event in events}
    return [
        Line(
            at,
            consumer,
            f"consumed by {consumer}",
            by_id[event_id].event_type,
            event_id,
            by_id[event_id].trace_id,
            "consumed",
        )
        for (consumer, event_id), at in consumed.items()
        if event_id in by_id
    ]


def _dead_letter_lines(letters: Sequence[DeadLetter], now: datetime) -> list[Line]:
    return [
        Line(
            now - timedelta(seconds=letter.age_seconds),
            letter.consumer or "?",
            f"dead-lettered by {letter.consumer or '?'} after {letter.attempts} attempt(s)"
            f"{' (replayed since)' if letter.replayed else ''}: {letter.error}",
            letter.event_type,
            letter.event_id,
            trace_id_of(letter.traceparent) or "",
            "dead-lettered",
        )
        for letter in letters
    ]


def _missing_lines(
    events: Sequence[_Event],
    groups: Sequence[_Group],
    consumed: Mapping[tuple[str, str], datetime],
    letters: Sequence[DeadLetter],
    kafka: _KafkaView,
    down: Sequence[str],
    now: datetime,
) -> list[Line]:
    """A published event that a group handling its type has neither applied nor dead-lettered.

    For a service that did not answer, neither its inbox nor its types are known: an event on a
    topic its group reads is reported when the group lags on the event's partition."""
    dead = {(letter.consumer, letter.event_id) for letter in letters}
    lines = []
    for event in events:
        if event.published_at is None or not kafka.partitions.get(event.topic):
            continue
        tp = TopicPartition(event.topic, partition_of(event.subject, kafka.partitions[event.topic]))
        for group in groups:
            lag = kafka.lags.get((group.group, tp), 0)
            if group.handles is None:
                if event.topic not in kafka.group_topics.get(group.group, set()) or lag == 0:
                    continue
            elif (event.topic, event.event_type) not in group.handles:
                continue
            if (group.consumer, event.event_id) in consumed or (group.consumer, event.event_id) in dead:
                continue
            where = f"lag {lag} on {tp.topic}[{tp.partition}]"
            if group.service in down:
                where += f"; {group.service} did not answer: its group reads {tp.topic}, its types unknown"
            elif lag == 0:
                where += ": the group is past it, yet its inbox has no row (pruned?)"
            lines.append(
                Line(
                    now,
                    group.service,
                    f"NOT consumed by {group.consumer} ({where})",
                    event.event_type,
                    event.event_id,
                    event.trace_id,
                    "missing",
                )
            )
    return lines


def render(trace: Trace) -> str:
    """One line per entry: time, service, what, event type, event id, trace id."""
    if not trace.found:
        where = "" if trace.complete else " in the services that answered"
        lines = [f"nothing found for {trace.query}{where}"]
    else:
        lines = [f"timeline of {trace.query} (also searched: {', '.join(trace.searched[1:]) or '-'})"]
        for line in trace.lines:
            at = line.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            lines.append(
                f"{at}  {line.service:<12}  {line.what:<60}  {line.event_type or '-':<24}  "
                f"{line.event_id or '-':<36}  trace {line.trace_id or '-'}"
            )
    lines += [f"note: {note}" for note in trace.notes]
    return "\n".join(lines)


def as_json(trace: Trace) -> str:
    """The trace for scripts and tests (`devstack trace --json`)."""
    lines = [{**asdict(line), "at": line.at.isoformat()} for line in trace.lines]
    return json.dumps(
        {
            "query": trace.query,
            "found": trace.found,
            "searched": trace.searched,
            "lines": lines,
            "notes": trace.notes,
            "unreachable": trace.unreachable,
        },
        indent=2,
    )

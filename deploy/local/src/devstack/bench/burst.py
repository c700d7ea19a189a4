"""End-to-end burst: thousands of signups at once, timed until every one has complete claims."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from devstack.bench.client import (
    ClaimsPoller,
    Endpoints,
    Signup,
    http_session,
    post_signup,
    presign,
    refusals,
    wait_complete,
)
from devstack.bench.report import Figure, Target, ms, percentile

SAMPLE_EVERY = 50  # plus the last signup of each sender
READS_PER_SECOND = 100  # the sample is polled one request at a time, at most this often
# Issue 17's targets (DESIGN.md §9): end-to-end signups/s and webhooks answered 2xx per second.
THROUGHPUT_TARGET = Target("≥", 400)
INGEST_TARGET = Target("≥", 1000)


async def send_lane(session: aiohttp.ClientSession, target: Endpoints, lane: list[Signup]) -> None:
    """One sender: its signups one after another, each as soon as the previous is answered."""
    for signup in lane:
        await post_signup(session, target, signup)


def burst_sample(lanes: list[list[Signup]], signups: list[Signup]) -> list[Signup]:
    """Every 50th signup plus the last one each sender posts, in posting order."""
    chosen = {id(s): s for s in signups[SAMPLE_EVERY - 1 :: SAMPLE_EVERY]}
    chosen.update({id(lane[-1]): lane[-1] for lane in lanes if lane})
    order = {id(s): index for index, s in enumerate(signups)}
    return sorted(chosen.values(), key=lambda s: order[id(s)])


@dataclass
class SampleWatch:
    """When the last sampled signup was seen complete, and how many never were."""

    last_complete: float | None = None
    incomplete: int = 0


async def watch_sample(poller: ClaimsPoller, sample: list[Signup], *, deadline: float) -> SampleWatch:
    """Poll the sampled users' claims, oldest first, one request at a time, until all are complete."""
    watch = SampleWatch()
    pending = list(sample)
    give_up = time.perf_counter() + deadline
    while pending and time.perf_counter() < give_up:
        ready = [s for s in pending if s.answered.is_set()]
        if not ready:
            await asyncio.sleep(1 / READS_PER_SECOND)
            continue
        for signup in ready:
            if signup.accepted:
                if not await poller.complete(signup.user_id):
                    continue
                watch.last_complete = time.perf_counter()
            pending.remove(signup)  # complete, or refused (it will never complete)
    watch.incomplete = len(pending)
    return watch


async def run_burst(
    target: Endpoints, *, size: int, senders: int, deadline: float, seed_tps: float | None
) -> list[Figure]:
    signups = presign(size)
    lanes = [signups[i::senders] for i in range(senders)]
    sample = burst_sample(lanes, signups)
    async with http_session(senders) as posting, http_session(1) as polling:
        poller = ClaimsPoller(polling, target, per_second=READS_PER_SECOND)
        started = time.perf_counter()
        watching = asyncio.create_task(watch_sample(poller, sample, deadline=deadline))
        await asyncio.gather(*(send_lane(posting, target, lane) for lane in lanes))
        watch = await watching
    ids = [s.user_id for s in signups if s.accepted]
    complete, _ = await wait_complete(target, ids, deadline=0)  # one count
    end = watch.last_complete
    how_end_seen = (
        f"last of {len(sample)} sampled users seen complete ({poller.reads} claims reads, "
        f"{poller.failures} failed)"
    )
    if watch.incomplete or complete < len(ids):
        why = (
            f"{watch.incomplete} of {len(sample)} sampled users not complete within {deadline:.0f} s"
            if watch.incomplete
            else f"sample complete but only {complete:,} of {len(ids):,} by SQL"
        )
        print(f"[bench] !!! burst: {why}; counting by SQL for up to {deadline:.0f} s more", flush=True)
        complete, end = await wait_complete(target, ids, deadline=deadline)
        how_end_seen = f"{why}, so the end is the SQL count's (every 0.5 s)"
    return [
        _throughput_figure(size, senders, started, end, complete, len(ids), how_end_seen, seed_tps),
        _ingest_figure(signups, senders, started),
    ]


def _throughput_figure(
    size: int,
    senders: int,
    started: float,
    end: float | None,
    complete: int,
    accepted: int,
    seen: str,
    seed_tps: float | None,
) -> Figure:
    name = "end-to-end signups/s (burst)"
    target = THROUGHPUT_TARGET
    aim = "" if seed_tps is None else f"the aim is {seed_tps / 2:,.0f}/s (half the seed design's); "
    conditions = f"{aim}{size:,} pre-signed user.created posted by {senders} senders; first POST → {seen}"
    if end is None or complete < accepted:
        note = f"NOT ALL COMPLETE: {complete:,} of {accepted:,} accepted signups have complete claims"
        return Figure(name, None, "/s", f"{note}; {conditions}", target)
    elapsed = end - started
    return Figure(
        name,
        accepted / elapsed,
        "/s",
        f"{conditions}; all {complete:,} of {accepted:,} accepted complete (SQL count) in {elapsed:.1f} s",
        target,
    )


def _ingest_figure(signups: list[Signup], senders: int, started: float) -> Figure:
    accepted = [s for s in signups if s.accepted]
    answered = [s.answered_at for s in accepted if s.answered_at is not None]
    if not answered:
        return Figure("webhook ingest/s (2xx)", None, "/s", "no webhook answered 2xx", INGEST_TARGET)
    waits = [ms(took) for s in accepted if (took := s.answer_seconds) is not None]
    elapsed = max(answered) - started
    return Figure(
        "webhook ingest/s (2xx)",
        len(accepted) / elapsed,
        "/s",
        f"during the burst: {len(accepted):,} answered 2xx in {elapsed:.1f} s by {senders} senders while "
        f"the pipeline runs; {refusals(signups)}; answer p50 {percentile(waits, 50):.0f} ms, "
        f"p99 {percentile(waits, 99):.0f} ms",
        INGEST_TARGET,
    )

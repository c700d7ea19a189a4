"""Steady rates: signups sent on a fixed schedule, webhook → complete claims measured on a sample."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

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

TARGETS = {50: {50: Target("≤", 30), 99: Target("≤", 100)}, 200: {99: Target("≤", 250)}}


def sample_every(rate: int) -> int:
    """Every 5th signup at 50/s, every 10th at 200/s: about 10-20 polled users a second."""
    return 5 if rate <= 50 else 10


def poll_interval(waited: float) -> float:
    """Every 5 ms while a healthy answer is due, then a tenth of the time waited (≤ 1 s): the
    latency is known within about 10 % and a backlog is not swamped with reads."""
    return min(1.0, max(0.005, waited / 10))


def reads_per_second(rate: int) -> int:
    """The cap on claims reads in all: twice the signup rate (healthy runs stay well below it)."""
    return 2 * rate


@dataclass
class SteadyRun:
    rate: int
    latencies: list[float] = field(default_factory=list)  # seconds, scheduled send → complete
    never_complete: int = 0
    send_lags: list[float] = field(default_factory=list)  # actual send - scheduled send


async def follow(poller: ClaimsPoller, signup: Signup, due: float, run: SteadyRun, deadline: float) -> None:
    """Poll one sampled user's claims until they are complete; record the latency from `due`."""
    while True:
        if await poller.complete(signup.user_id):
            run.latencies.append(time.perf_counter() - due)
            return
        waited = time.perf_counter() - due
        if waited > deadline:
            run.never_complete += 1
            return
        await asyncio.sleep(poll_interval(waited))


async def send_one(
    posting: aiohttp.ClientSession,
    poller: ClaimsPoller,
    signup: Signup,
    due: float,
    sampled: bool,
    run: SteadyRun,
    deadline: float,
) -> None:
    run.send_lags.append(time.perf_counter() - due)
    await post_signup(posting, poller.target, signup)
    if sampled and signup.accepted:
        await follow(poller, signup, due, run, deadline)


async def run_steady(target: Endpoints, *, rate: int, seconds: float, deadline: float) -> list[Figure]:
    """Open loop: signup i is sent at start + i/rate whether or not earlier ones were answered."""
    signups = presign(round(rate * seconds))
    every = sample_every(rate)
    run = SteadyRun(rate)
    async with http_session(512) as posting, http_session(128) as polling:
        poller = ClaimsPoller(polling, target, per_second=reads_per_second(rate))
        start = time.perf_counter() + 0.05
        tasks = []
        for index, signup in enumerate(signups):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sampled = index % every == 0
            tasks.append(asyncio.create_task(send_one(posting, poller, signup, due, sampled, run, deadline)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    accepted = [s.user_id for s in signups if s.accepted]
    complete, _ = await wait_complete(target, accepted, deadline=deadline)  # drain before what follows
    return _figures(run, poller, signups, every, seconds, elapsed, complete, len(accepted))


def _figures(
    run: SteadyRun,
    poller: ClaimsPoller,
    signups: list[Signup],
    every: int,
    seconds: float,
    elapsed: float,
    complete: int,
    accepted: int,
) -> list[Figure]:
    answers = [ms(took) for s in signups if (took := s.answer_seconds) is not None]
    refused = len(signups) - accepted
    problems = []
    if run.never_complete:
        problems.append(f"!!! {run.never_complete} sampled users not complete within the deadline")
    if refused:
        problems.append(f"!!! {refusals(signups)}")
    if complete < accepted:
        problems.append(f"!!! only {complete:,} of {accepted:,} complete after draining")
    conditions = "; ".join(
        [
            *problems,
            f"{len(signups):,} signups sent at {run.rate}/s on a fixed schedule for {seconds:g} s "
            f"(open loop; send lag p99 {ms(percentile(run.send_lags, 99)):.1f} ms)",
            f"from scheduled send to complete claims seen, 1 in {every} sampled "
            f"({len(run.latencies)} users) polled every 5 ms, after 50 ms every tenth of the time "
            f"waited: {poller.reads / elapsed:.0f} claims reads/s (cap {poller.per_second:.0f}/s, "
            f"{poller.failures} failed)",
            f"webhook answered p99 {percentile(answers, 99):.0f} ms" if answers else "no answers",
        ]
    )
    if not run.latencies:
        return [Figure(f"webhook → claims @ {run.rate}/s", None, "ms", conditions)]
    values = [ms(latency) for latency in run.latencies]
    targets = TARGETS.get(run.rate, {})
    return [
        Figure(
            f"webhook → claims p50 @ {run.rate}/s", percentile(values, 50), "ms", conditions, targets.get(50)
        ),
        Figure(
            f"webhook → claims p99 @ {run.rate}/s",
            percentile(values, 99),
            "ms",
            f"max {max(values):.0f} ms; as above",
            targets.get(99),
        ),
    ]

"""Quota consumes while a signup burst runs (issue 17, item 3): both at once, both reported.

The quota API must answer in single-digit milliseconds whatever else the platform is doing, and a
burst is the worst of what it does: every service's consumers, relays and PostgreSQL busy on two
cores, billing among them (a burst sends it thousands of `org.created` and `user.created`). So the
consumes start with the burst's first webhook and go on, on their fixed schedule, until the
burst's last signup is complete (its claims readable): they span ingest and the pipeline's drain.

The consumes are sent from a process of their own, as a product backend would call: in the
burst's process they would wait behind its 32 senders on one event loop, and the client's own
queueing would be measured as the quota API's. The burst's figures get names of their own, so the
burst alone (and its CPU per signup, a burst without quota traffic) stays comparable with
earlier runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import time
from collections import Counter
from multiprocessing.synchronize import Event

from devstack.bench.burst import run_burst
from devstack.bench.client import Endpoints, http_session
from devstack.bench.quota import TARGET, paced_consumes, quota_figure, ready_orgs
from devstack.bench.report import Figure

NAME = "quota consume p99 during a burst"
BURST_PREFIX = "with quotas: "  # the burst's figures while the consumes ran
Measured = tuple[list[float], Counter[int]]


def with_quotas(figures: list[Figure]) -> list[Figure]:
    """The burst's figures renamed, so they never stand in for the burst alone's."""
    return [dataclasses.replace(figure, name=BURST_PREFIX + figure.name) for figure in figures]


def consume_until_stopped(
    target: Endpoints,
    orgs: list[str],
    rate: int,
    started: Event,
    stop: Event,
    results: multiprocessing.Queue[Measured],
) -> None:
    """The quota client's process: consumes at `rate` from `started` until `stop`, then its results."""

    async def load() -> Measured:
        async with http_session(256) as session:
            started.set()
            return await paced_consumes(session, target, orgs, rate=rate, until=stop.is_set)

    results.put(asyncio.run(load()))


async def run_quota_during_burst(
    target: Endpoints, *, rate: int, size: int, senders: int, deadline: float
) -> list[Figure]:
    """A burst of `size` signups and `rate` consumes/s beside it, from its first webhook to its end."""
    async with http_session(1) as session:
        orgs, why_not = await ready_orgs(session, target)
    if why_not is not None:
        return [Figure(NAME, None, "ms", why_not, TARGET)]
    context = multiprocessing.get_context("spawn")  # no copy of this process's event loop
    started, stop, results = context.Event(), context.Event(), context.Queue()
    client = context.Process(
        target=consume_until_stopped, args=(target, orgs, rate, started, stop, results), daemon=True
    )
    client.start()
    try:
        if not await asyncio.to_thread(started.wait, 60):
            raise RuntimeError("the quota client process did not start within 60 s")
        began = time.perf_counter()
        try:
            burst = await run_burst(target, size=size, senders=senders, deadline=deadline, seed_tps=None)
        finally:
            stop.set()
            lasted = time.perf_counter() - began
        durations, statuses = await asyncio.to_thread(results.get, True, deadline)
    finally:
        stop.set()
        await asyncio.to_thread(client.join, 30)
        if client.is_alive():
            client.kill()
    how_long = (
        f"for the whole {lasted:.1f} s of a {size:,}-signup burst (first webhook → all complete), "
        "from a client process of its own"
    )
    quota = quota_figure(NAME, durations, statuses, rate=rate, orgs=len(orgs), how_long=how_long)
    return [quota, *with_quotas(burst)]

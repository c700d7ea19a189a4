"""Property (Hypothesis): any order of one Stripe subscription's events, with duplicates, ends in
the state of the newest — through the real webhook endpoint, database and billing service.

The exhaustive test in test_billing_stripe.py covers every order of each prefix of a
subscription's life with one duplicate; this one samples orders of the whole life with up to
three duplicates anywhere.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.stripe_webhooks import post_stripe

from .test_billing_stripe import NEWEST_STATE, _lifecycle, billing_row, personal_org

EVENTS = len(NEWEST_STATE)


@st.composite
def deliveries(draw: st.DrawFn) -> list[int]:
    """Indexes of the life's events in some order, some of them delivered again somewhere."""
    order = draw(st.permutations(range(EVENTS)))
    sequence = list(order)
    for again in draw(st.lists(st.sampled_from(range(EVENTS)), max_size=3)):
        sequence.insert(draw(st.integers(0, len(sequence))), again)
    return sequence


async def _deliver(services: Fleet, platform: Platform, sequence: list[int]) -> tuple[str, str, bool]:
    _, org_id, _ = await personal_org(services)
    events = _lifecycle(org_id, f"sub_{uuid.uuid4().hex[:14]}", int(time.time()) - 100)
    for index in sequence:
        assert (await post_stripe(services, events[index])).status_code == 200
    row = await billing_row(platform, org_id)
    return row["plan"], row["status"], row["cancel_at_period_end"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=deliveries())
def test_any_order_with_duplicates_ends_in_the_newest_state(
    services: Fleet, platform: Platform, sequence: list[int]
) -> None:
    assert asyncio.run(_deliver(services, platform, sequence)) == NEWEST_STATE[EVENTS - 1], sequence

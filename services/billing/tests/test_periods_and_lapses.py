"""Calendar months (UTC) for the session meter, and when a subscription lapses to its free plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from billing.models import Subscription
from billing.service.lapses import PAST_DUE, PERIOD_END, due_lapse, lapse_outcome
from billing.service.meters import MeterAnswer, month_of, next_month

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
GRACE = timedelta(days=7)


def subscription(**changes: object) -> Subscription:
    values: dict[str, object] = {
        "org_id": "org",
        "plan": "individual_pro",
        "status": "active",
        "version": 3,
        "is_personal": True,
        "stripe_subscription_id": "sub_1",
    }
    return Subscription.model_validate(values | changes)


@pytest.mark.parametrize(
    "moment,month,resets_at",
    [
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), date(2026, 12, 1), datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), date(2027, 1, 1), datetime(2027, 2, 1, tzinfo=UTC)),
        # 23:30 on 31 January in New York is already February in UTC.
        (
            datetime(2027, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
            date(2027, 2, 1),
            datetime(2027, 3, 1, tzinfo=UTC),
        ),
    ],
)
def test_sessions_count_per_calendar_month_in_utc(moment: datetime, month: date, resets_at: datetime) -> None:
    assert month_of(moment) == month
    assert next_month(month) == resets_at


def test_unlimited_answers_have_no_remaining() -> None:
    assert MeterAnswer(accepted=True, used=7, limit=None, period=date(2026, 12, 1)).remaining is None
    assert MeterAnswer(accepted=False, used=12, limit=10, period=date(2026, 12, 1)).remaining == 0


def test_past_due_keeps_the_plan_during_the_grace_then_lapses() -> None:
    failing = subscription(status="past_due", past_due_since=NOW - timedelta(days=6))
    assert due_lapse(failing) == (PAST_DUE, NOW - timedelta(days=6))
    assert lapse_outcome(failing, grace=GRACE, now=NOW) is None
    assert lapse_outcome(failing, grace=GRACE, now=NOW + timedelta(days=1)) == ("past_due", False)


def test_a_trial_without_a_stripe_subscription_lapses_at_its_end() -> None:
    trial = subscription(
        plan="starter",
        is_personal=False,
        status="trialing",
        stripe_subscription_id=None,
        current_period_end=NOW,
    )
    assert due_lapse(trial) == (PERIOD_END, NOW)
    assert lapse_outcome(trial, grace=GRACE, now=NOW - timedelta(seconds=1)) is None
    assert lapse_outcome(trial, grace=GRACE, now=NOW) == ("active", True)
    paid_trial = subscription(plan="starter", is_personal=False, status="trialing", current_period_end=NOW)
    assert due_lapse(paid_trial) is None  # Stripe ends a paid trial itself


def test_a_cancelled_period_lapses_at_its_end_and_free_plans_never_lapse() -> None:
    cancelling = subscription(cancel_at_period_end=True, current_period_end=NOW)
    assert lapse_outcome(cancelling, grace=GRACE, now=NOW) == ("canceled", True)
    assert due_lapse(subscription()) is None
    assert due_lapse(subscription(plan="individual_free", status="past_due", past_due_since=NOW)) is None

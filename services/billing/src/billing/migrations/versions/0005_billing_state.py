"""billing: subscription state from Stripe, usage meters, members, Stripe deliveries.

- `subscriptions` gains the period, the Stripe ids and order, past-due time and Skool order.
- `plan_limits`: the catalog's limits per plan (written from plans.yaml at every start), so the
  quota statement finds an org's limit with one join and no copy on the subscription row.
- `usage_counters` (one row per org, meter and period) and `meter_uses` (one row per
  idempotency key, with the answer given) hold the meters; both are tenant tables under RLS.
- `members`: billing's projection of memberships (seats, and admin checks for checkout).
- `stripe_events`: every verified Stripe delivery, unique by event id (a delivery log, no tenant).
- `lapse_schedule`: when an org's subscription is due for the lapse job (no tenant).
- `stripe_links`: which org a Stripe customer or subscription belongs to (routing, no tenant).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.tenancy import isolate_by_tenant, stop_isolating

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NOW = sa.text("now()")
TENANT_TABLES = ("usage_counters", "meter_uses", "members")


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("current_period_end", sa.DateTime(timezone=True)))
    op.add_column(
        "subscriptions",
        sa.Column("cancel_at_period_end", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("subscriptions", sa.Column("stripe_customer_id", sa.String))
    op.add_column("subscriptions", sa.Column("stripe_subscription_id", sa.String))
    op.add_column("subscriptions", sa.Column("stripe_plan", sa.String))
    op.add_column("subscriptions", sa.Column("stripe_event_created", sa.BigInteger))
    op.add_column("subscriptions", sa.Column("past_due_since", sa.DateTime(timezone=True)))
    # `occurred_at` of the newest Skool event applied: an older one changes nothing.
    op.add_column("subscriptions", sa.Column("skool_occurred_at", sa.DateTime(timezone=True)))
    op.create_table(
        "plan_limits",
        sa.Column("plan", sa.String, primary_key=True),
        # None means unlimited.
        sa.Column("seats", sa.Integer),
        sa.Column("sessions_per_month", sa.Integer),
        sa.Column("scenarios", sa.Integer),
    )
    op.create_table(
        "usage_counters",
        sa.Column("org_id", sa.String, primary_key=True),
        sa.Column("meter", sa.String, primary_key=True),
        # First day of the calendar month (UTC) for sessions; a fixed date for gauges.
        sa.Column("period", sa.Date, primary_key=True),
        sa.Column("used", sa.Integer, nullable=False),
        # The limit the last accepted use was checked against (None: unlimited).
        sa.Column("last_limit", sa.Integer),
    )
    op.create_table(
        "meter_uses",
        sa.Column("org_id", sa.String, primary_key=True),
        sa.Column("meter", sa.String, primary_key=True),
        sa.Column("idempotency_key", sa.String, primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Boolean),
        sa.Column("used", sa.Integer),
        sa.Column("limit_at_use", sa.Integer),
        sa.Column("upgrade_to", sa.String),
        sa.Column("period", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "members",
        sa.Column("org_id", sa.String, primary_key=True),
        sa.Column("user_id", sa.String, primary_key=True),
        sa.Column("role", sa.String, nullable=False),
    )
    for table in TENANT_TABLES:
        isolate_by_tenant(table, column_type="text")
    op.create_table(
        "stripe_events",
        sa.Column("event_id", sa.String, primary_key=True),
        sa.Column("event_type", sa.String, nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("org_id", sa.String),
        sa.Column("outcome", sa.String, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    # When an org's subscription must be looked at again (a past-due grace, a trial or a cancelled
    # period ending): the lapse job's work list. Not a tenant table: the job reads across orgs.
    op.create_table(
        "lapse_schedule",
        sa.Column("org_id", sa.String, primary_key=True),
        # "past_due": due_at is when payment failed (the grace is added when checked);
        # "period_end": due_at is when the trial or the cancelled period ends.
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "stripe_links",
        sa.Column("stripe_id", sa.String, primary_key=True),
        sa.Column("org_id", sa.String, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stripe_links")
    op.drop_table("lapse_schedule")
    op.drop_table("stripe_events")
    for table in TENANT_TABLES:
        stop_isolating(table)
        op.drop_table(table)
    op.drop_table("plan_limits")
    for column in (
        "skool_occurred_at",
        "past_due_since",
        "stripe_event_created",
        "stripe_plan",
        "stripe_subscription_id",
        "stripe_customer_id",
        "cancel_at_period_end",
        "current_period_end",
    ):
        op.drop_column("subscriptions", column)

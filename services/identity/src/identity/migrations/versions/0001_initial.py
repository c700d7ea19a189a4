"""identity: users, deliveries, claims projections, outbox and inbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.migrations import create_outbox_and_inbox, drop_outbox_and_inbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    create_outbox_and_inbox()
    op.create_table(
        "users",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("email", sa.String),
        sa.Column("first_name", sa.String),
        sa.Column("last_name", sa.String),
        sa.Column("image_url", sa.String),
        sa.Column("pending_invitation", sa.String),
        sa.Column("provider_updated_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_users_email", "users", ["email"])
    op.create_table(
        "auth_deliveries",
        sa.Column("svix_id", sa.String, primary_key=True),
        sa.Column("event_type", sa.String, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "membership_views",
        sa.Column("user_id", sa.String, primary_key=True),
        sa.Column("org_id", sa.String, primary_key=True),
        sa.Column("role", sa.String, nullable=False),
        sa.Column("is_personal_org", sa.Boolean, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "org_plan_views",
        sa.Column("org_id", sa.String, primary_key=True),
        sa.Column("plan", sa.String, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "user_claims",
        sa.Column("user_id", sa.String, primary_key=True),
        sa.Column("active_org_id", sa.String, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )


def downgrade() -> None:
    for table in ("user_claims", "org_plan_views", "membership_views", "auth_deliveries", "users"):
        op.drop_table(table)
    drop_outbox_and_inbox()

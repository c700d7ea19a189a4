"""workspace: orgs, memberships, outbox and inbox.

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
        "orgs",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("slug", sa.String, nullable=False, unique=True),
        sa.Column("is_personal", sa.Boolean, nullable=False),
        sa.Column("personal_user_id", sa.String, unique=True),
        sa.Column("settings", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("archived_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "(is_personal AND personal_user_id IS NOT NULL) OR "
            "(NOT is_personal AND personal_user_id IS NULL)",
            name="personal_org_has_owner",
        ),
    )
    op.create_table(
        "memberships",
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("orgs.id"), primary_key=True),
        sa.Column("user_id", sa.String, primary_key=True),
        sa.Column("role", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint(
            "role IN ('admin', 'manager', 'hr', 'trainee', 'tech', 'client')", name="known_role"
        ),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])


def downgrade() -> None:
    op.drop_table("memberships")
    op.drop_table("orgs")
    drop_outbox_and_inbox()

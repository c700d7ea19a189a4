"""identity: a signing key signs from `activates_at` (a rotation publishes it before that).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "signing_keys",
        sa.Column(
            "activates_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        ),
    )
    # Keys created before this revision signed from their creation.
    op.execute("UPDATE signing_keys SET activates_at = created_at")


def downgrade() -> None:
    op.drop_column("signing_keys", "activates_at")

"""billing: each Stripe delivery keeps the trace of the request that brought it (`devstack trace`).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing; rows from before it have no trace.
    op.add_column("stripe_events", sa.Column("traceparent", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("stripe_events", "traceparent")

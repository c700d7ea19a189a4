"""identity: each auth delivery keeps the trace of the request that brought it (`devstack trace`).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing; rows from before it have no trace.
    op.add_column("auth_deliveries", sa.Column("traceparent", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("auth_deliveries", "traceparent")

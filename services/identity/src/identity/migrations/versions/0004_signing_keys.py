"""identity: the keys access tokens are signed with (at most one active).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String, primary_key=True),
        sa.Column("algorithm", sa.String, nullable=False),
        sa.Column("public_jwk", JSONB, nullable=False),
        sa.Column("encrypted_private_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
    )
    # One active key: two replicas starting together, or two rotations, cannot both add one.
    op.execute(
        "CREATE UNIQUE INDEX ux_signing_keys_one_active ON signing_keys ((true)) WHERE retired_at IS NULL"
    )
    op.create_index("ix_signing_keys_retired_at", "signing_keys", ["retired_at"])


def downgrade() -> None:
    op.drop_table("signing_keys")

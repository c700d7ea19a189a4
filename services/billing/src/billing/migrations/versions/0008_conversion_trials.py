"""billing: one conversion trial per person.

- `user_addresses`: billing's projection of each user's primary address (from `identity.users`,
  trimmed and lower-cased) and whether it is verified; a user's row goes when the user is deleted.
- `conversion_trials`: who has had their conversion (the user id, and a SHA-256 of the address,
  so a deleted account's address is not kept in clear), and the org it was for. A conversion whose
  owner or address is already here gets no trial (docs/billing.md, "One conversion trial").

Neither is a tenant table: both are keyed by a person, not an org (billing's consumer reads them
across orgs, like `stripe_links`).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_addresses",
        sa.Column("user_id", sa.String, primary_key=True),
        sa.Column("email", sa.String, nullable=False),
        # Whether the auth provider verified it (user events' `email_verified`).
        sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "conversion_trials",
        # `user:<user id>` or `email-sha256:<hex>`.
        sa.Column("claimant", sa.String, primary_key=True),
        sa.Column("org_id", sa.String, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
    )


def downgrade() -> None:
    op.drop_table("conversion_trials")
    op.drop_table("user_addresses")

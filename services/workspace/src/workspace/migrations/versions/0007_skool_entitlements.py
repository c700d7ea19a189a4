"""workspace: Skool entitlements (from `skool.subscriptions`), per member email and community.

`org_id` is the team org the entitlement pays for, once there is one: NULL while the email has
no account (the entitlement waits for its signup). The newest `occurred_at` wins. Per email, not
tenant data (there may be no org yet), so no row-level security. The expression index lets an
entitlement find its account by normalized address.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE skool_entitlements (
            email text NOT NULL,
            community_id text NOT NULL,
            status text NOT NULL CHECK (status IN ('active', 'cancelled')),
            occurred_at timestamptz NOT NULL,
            period_end timestamptz,
            first_name text,
            org_id uuid,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (email, community_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX member_profiles_normalized_email ON member_profiles (lower(btrim(email))) "
        "WHERE deleted_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX member_profiles_normalized_email")
    op.execute("DROP TABLE skool_entitlements")

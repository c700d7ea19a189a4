"""skool_ingest: verified deliveries, skool_subscriptions, rejection counts, the accounts it knows
(from identity.users) and the welcome emails sent.

None of these is tenant data (they are keyed by email, before any org), so no row-level security.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only verified deliveries are stored (`verified` says so for whoever reads the table);
    # a delivery is the same one again when its event_id, or its natural key, was seen.
    op.execute(
        """
        CREATE TABLE skool_deliveries (
            id bigserial PRIMARY KEY,
            event_id text UNIQUE,
            natural_key text NOT NULL UNIQUE,
            event_type text NOT NULL,
            email text NOT NULL,
            community_id text NOT NULL,
            occurred_at timestamptz NOT NULL,
            body text NOT NULL,
            signed_at bigint NOT NULL,
            verified boolean NOT NULL,
            received_at timestamptz NOT NULL,
            traceparent text
        )
        """
    )
    op.execute(
        """
        CREATE TABLE skool_subscriptions (
            email text NOT NULL,
            community_id text NOT NULL,
            status text NOT NULL CHECK (status IN ('active', 'cancelled')),
            since timestamptz,
            until timestamptz,
            occurred_at timestamptz NOT NULL,
            skool_member_id text,
            first_name text,
            last_name text,
            community_name text,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (email, community_id)
        )
        """
    )
    op.execute(
        "CREATE TABLE skool_rejections (reason text PRIMARY KEY, count bigint NOT NULL, "
        "last_at timestamptz NOT NULL DEFAULT now())"
    )
    op.execute("CREATE TABLE skool_accounts (user_id text PRIMARY KEY, email text)")
    op.execute("CREATE INDEX skool_accounts_email ON skool_accounts (email)")
    op.execute(
        "CREATE TABLE welcome_emails (email text NOT NULL, community_id text NOT NULL, "
        "sent_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (email, community_id))"
    )


def downgrade() -> None:
    for table in (
        "welcome_emails",
        "skool_accounts",
        "skool_rejections",
        "skool_subscriptions",
        "skool_deliveries",
    ):
        op.execute(f"DROP TABLE {table}")

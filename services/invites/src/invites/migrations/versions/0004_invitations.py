"""invites: projections (orgs, members, seats, users), invitation links, email invitations,
signup redemptions, and the slug/token directory the public routes look up before the tenant is
known.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from shared.db.tenancy import isolate_by_tenant

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SCHEMA = """
        CREATE TABLE org_views (
            org_id uuid PRIMARY KEY,
            name text NOT NULL,
            kind text NOT NULL,
            -- The owner of a personal org (invites keeps no memberships of personal orgs).
            owner_user_id text,
            archived boolean NOT NULL DEFAULT false
        );
        CREATE TABLE member_views (
            org_id uuid NOT NULL,
            user_id text NOT NULL,
            role text NOT NULL,
            PRIMARY KEY (org_id, user_id)
        );
        -- One row per org: the seat limit from billing (NULL = unlimited) and the row redemptions
        -- lock so that no two of them count the same free seat.
        CREATE TABLE org_seats (
            org_id uuid PRIMARY KEY,
            seats integer,
            plan text,
            version bigint NOT NULL DEFAULT 0
        );
        CREATE TABLE user_views (
            user_id text PRIMARY KEY,
            email text
        );
        CREATE INDEX user_views_email ON user_views (email);
        CREATE TABLE invitation_links (
            id uuid PRIMARY KEY,
            slug text NOT NULL UNIQUE,
            org_id uuid NOT NULL,
            role text NOT NULL,
            max_uses integer NOT NULL CHECK (max_uses >= 1),
            current_uses integer NOT NULL DEFAULT 0 CHECK (current_uses >= 0),
            expires_at timestamptz NOT NULL,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz,
            legacy_code text UNIQUE,
            -- A migrated legacy code is honoured (redirect, redeem) until this instant.
            legacy_until timestamptz,
            CHECK (current_uses <= max_uses)
        );
        CREATE INDEX invitation_links_org ON invitation_links (org_id, created_at);
        CREATE TABLE link_redemptions (
            link_id uuid NOT NULL,
            org_id uuid NOT NULL,
            user_id text NOT NULL,
            redeemed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (link_id, user_id)
        );
        CREATE TABLE email_invitations (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            email text NOT NULL,
            role text NOT NULL,
            token_hash bytea NOT NULL UNIQUE,
            status text NOT NULL DEFAULT 'pending',
            expires_at timestamptz NOT NULL,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            accepted_by text,
            closed_at timestamptz
        );
        -- At most one pending invitation per org and address.
        CREATE UNIQUE INDEX email_invitations_pending ON email_invitations (org_id, email)
            WHERE status = 'pending';
        -- Public routes know a slug or a token, not the org: this directory (no tenant data in
        -- it) names the org, then the transaction is scoped to it.
        CREATE TABLE invitation_directory (
            key text PRIMARY KEY,
            org_id uuid NOT NULL,
            email text
        );
        CREATE INDEX invitation_directory_email ON invitation_directory (email) WHERE email IS NOT NULL;
        -- One verdict per new user whose signup carried an invitation (natural key for redelivery).
        CREATE TABLE signup_redemptions (
            user_id text PRIMARY KEY,
            outcome text NOT NULL,
            reason text,
            decided_at timestamptz NOT NULL DEFAULT now()
        );
"""

_TENANT_TABLES = ("org_views", "member_views", "org_seats", "invitation_links", "email_invitations")


def upgrade() -> None:
    # One statement per execute (asyncpg prepares each).
    for statement in _SCHEMA.split(";\n"):
        if statement.strip():
            op.execute(statement)
    for table in _TENANT_TABLES:
        isolate_by_tenant(table, column="org_id")
    isolate_by_tenant("link_redemptions", column="org_id")


def downgrade() -> None:
    op.execute(
        "DROP TABLE signup_redemptions, invitation_directory, email_invitations, link_redemptions, "
        "invitation_links, user_views, org_seats, member_views, org_views"
    )

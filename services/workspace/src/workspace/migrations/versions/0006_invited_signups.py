"""workspace: new users whose signup carried an invitation, and invites' verdict on it; the
email invitations a new user's address may have (so their signup waits for invites).

A row is written by whichever of `user.created` and the verdict (`invitation.accepted` /
`invitation.redemption_failed`) arrives first; the second completes it. Per user, not tenant
data (no org yet), so no row-level security.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE invited_signups (
            user_id text PRIMARY KEY,
            -- Set once user.created has been seen (what a fallback personal org needs).
            signed_up boolean NOT NULL DEFAULT false,
            first_name text,
            invitation text,
            traceparent text,
            -- NULL while waiting for invites; 'joined' or 'failed'.
            outcome text,
            -- Why the redemption failed (invites' error code), when it did.
            reason text,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # From invites' invitation.created / .revoked / .accepted (kind email). A closed one stays as
    # a tombstone, so a late invitation.created cannot reopen it.
    op.execute(
        """
        CREATE TABLE email_invitation_views (
            invitation_id uuid PRIMARY KEY,
            email text,
            expires_at timestamptz,
            open boolean NOT NULL DEFAULT true
        )
        """
    )
    op.execute("CREATE INDEX email_invitation_views_email ON email_invitation_views (email) WHERE open")


def downgrade() -> None:
    op.execute("DROP TABLE email_invitation_views")
    op.execute("DROP TABLE invited_signups")

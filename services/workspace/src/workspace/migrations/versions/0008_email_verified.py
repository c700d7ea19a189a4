"""workspace: whether a user's primary address is verified (`email_verified` of identity's
user events), and why a signup got a personal workspace though its address matched an email
invitation or a Skool entitlement (`signup_note`, shown by `devstack trace`).

Profiles that exist at the upgrade are marked verified: they were provisioned under the old rules,
and refusing their future Skool entitlements would strand paying members; the next `user.updated`
from the auth provider sets the real value (docs/workspaces.md, "Email ownership at signup").

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE member_profiles ADD COLUMN email_verified boolean NOT NULL DEFAULT false")
    op.execute("ALTER TABLE member_profiles ADD COLUMN signup_note text")
    op.execute("UPDATE member_profiles SET email_verified = true WHERE deleted_at IS NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE member_profiles DROP COLUMN signup_note")
    op.execute("ALTER TABLE member_profiles DROP COLUMN email_verified")

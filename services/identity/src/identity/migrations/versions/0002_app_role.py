"""identity: the session role its connections switch to.

It has no tenant-scoped tables yet.

Revision ID: 0002
Revises: 0001
"""

from shared.db.tenancy import create_app_role

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_app_role("identity")


def downgrade() -> None:
    pass

"""workspace: the session role its connections switch to.

Tenant-scoped tables (orgs, memberships) get forced row-level security.

Revision ID: 0002
Revises: 0001
"""

from shared.db.tenancy import create_app_role, isolate_by_tenant, stop_isolating

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_app_role("workspace")
    isolate_by_tenant("orgs", column="id")
    isolate_by_tenant("memberships")


def downgrade() -> None:
    stop_isolating("memberships")
    stop_isolating("orgs")

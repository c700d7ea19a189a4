"""workspace: the session role its connections switch to.

Tenant-scoped tables (orgs, memberships) get forced row-level security.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from shared.db.tenancy import create_app_role, grant_tables_to_app_role, isolate_by_tenant

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_app_role("workspace")
    grant_tables_to_app_role("workspace")
    isolate_by_tenant("orgs", column="id")
    isolate_by_tenant("memberships")


def downgrade() -> None:
    for table in ("memberships", "orgs"):
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

"""billing: the session role its connections switch to.

Tenant-scoped tables (subscriptions) get forced row-level security.

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
    create_app_role("billing")
    grant_tables_to_app_role("billing")
    isolate_by_tenant("subscriptions", column_type="text")


def downgrade() -> None:
    op.execute("DROP POLICY tenant_isolation ON subscriptions")
    op.execute("ALTER TABLE subscriptions NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE subscriptions DISABLE ROW LEVEL SECURITY")

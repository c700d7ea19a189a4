"""billing: the session role its connections switch to.

Tenant-scoped tables (subscriptions) get forced row-level security.

Revision ID: 0002
Revises: 0001
"""

from shared.db.tenancy import create_app_role, isolate_by_tenant, stop_isolating

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_app_role("billing")
    isolate_by_tenant("subscriptions", column_type="text")


def downgrade() -> None:
    stop_isolating("subscriptions")

"""billing: the tenant policy takes a list of orgs, so a consumer batch can start many at once.

Revision ID: 0004
Revises: 0003
"""

from shared.db.tenancy import allow_tenant_sets, restrict_to_one_tenant

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    allow_tenant_sets("subscriptions", column_type="text")


def downgrade() -> None:
    restrict_to_one_tenant("subscriptions", column_type="text")

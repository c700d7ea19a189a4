"""workspace: tenant policies take a list of orgs, so a consumer batch can provision many at once.

Revision ID: 0004
Revises: 0003
"""

from shared.db.tenancy import allow_tenant_sets, restrict_to_one_tenant

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    allow_tenant_sets("orgs", column="id")
    allow_tenant_sets("memberships")


def downgrade() -> None:
    restrict_to_one_tenant("memberships")
    restrict_to_one_tenant("orgs", column="id")

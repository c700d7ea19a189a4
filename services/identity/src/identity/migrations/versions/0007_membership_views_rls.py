"""identity: `membership_views` under forced row-level security, by user and by org.

A row is visible and writable only when its `user_id` is in the transaction's `app.user_ids`
(a JSON array of user ids) or its `org_id` in `app.org_id` (comma-separated org UUIDs, as every
tenant table): identity.service.scope. Its readers are keyed by user (claims, tokens, the
membership events) and, for a conversion, by org; each names its key first.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

USERS_IN_SCOPE = (
    "ARRAY(SELECT jsonb_array_elements_text(NULLIF(current_setting('app.user_ids', true), '')::jsonb))"
)
ORGS_IN_SCOPE = "string_to_array(NULLIF(current_setting('app.org_id', true), ''), ',')"
IN_SCOPE = f"(user_id = ANY ({USERS_IN_SCOPE}) OR org_id = ANY ({ORGS_IN_SCOPE}))"


def upgrade() -> None:
    op.execute("ALTER TABLE membership_views ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE membership_views FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY user_or_org_scope ON membership_views USING {IN_SCOPE} WITH CHECK {IN_SCOPE}")


def downgrade() -> None:
    op.execute("DROP POLICY user_or_org_scope ON membership_views")
    op.execute("ALTER TABLE membership_views NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE membership_views DISABLE ROW LEVEL SECURITY")

"""workspace: team orgs, activity and archiving, conversion idempotency, user and plan projections.

- orgs: `created_by`, `last_active_at` (what the archiving job reads), `archive_reason`.
- member_profiles: a small projection of `identity.users` (member emails and first names). Not tenant data:
  a user is not an org's; no `org_id`.
- org_plans: each org's plan, limits and features from `subscription.changed` (tenant table).
- conversions: the answer given to each `Idempotency-Key` of `POST /v1/orgs/{id}/convert`
  (tenant table).
- Two read-only "directory" policies beside the tenant policy, so a user's own workspaces can be
  listed without naming each org first: with `app.user_id` set (transaction-local, set and cleared
  by `workspace.service.scope`), a session also SEES the memberships of that user and the orgs
  and plans of those memberships. Writes stay under the tenant policy alone. A third policy lets
  the archiving job (with `app.scope = 'housekeeping'`) see orgs, never change them without the
  tenant set.
- A trigger keeps a personal org at one member whatever the code path.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.tenancy import isolate_by_tenant, stop_isolating

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NOW = sa.text("now()")
USER_SCOPE = "NULLIF(current_setting('app.user_id', true), '')"
ORGS_OF_USER = f"(SELECT m.org_id FROM memberships m WHERE m.user_id = {USER_SCOPE})"

PERSONAL_ORG_ONE_MEMBER = """
CREATE FUNCTION personal_org_has_one_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM orgs WHERE id = NEW.org_id AND is_personal)
     AND EXISTS (SELECT 1 FROM memberships WHERE org_id = NEW.org_id AND user_id <> NEW.user_id) THEN
    RAISE EXCEPTION 'personal org % cannot have a second member', NEW.org_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'personal_org_one_member';
  END IF;
  RETURN NEW;
END $$
"""


def upgrade() -> None:
    op.add_column("orgs", sa.Column("created_by", sa.String))
    op.add_column(
        "orgs", sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW)
    )
    op.add_column("orgs", sa.Column("archive_reason", sa.String))
    op.create_index(
        "ix_orgs_idle_personal",
        "orgs",
        ["last_active_at"],
        postgresql_where=sa.text("is_personal AND archived_at IS NULL"),
    )
    op.create_table(
        "member_profiles",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("email", sa.String),
        sa.Column("first_name", sa.String),
        sa.Column("last_name", sa.String),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "org_plans",
        sa.Column("org_id", sa.Uuid, primary_key=True),
        sa.Column("plan", sa.String, nullable=False),
        sa.Column("plan_kind", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("limits", JSONB, nullable=False),
        sa.Column("features", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "conversions",
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("orgs.id"), primary_key=True),
        sa.Column("idempotency_key", sa.String, primary_key=True),
        sa.Column("user_id", sa.String, nullable=False),
        sa.Column("response", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    isolate_by_tenant("org_plans")
    isolate_by_tenant("conversions")
    op.execute(f"CREATE POLICY member_directory ON memberships FOR SELECT USING (user_id = {USER_SCOPE})")
    op.execute(f"CREATE POLICY member_directory ON orgs FOR SELECT USING (id IN {ORGS_OF_USER})")
    op.execute(f"CREATE POLICY member_directory ON org_plans FOR SELECT USING (org_id IN {ORGS_OF_USER})")
    op.execute(
        "CREATE POLICY housekeeping_scan ON orgs FOR SELECT "
        "USING (current_setting('app.scope', true) = 'housekeeping')"
    )
    op.execute(PERSONAL_ORG_ONE_MEMBER)
    op.execute(
        "CREATE TRIGGER personal_org_one_member BEFORE INSERT ON memberships "
        "FOR EACH ROW EXECUTE FUNCTION personal_org_has_one_member()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER personal_org_one_member ON memberships")
    op.execute("DROP FUNCTION personal_org_has_one_member()")
    op.execute("DROP POLICY housekeeping_scan ON orgs")
    for table in ("org_plans", "orgs", "memberships"):
        op.execute(f"DROP POLICY member_directory ON {table}")
    stop_isolating("conversions")
    stop_isolating("org_plans")
    op.drop_table("conversions")
    op.drop_table("org_plans")
    op.drop_table("member_profiles")
    op.drop_index("ix_orgs_idle_personal", "orgs")
    op.drop_column("orgs", "archive_reason")
    op.drop_column("orgs", "last_active_at")
    op.drop_column("orgs", "created_by")

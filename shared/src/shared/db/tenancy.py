"""Tenant isolation with PostgreSQL row-level security.

Tenant-scoped tables carry `org_id` and a policy that shows and accepts only the rows of the org
named by the transaction-local setting `app.org_id`. RLS is enabled *and forced*, and the
service's sessions run as `<service>_app`, a role that neither owns the tables nor bypasses RLS
(the connecting user, often a superuser or the owner, only switches to it). So a query that
forgets its `WHERE org_id = ...` still sees one org, and with no tenant set it sees nothing.
"""

from __future__ import annotations

import uuid

from alembic import op
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

TENANT_SETTING = "app.org_id"


def app_role(service: str) -> str:
    """The role a service's sessions run as (one per service; roles are cluster-wide)."""
    return f"{service.replace('-', '_')}_app"


async def set_tenant(session: AsyncSession, org_id: uuid.UUID | str) -> None:
    """Scope the rest of this transaction to one org (`SET LOCAL`, undone at commit/rollback)."""
    await session.execute(
        text("SELECT set_config(:name, :org, true)"), {"name": TENANT_SETTING, "org": str(org_id)}
    )


# --- migration helpers ----------------------------------------------------------------------


def create_app_role(service: str) -> None:
    """Create the service's session role (if missing), let the migrating user switch to it, and
    give it data access to the tables that exist now and to those later revisions create."""
    role = app_role(service)
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
        f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"
    )
    op.execute(f"GRANT {role} TO CURRENT_USER")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
    )
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}")


def isolate_by_tenant(table: str, *, column: str = "org_id", column_type: str = "uuid") -> None:
    """Enable and force RLS on `table`: only rows whose `column` equals `app.org_id`."""
    current = f"NULLIF(current_setting('{TENANT_SETTING}', true), '')::{column_type}"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({column} = {current}) WITH CHECK ({column} = {current})"
    )


def stop_isolating(table: str) -> None:
    """Undo `isolate_by_tenant` (for downgrades)."""
    op.execute(f"DROP POLICY tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

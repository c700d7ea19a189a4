"""Tenant isolation with PostgreSQL row-level security.

Tenant-scoped tables carry `org_id` and a policy that shows and accepts only the rows of the orgs
named by the transaction-local setting `app.org_id` — one org for a request; the orgs of a batch
for a consumer that applies many events in one statement (a comma-separated list). RLS is enabled
*and forced*, and the service's sessions run as `<service>_app`, a role that neither owns the
tables nor bypasses RLS (in development the connecting superuser only switches to it; with
per-service logins the service connects as it, a LOGIN of that name, and the switch is to
itself: devstack.pg_logins). So a query that forgets its `WHERE org_id = ...` still sees only
the orgs the transaction named, and with none named it sees nothing.

The setting is a comma-separated list, so its text must never come from input as it is: an org
id with a comma in it would name several orgs. `set_tenant`/`set_tenants` take UUIDs (or their
canonical text) only and refuse anything else with `InvalidTenant` (issue 15: a path org id
`"<a>,<b>"` once widened a request's scope to two orgs).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from alembic import op
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.driver import driver_sql

TENANT_SETTING = "app.org_id"


def app_role(service: str) -> str:
    """The role a service's sessions run as (one per service; roles are cluster-wide)."""
    return f"{service.replace('-', '_')}_app"


_SET_TENANTS = "SELECT set_config($1, $2, true)"  # driver SQL (shared.db.driver)
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class InvalidTenant(ValueError):
    """An org id for the tenant setting that is not a UUID: refused, never written into it."""


def tenant_text(org_id: uuid.UUID | str) -> str:
    """The org id as the tenant setting holds it (a UUID's canonical text); `InvalidTenant` for
    anything else — a comma, blanks, braces, upper case or any other text."""
    if isinstance(org_id, uuid.UUID):
        return str(org_id)
    if isinstance(org_id, str) and _CANONICAL_UUID.fullmatch(org_id) is not None:
        return org_id
    raise InvalidTenant(f"not an org id: {org_id!r}")


async def set_tenant(session: AsyncSession, org_id: uuid.UUID | str) -> None:
    """Scope the rest of this transaction to one org (`SET LOCAL`, undone at commit/rollback)."""
    await set_tenants(session, (org_id,))


async def set_tenants(session: AsyncSession, org_ids: Iterable[uuid.UUID | str]) -> None:
    """Scope the rest of this transaction to these orgs: a batch that writes for many at once.
    Each must be a UUID (`tenant_text`); one that is not refuses the whole call."""
    orgs = ",".join(tenant_text(org_id) for org_id in org_ids)
    await driver_sql(session, _SET_TENANTS, TENANT_SETTING, orgs)


# --- migration helpers ----------------------------------------------------------------------


def create_app_role(service: str) -> None:
    """Create the service's session role (if missing), let the migrating user switch to it, and
    give it data access to the tables that exist now and to those later revisions create.

    With per-service logins the role exists already (the traffic login `<db>_app`, made by the
    platform) and the migrating user is the database's owner login, which holds it WITH ADMIN
    OPTION: then nothing here needs a superuser or CREATEROLE (the CREATE is skipped, the GRANTs
    are the owner's to give)."""
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


def _tenant_condition(column: str, column_type: str) -> str:
    """`column` is one of the orgs `app.org_id` names (none when it is unset or empty)."""
    current = f"string_to_array(NULLIF(current_setting('{TENANT_SETTING}', true), ''), ',')::{column_type}[]"
    return f"{column} = ANY ({current})"


def isolate_by_tenant(table: str, *, column: str = "org_id", column_type: str = "uuid") -> None:
    """Enable and force RLS on `table`: only rows whose `column` is one of the orgs in `app.org_id`."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    condition = _tenant_condition(column, column_type)
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({condition}) WITH CHECK ({condition})")


def allow_tenant_sets(table: str, *, column: str = "org_id", column_type: str = "uuid") -> None:
    """Re-create an older single-org policy of `isolate_by_tenant` as the one that takes a list."""
    condition = _tenant_condition(column, column_type)
    op.execute(f"DROP POLICY tenant_isolation ON {table}")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({condition}) WITH CHECK ({condition})")


def stop_isolating(table: str) -> None:
    """Undo `isolate_by_tenant` (for downgrades)."""
    op.execute(f"DROP POLICY tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def restrict_to_one_tenant(table: str, *, column: str = "org_id", column_type: str = "uuid") -> None:
    """Undo `allow_tenant_sets` (for downgrades): the policy that takes one org only."""
    current = f"NULLIF(current_setting('{TENANT_SETTING}', true), '')::{column_type}"
    op.execute(f"DROP POLICY tenant_isolation ON {table}")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({column} = {current}) WITH CHECK ({column} = {current})"
    )

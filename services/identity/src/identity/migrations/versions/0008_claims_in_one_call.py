"""identity: a user's claims read in one database call (`claims_of`), for the claims endpoint.

At a steady 50 signups/s the claims read was a quarter of identity's busiest event loop: a
session, `BEGIN`, the user lookup, the scope setting, the join and `COMMIT`, each a round trip
through SQLAlchemy (docs/performance.md, issue 17). The function does the same in one statement:
it names the user in `app.user_ids` (transaction-local, so the statement's own transaction scopes
it; row-level security on `membership_views` applies to the caller, as the function is SECURITY
INVOKER) and returns one row when the user exists and is not deleted — its active org's
membership and plan, all null until the first membership arrives — and no row otherwise.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"

CREATE = """
CREATE FUNCTION claims_of(p_user text)
RETURNS TABLE (org_id text, org_role text, is_personal_org boolean, plan text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.user_ids', json_build_array(p_user)::text, true),
            set_config('app.org_id', '', true);
    RETURN QUERY
    SELECT m.org_id::text, m.role::text, m.is_personal_org, p.plan::text
    FROM users u
    LEFT JOIN (user_claims c JOIN membership_views m
               ON m.user_id = c.user_id AND m.org_id = c.active_org_id)
        ON c.user_id = u.id
    LEFT JOIN org_plan_views p ON p.org_id = m.org_id
    WHERE u.id = p_user AND u.deleted_at IS NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(CREATE)


def downgrade() -> None:
    op.execute("DROP FUNCTION claims_of(text)")

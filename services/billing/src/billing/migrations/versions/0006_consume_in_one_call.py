"""billing: a practice-session use in one database call (`use_sessions`), and each plan's
upgrade in `plan_limits` so a refusal is answered without Python's catalog.

The function does what `billing.service.meters` did in five round trips (BEGIN, the tenant, the
use, remembering the answer, COMMIT): called on its own, it is its own transaction. It runs as
the caller (`billing_app`), so row-level security applies to every statement in it; it scopes
the transaction to the org first, like `set_tenant`.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

USE_SESSIONS = """
CREATE FUNCTION use_sessions(p_org text, p_key text, p_quantity integer, p_period date, p_member text)
RETURNS TABLE (outcome text, used integer, lim integer, upgrade_to text, period date)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_plan text;
  v_limit integer;
  v_used integer;
  v_upgrade text;
BEGIN
  PERFORM set_config('app.org_id', p_org, true);
  -- A person (not a trusted backend) must be a member: else the org does not exist for them.
  IF p_member IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM members m WHERE m.org_id = p_org AND m.user_id = p_member
  ) THEN
    RETURN QUERY SELECT 'no_org'::text, NULL::integer, NULL::integer, NULL::text, NULL::date;
    RETURN;
  END IF;
  INSERT INTO meter_uses (org_id, meter, idempotency_key, quantity, period)
  VALUES (p_org, 'sessions', p_key, p_quantity, p_period) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN  -- the key was used before: the answer it got then
    RETURN QUERY SELECT CASE WHEN u.accepted THEN 'accepted' ELSE 'refused' END, u.used,
      u.limit_at_use, u.upgrade_to::text, u.period
      FROM meter_uses u WHERE u.org_id = p_org AND u.meter = 'sessions' AND u.idempotency_key = p_key;
    RETURN;
  END IF;
  SELECT s.plan, p.sessions_per_month, p.upgrade_to INTO v_plan, v_limit, v_upgrade
    FROM subscriptions s JOIN plan_limits p ON p.plan = s.plan WHERE s.org_id = p_org;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'org % has no subscription', p_org USING ERRCODE = 'no_data_found';
  END IF;
  -- Locks the counter row and re-checks against its newest committed value: no interleaving of
  -- concurrent uses passes the limit.
  INSERT INTO usage_counters AS c (org_id, meter, period, used, last_limit)
    SELECT p_org, 'sessions', p_period, p_quantity, v_limit WHERE v_limit IS NULL OR p_quantity <= v_limit
  ON CONFLICT (org_id, meter, period) DO UPDATE
    SET used = c.used + excluded.used, last_limit = excluded.last_limit
    WHERE excluded.last_limit IS NULL OR c.used + excluded.used <= excluded.last_limit
  RETURNING c.used INTO v_used;
  IF FOUND THEN
    UPDATE meter_uses u SET accepted = true, used = v_used, limit_at_use = v_limit
      WHERE u.org_id = p_org AND u.meter = 'sessions' AND u.idempotency_key = p_key;
    RETURN QUERY SELECT 'accepted'::text, v_used, v_limit, NULL::text, p_period;
    RETURN;
  END IF;
  SELECT coalesce((SELECT c.used FROM usage_counters c
    WHERE c.org_id = p_org AND c.meter = 'sessions' AND c.period = p_period), 0) INTO v_used;
  UPDATE meter_uses u SET accepted = false, used = v_used, limit_at_use = v_limit, upgrade_to = v_upgrade
    WHERE u.org_id = p_org AND u.meter = 'sessions' AND u.idempotency_key = p_key;
  RETURN QUERY SELECT 'refused'::text, v_used, v_limit, v_upgrade, p_period;
END $$
"""


def upgrade() -> None:
    op.add_column("plan_limits", sa.Column("upgrade_to", sa.String))
    op.execute(USE_SESSIONS)


def downgrade() -> None:
    op.execute("DROP FUNCTION use_sessions(text, text, integer, date, text)")
    op.drop_column("plan_limits", "upgrade_to")

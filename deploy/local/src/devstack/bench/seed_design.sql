-- The seed design (seed 000, "Personal Organization Pattern"), reproduced to measure it with
-- pgbench on the bench's own PostgreSQL server, in a scratch database `seed_design`.
--
-- Seed 000 shows only its migration 0009 and its functions, not the base tables. The base `orgs`
-- and `users` tables below hold exactly the columns the seed's code reads and writes (the Clerk
-- webhook's insert, the auth helpers' selects, the Stripe actions' `stripe_customer_id`).
-- Left out, because a bare PostgreSQL cannot run them and create_personal_org() does not need
-- them: the RLS policies (they call Supabase's auth.jwt()/get_current_org_id() and name
-- Supabase roles; the function is SECURITY DEFINER and bypasses them anyway), the
-- `plan_configurations` rows (nothing on the signup path reads them) and the other helper
-- functions (is_personal_org_user(), get_personal_org_id(), convert_personal_to_team_org()).
-- A user's membership in the seed design is the `users` row itself (`org_id`, `role`).

CREATE TABLE orgs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  name TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE,
  plan TEXT NOT NULL DEFAULT 'free',
  plan_limits JSONB NOT NULL DEFAULT '{}'::jsonb,
  settings JSONB NOT NULL DEFAULT '{}'::jsonb,
  stripe_customer_id TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  clerk_user_id TEXT NOT NULL UNIQUE,
  org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  role TEXT NOT NULL DEFAULT 'trainee' CHECK (role IN ('admin', 'manager', 'hr', 'trainee')),
  email TEXT,
  first_name TEXT,
  last_name TEXT,
  avatar_url TEXT,
  is_active BOOLEAN NOT NULL DEFAULT true,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every RLS policy filters by org_id.
CREATE INDEX idx_users_org_id ON users (org_id);

-- Seed 000, migration 0009_add_personal_org_support.sql, verbatim.

ALTER TABLE orgs
ADD COLUMN is_personal BOOLEAN DEFAULT false NOT NULL;

ALTER TABLE orgs
ADD COLUMN personal_user_clerk_id TEXT UNIQUE;

CREATE INDEX idx_orgs_personal_user ON orgs(personal_user_clerk_id)
WHERE is_personal = true;

ALTER TABLE orgs
ADD CONSTRAINT personal_org_requires_clerk_id
CHECK (
  (is_personal = false AND personal_user_clerk_id IS NULL)
  OR
  (is_personal = true AND personal_user_clerk_id IS NOT NULL)
);

ALTER TABLE orgs
ADD CONSTRAINT valid_personal_plans
CHECK (
  (is_personal = false)
  OR
  (is_personal = true AND plan IN ('individual_free', 'individual_pro', 'individual_ultra'))
);

COMMENT ON COLUMN orgs.is_personal IS
  'True if this is a personal workspace for a single individual user';
COMMENT ON COLUMN orgs.personal_user_clerk_id IS
  'Clerk user ID for personal workspace owner (null for team orgs)';

-- Seed 000, section 1.2 "Create Helper Functions": create_personal_org(), verbatim.

CREATE OR REPLACE FUNCTION create_personal_org(
  p_clerk_user_id TEXT,
  p_first_name TEXT,
  p_email TEXT,
  p_plan TEXT DEFAULT 'individual_free'
) RETURNS UUID AS $$
DECLARE
  v_org_id UUID;
  v_org_name TEXT;
  v_org_slug TEXT;
BEGIN
  -- Generate unique org name and slug
  v_org_name := p_first_name || '''s Workspace';
  v_org_slug := 'personal-' || p_clerk_user_id;

  -- Create personal org
  INSERT INTO orgs (
    name,
    slug,
    plan,
    is_personal,
    personal_user_clerk_id,
    plan_limits,
    settings
  ) VALUES (
    v_org_name,
    v_org_slug,
    p_plan,
    true,
    p_clerk_user_id,
    CASE
      WHEN p_plan = 'individual_free' THEN
        '{"max_users": 1, "max_sessions_per_month": 10, "max_scenarios": 3, "ai_generation": false}'::jsonb
      WHEN p_plan = 'individual_pro' THEN
        '{"max_users": 1, "max_sessions_per_month": 100, "max_scenarios": 50, "ai_generation": true}'::jsonb
      ELSE
        '{"max_users": 1, "max_sessions_per_month": 500, "max_scenarios": 200, "ai_generation": true}'::jsonb
    END,
    '{"show_team_features": false, "show_leaderboard": false}'::jsonb
  )
  RETURNING id INTO v_org_id;

  RETURN v_org_id;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER;

-- Not in the seed: where the pgbench script takes each signup's unique user id from.
CREATE SEQUENCE seed_signup_ids;

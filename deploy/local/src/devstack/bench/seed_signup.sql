-- One signup in the seed design, as pgbench runs it (-M prepared, like PostgREST): the personal
-- org by create_personal_org(), then the user row pointing at it, in one transaction. (The seed's
-- webhook makes these two calls through PostgREST, one after the other.)
BEGIN;
SELECT 'user_seed_' || nextval('seed_signup_ids') AS clerk_user_id \gset
SELECT create_personal_org(:clerk_user_id, 'Ada', :clerk_user_id || '@example.com', 'individual_free') AS org_id \gset
INSERT INTO users (clerk_user_id, org_id, role, email, first_name, last_name, avatar_url, is_active)
VALUES (:clerk_user_id, :org_id, 'trainee', :clerk_user_id || '@example.com', 'Ada', '', NULL, true);
END;

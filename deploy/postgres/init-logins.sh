#!/bin/sh
# compose's PostgreSQL first-start script (/docker-entrypoint-initdb.d): per service an owner
# login (runs its migrations, owns its database) and a traffic login (no table of its own, bound
# by row-level security), scram-sha-256 passwords from the environment, CONNECT on a database
# for its own service's logins only; a read-only operator login. The same statements as the local
# production profile (devstack pg_logins.py). Runs once, on an empty data volume.
set -eu
login() {  # login NAME PASSWORD [ATTRIBUTES]
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$1" -v password="$2" <<'SQL'
SET password_encryption = 'scram-sha-256';
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD %L',
              :'name', :'password') \gexec
SQL
}
service() {  # service DATABASE OWNER_PASSWORD APP_PASSWORD
  login "$1_owner" "$2"
  login "$1_app" "$3"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v db="$1" <<'SQL'
SELECT format('GRANT %I TO %I WITH ADMIN OPTION', :'db' || '_app', :'db' || '_owner') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'db' || '_owner') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I, %I, platform_operator', :'db', :'db' || '_owner', :'db' || '_app') \gexec
SQL
}
login platform_operator "$OPERATOR_DATABASE_PASSWORD"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<'SQL'
ALTER ROLE platform_operator BYPASSRLS;
GRANT pg_read_all_data TO platform_operator;
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
REVOKE ALL ON DATABASE template1 FROM PUBLIC;
GRANT CONNECT ON DATABASE postgres TO platform_operator;
SQL
service identity "$IDENTITY_DATABASE_OWNER_PASSWORD" "$IDENTITY_DATABASE_PASSWORD"
service workspace "$WORKSPACE_DATABASE_OWNER_PASSWORD" "$WORKSPACE_DATABASE_PASSWORD"
service billing "$BILLING_DATABASE_OWNER_PASSWORD" "$BILLING_DATABASE_PASSWORD"
service invites "$INVITES_DATABASE_OWNER_PASSWORD" "$INVITES_DATABASE_PASSWORD"
service skool_ingest "$SKOOL_INGEST_DATABASE_OWNER_PASSWORD" "$SKOOL_INGEST_DATABASE_PASSWORD"

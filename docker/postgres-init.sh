#!/usr/bin/env bash
# Runs once, as the superuser, when the postgres container initialises an empty data directory
# (mounted at /docker-entrypoint-initdb.d/10-roles.sh). An .sql file cannot read the environment,
# hence a shell script passing the password to psql as a variable.
# No -u: the entrypoint sources (rather than runs) this file if it lost its executable bit.
set -eo pipefail

: "${VCAO_APP_PASSWORD:?VCAO_APP_PASSWORD must be set for the postgres service}"

# Quoted heredoc: the shell expands nothing; psql substitutes :'app_password' as a quoted literal.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner="$POSTGRES_USER" -v app_password="$VCAO_APP_PASSWORD" <<'EOSQL'
-- Runtime role: may not bypass row-level security and owns nothing. The service (connecting as
-- the owner) grants it table privileges at every start, after migrations.
-- \gexec instead of a DO block because psql variables are not substituted inside $$ quotes;
-- the WHERE makes a re-run harmless.
SELECT format('CREATE ROLE vcao_app LOGIN PASSWORD %L NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT',
              :'app_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vcao_app')
\gexec
-- The owner role (vcao_owner) owns the schema and, through migrations, the tables in it.
ALTER SCHEMA public OWNER TO :"owner";
GRANT USAGE ON SCHEMA public TO vcao_app;
EOSQL

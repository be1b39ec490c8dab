#!/usr/bin/env bash
# Makes the database bench/aggregates.sh measures: a fresh PostgreSQL database, migrated by the
# service itself, with 50 agency tenants and the reporting facts of 1,000,000 cases
# (bench/aggregates_data.sql; about 4.5 million facts).
# Usage: bash bench/aggregates_data.sh
# Knobs: BENCH_DB (default vcao_bench; DROPPED and recreated), PGHOST_URL (default
#        postgres://postgres@127.0.0.1:5432, a superuser), BENCH_BIN (default: build
#        $CARGO_TARGET_DIR/release/vcao, or target/release/vcao).
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${BENCH_DB:-vcao_bench}
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -q -p api --bin vcao
  BENCH_BIN=${CARGO_TARGET_DIR:-target}/release/vcao
fi

# A fresh database each time, so the figures do not depend on an earlier run (FORCE ends any
# service still connected to it).
psql "$PG/postgres" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"

# The service's own migrations make the schema, and provision and grant the runtime role vcao_app
# (serve grants again at every start). The data directory is needed only for settings validation.
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
DATABASE_URL="$PG/$DB" VCAO_DATA_DIR="$DATA" RUST_LOG=warn "$BENCH_BIN" migrate

# Tenants and facts, inserted as the owner (a superuser, so row-level security does not apply).
START=$(date +%s.%N)
psql "$PG/$DB" -X -q -f bench/aggregates_data.sql
LOADED=$(date +%s.%N)
# VACUUM sets hint bits and the visibility map, ANALYZE the statistics, as autovacuum would have
# long since done for real data; otherwise the first measured queries would pay for it.
psql "$PG/$DB" -X -q -c "VACUUM (ANALYZE) reporting_facts" -c "ANALYZE tenants"
# Once the first VACUUM left 14 % of pages not all-visible (a concurrent snapshot, likely); vacuum
# again until every page is, so the measured scans never set hint bits or visibility themselves.
for _ in 1 2 3; do
  [ "$(psql "$PG/$DB" -X -Atc "SELECT relallvisible = relpages FROM pg_class WHERE relname = 'reporting_facts'")" = t ] && break
  sleep 5; psql "$PG/$DB" -X -q -c "VACUUM reporting_facts"
done
DONE=$(date +%s.%N)
printf 'generated in %.0f s, vacuum + analyze %.0f s\n' "$(echo "$LOADED - $START" | bc)" "$(echo "$DONE - $LOADED" | bc)"

psql "$PG/$DB" -X -P footer=off <<'SQL'
SELECT kind, count(*) AS facts, count(DISTINCT tenant_id) AS agencies, min(occurred_on), max(occurred_on)
FROM reporting_facts GROUP BY kind ORDER BY kind;
SELECT count(*) AS agencies, min(n) AS smallest, max(n) AS largest
FROM (SELECT tenant_id, count(*) AS n FROM reporting_facts WHERE kind = 'case_opened' GROUP BY tenant_id) t;
SELECT pg_size_pretty(pg_table_size('reporting_facts')) AS table_size,
       pg_size_pretty(pg_indexes_size('reporting_facts')) AS indexes_size;
SQL

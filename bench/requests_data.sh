#!/usr/bin/env bash
# Makes the database bench/requests.sh measures: a fresh PostgreSQL database, migrated by the
# service itself, with 50 agency tenants (bench-agency-01 … -50, Zipf-like sizes) and 1,000,000
# cases with their clients, notes, services, reporting facts and sealed audit events, written by
# infra/examples/generate_cases.rs with each tenant's own cipher (personal fields are AES-GCM
# sealed, names blind-indexed), as the runtime role vcao_app (row-level security applies).
# Every tenant has users admin@, sup@ (supervisor), cm1@ … cm3@ (case managers)
# @agency-NN.example, password bench-password-1234.
# Usage: bash bench/requests_data.sh
# Knobs: BENCH_DB (default vcao_perf; DROPPED and recreated), PGHOST_URL (default
#        postgres://postgres@127.0.0.1:5432, a superuser), BENCH_CASES (1000000), BENCH_TENANTS (50),
#        BENCH_WORKERS (3 tenants written at once), BENCH_BATCH (1000 cases per transaction),
#        BENCH_SEED (1), BENCH_BIN (default: build $CARGO_TARGET_DIR/release/vcao).
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${BENCH_DB:-vcao_perf}
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
TARGET=${CARGO_TARGET_DIR:-target}
# The same fixed master key as bench/aggregates.sh and bench/requests.sh: the service started
# later with it can unwrap the tenants' data keys and read the rows.
export VCAO_MASTER_KEY=dmNhby1iZW5jaC1vbmx5LW1hc3Rlci1rZXktMzJieXQ=
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -q -p api --bin vcao
  BENCH_BIN=$TARGET/release/vcao
fi
cargo build --release -q -p infra --example generate_cases

psql "$PG/postgres" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
DATABASE_URL="$PG/$DB" VCAO_DATA_DIR="$DATA" RUST_LOG=warn "$BENCH_BIN" migrate

echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
START=$(date +%s.%N)
DATABASE_URL="$PG/$DB" VCAO_DATA_DIR="$DATA" RUST_LOG=warn "$TARGET/release/examples/generate_cases"
LOADED=$(date +%s.%N)
# As autovacuum would long since have done for real data: hint bits, visibility map, statistics.
psql "$PG/$DB" -X -q -c "VACUUM (ANALYZE)"
END=$(date +%s.%N)
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
awk -v s="$START" -v l="$LOADED" -v e="$END" 'BEGIN { printf "generation %.0f s, VACUUM (ANALYZE) %.0f s\n", l - s, e - l }'
psql "$PG/$DB" -X -P pager=off <<'SQL'
SELECT relname AS table, n_live_tup AS rows,
       pg_size_pretty(pg_table_size(relid)) AS table_size, pg_size_pretty(pg_indexes_size(relid)) AS indexes
FROM pg_stat_user_tables WHERE n_live_tup > 0 ORDER BY n_live_tup DESC;
SELECT pg_size_pretty(pg_database_size(current_database())) AS database_size;
SQL

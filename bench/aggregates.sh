#!/usr/bin/env bash
# The sixteen benchmark questions of GET /api/v1/aggregates, through the service and through DuckDB
# over the same facts, side by side, on the bench/aggregates_data.sh database (1,000,000 cases in 50
# agencies, about 4.5 million facts over fiscal 2025 and 2026).
#
# Since issue 20 the service reads every answer from a protected release that background work
# builds from the facts, so the script times that too:
#   1. the first build: every release deleted, the service started with a round every second;
#      the time until each fiscal year's release is built, as the builder logs it (read, tabulate
#      and protect, write), and the service's peak memory;
#   2. the sixteen questions, RUNS timed requests each (no answer cache: every request reads the
#      release), median and p95;
#   3. new facts: NEW_FACTS facts copied into fiscal 2026 (new ids, same days), and the time from
#      their commit until the figures include them (the default round is every 60 s; here every
#      second, so this is the rebuild itself). The copies are deleted afterwards;
#   4. DuckDB (bench/aggregates_duckdb.py) over an export of the same facts, and the two side by
#      side: the issue's goal is every service median at most DuckDB's.
# Usage: bash bench/aggregates_data.sh && bash bench/aggregates.sh
# Knobs: BENCH_DB (vcao_bench), PGHOST_URL (postgres://postgres@127.0.0.1:5432), PORT (18093),
#        RUNS (20), WARM (2 untimed requests first), NEW_FACTS (10000), DUCK_RUNS (10),
#        DUCK_OUT (where the Parquet export is kept; reused when present), BENCH_BIN (as in
#        aggregates_data.sh). Needs jq, psql, python3 with duckdb (pip install duckdb).
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${BENCH_DB:-vcao_bench}
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18093}
RUNS=${RUNS:-20}
WARM=${WARM:-2}
NEW_FACTS=${NEW_FACTS:-10000}
DUCK_RUNS=${DUCK_RUNS:-10}
DUCK_OUT=${DUCK_OUT:-/tmp/vcao-duckdb}
PASSWORD=bench-password-1234
BASE="http://127.0.0.1:$PORT/api/v1"
# A fixed master key: the platform and ministry tenants' data keys stay readable across runs
# even though each run uses a fresh data directory.
export VCAO_MASTER_KEY=dmNhby1iZW5jaC1vbmx5LW1hc3Rlci1rZXktMzJieXQ=
command -v jq >/dev/null || { echo "jq is needed: apt-get install jq" >&2; exit 1; }
python3 -c 'import duckdb' 2>/dev/null || { echo "the duckdb package is needed: pip install duckdb" >&2; exit 1; }
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -q -p api --bin vcao
  BENCH_BIN=${CARGO_TARGET_DIR:-target}/release/vcao
fi
OUT=$(mktemp -d /tmp/vcao-aggregates-bench.XXXX)
PID=
psql_q() { psql "$PG/$DB" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  wait 2>/dev/null
  # The copied facts never outlive the run.
  psql_q -c "DELETE FROM reporting_facts WHERE id IN (SELECT id FROM bench_new_facts); DROP TABLE bench_new_facts" \
    >/dev/null 2>&1 || true
  rm -rf "$OUT/data"
}
trap cleanup EXIT
echo "raw timings and the service's log in $OUT; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
mapfile -t QUESTIONS < <(python3 bench/aggregates_duckdb.py --list)

start_service() {
  env DATABASE_URL="$PG/$DB" VCAO_DATA_DIR="$OUT/data" VCAO_BIND="127.0.0.1:$PORT" \
    VCAO_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" VCAO_LOG_FORMAT=json RUST_LOG=warn,api::releases=info \
    VCAO_AGGREGATE_CACHE_SECONDS=0 VCAO_RELEASE_REFRESH_SECONDS=1 "$BENCH_BIN" serve >>"$OUT/service.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && return; sleep 0.1; done
  echo "service did not start; see $OUT/service.log" >&2; exit 1
}
now_ms() { date +%s%3N; }
# The builder's log lines for `fiscal_year`, one JSON object each: read_ms, build_ms, write_ms, facts, cells, withheld.
builds() { grep '"aggregate release built"' "$OUT/service.log" | jq -c --argjson y "$1" 'select(.fiscal_year == $y)' || true; }
# Waits until fiscal year $1 has more than $2 builds logged; prints the newest.
await_build() {
  for _ in $(seq 1 6000); do
    if [ "$(builds "$1" | wc -l)" -gt "$2" ]; then builds "$1" | tail -1; return; fi
    sleep 0.1
  done
  echo "no release of fiscal $1 was built in 10 minutes; see $OUT/service.log" >&2; exit 1
}
post() { curl -sf "$BASE$1" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$2"; }
# Through each account's first sign-ins (a password change; the platform admin's authenticator): bench/sign_in.py,
# whose state is kept beside the results, as the database is kept across runs.
login() { python3 bench/sign_in.py "http://127.0.0.1:$PORT" "$1" "$2" "$PASSWORD" "$OUT/accounts.json"; }
# Median and nearest-rank p95 of the numbers on stdin, in ms with one decimal.
stats() { sort -n | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
  p = int(NR * 0.95); if (p < NR * 0.95) p++; printf "%.1f %.1f\n", m, v[p]}'; }
# One service request; prints its time in ms. Every answer must be 200.
service_once() { # query string
  curl -s -o "$OUT/body.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" "$BASE/aggregates?$1" \
    | awk '$1 != 200 {print "HTTP " $1 > "/dev/stderr"; exit 1} {print $2 * 1000}'
}
describe() { jq -r '"read \(.read_ms) ms + tabulate and protect \(.build_ms) ms + write \(.write_ms) ms, \(.facts) facts, \(.cells) cells (\(.withheld) with a family withheld); \(.newly_counted) facts newly counted, \(.waiting) (fact, family) pairs waiting"'; }

# --- 1. The first build: no release (on a database the service has not migrated yet the tables
# are made empty at start); the first round, a second after start, builds every year.
psql_q -c "DELETE FROM aggregate_release_chunks" -c "DELETE FROM aggregate_releases" >/dev/null 2>&1 || true
STARTED=$(now_ms)
start_service
echo
echo "First build, no release at start (round every second):"
for YEAR in 2025 2026; do
  LINE=$(await_build "$YEAR" 0)
  echo "- fiscal $YEAR: built $(( $(now_ms) - STARTED )) ms after the service was started: $(describe <<<"$LINE")"
done
echo "- service peak RSS $(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status") MiB (the builds' working set; RSS now $(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status") MiB)"

# --- 2. The questions, through the service.
PLATFORM=$(login platform admin@platform.local)
# The ministry tenant and its analyst (created once per database; a 409 on later runs is fine).
post /tenants "{\"slug\":\"bench-ministry\",\"name\":\"Bench Ministry\",\"kind\":\"ministry\",\"admin\":{\"email\":\"analyst@bench-ministry.example\",\"display_name\":\"Analyst\",\"password\":\"$PASSWORD\"},\"mfa_required\":false}" \
  "$PLATFORM" >/dev/null || true
TOKEN=$(login bench-ministry analyst@bench-ministry.example)
: >"$OUT/service.tsv"
for q in "${QUESTIONS[@]}"; do
  IFS='|' read -r METRIC GROUP FROM TO <<<"$q"
  QUERY="metric=$METRIC&from=$FROM&to=$TO&group_by=$GROUP"
  for i in $(seq $((1 - WARM)) "$RUNS"); do
    S=$(service_once "$QUERY")
    if [ "$i" -gt 0 ]; then echo "$S" >>"$OUT/$METRIC.${GROUP//,/+}.$FROM.$TO.service"; fi
  done
  read -r MED P95 < <(stats <"$OUT/$METRIC.${GROUP//,/+}.$FROM.$TO.service")
  CELLS=$(jq -r '"\(.rows + .totals | length)\t\([.rows[], .totals[]] | map(select(.suppressed)) | length)"' "$OUT/body.json")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$METRIC" "$GROUP" "$FROM" "$TO" "$MED" "$P95" "$CELLS" >>"$OUT/service.tsv"
done
echo "- service RSS after $(( ${#QUESTIONS[@]} * (WARM + RUNS) )) requests: $(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status") MiB"

# --- 3. New facts in the current year: how long until the figures include them.
BEFORE=$(builds 2026 | wc -l)
psql_q >/dev/null <<SQL
CREATE TABLE bench_new_facts AS
  SELECT * FROM reporting_facts WHERE occurred_on >= DATE '2026-04-01' ORDER BY id LIMIT $NEW_FACTS;
UPDATE bench_new_facts SET id = gen_random_uuid();
INSERT INTO reporting_facts SELECT * FROM bench_new_facts;
SQL
LANDED=$(now_ms)
LINE=$(await_build 2026 "$BEFORE")
echo
echo "After $NEW_FACTS new facts in fiscal 2026: in the figures $(( $(now_ms) - LANDED )) ms after they were committed" \
  "(round every second; by default every 60 s, so at most 60 s more): $(describe <<<"$LINE")"
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
psql_q -c "DELETE FROM reporting_facts WHERE id IN (SELECT id FROM bench_new_facts)" -c "DROP TABLE bench_new_facts" >/dev/null
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end of the service's run"

# --- 4. DuckDB over the same facts (the copies are gone again), then the two side by side.
echo
REUSE=; [ -f "$DUCK_OUT/reporting_facts.parquet" ] && REUSE=--reuse
python3 bench/aggregates_duckdb.py --pg "$PG/$DB" --out "$DUCK_OUT" --runs "$DUCK_RUNS" $REUSE | tee "$OUT/duckdb.txt"
echo
echo "| metric | group_by | period | service median | service p95 | DuckDB median | service / DuckDB | goal (service <= DuckDB) | cells (withheld) |"
echo "|---|---|---|---|---|---|---|---|---|"
# Joined in awk: a tab-separated field may be empty (a question with no group_by), which bash's read would skip.
awk -F'\t' 'NR == FNR {k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4; med[k] = $5; p95[k] = $6; cells[k] = $7 " (" $8 ")"; next}
  FNR > 1 {k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4; s = med[k]; d = $5
    printf "| %s | %s | %s to %s | %.1f ms | %.1f ms | %.1f ms | %.3f | %s | %s |\n",
      $1, ($2 == "" ? "–" : $2), $3, $4, s, p95[k], d, s / d, (s <= d) ? "pass" : "FAIL", cells[k]}' \
  "$OUT/service.tsv" "$DUCK_OUT/duckdb.tsv"

#!/usr/bin/env bash
# GET /api/v1/aggregates for a ministry analyst over the data of bench/aggregates_data.sh
# (1,000,000 cases, 50 agencies), against the same SQL (`vcao aggregates-sql`) run directly in psql:
# as the owner (postgres, no row-level security) and as the runtime role vcao_app in a read-only
# transaction with the same SET LOCALs the service makes (the fair comparison). The issue's goal:
# service median <= 1.25 x psql (vcao_app) + 10 ms, and service RSS growth < 20 MiB.
# Usage: bash bench/aggregates_data.sh && bash bench/aggregates.sh
# Knobs: BENCH_DB (vcao_bench), PGHOST_URL (postgres://postgres@127.0.0.1:5432), PORT (18093),
#        RUNS (20 timed requests per question), PSQL_RUNS (10 timed runs per role; divides RUNS),
#        WARM (2 untimed rounds first),
#        REDIS (redis://127.0.0.1:6379; empty skips the cached run), BENCH_BIN (as in aggregates_data.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${BENCH_DB:-vcao_bench}
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18093}
RUNS=${RUNS:-20}
PSQL_RUNS=${PSQL_RUNS:-10}
WARM=${WARM:-2}
REDIS=${REDIS-redis://127.0.0.1:6379}
PASSWORD=bench-password-1234
BASE="http://127.0.0.1:$PORT/api/v1"
# A fixed master key: the platform and ministry tenants' data keys stay readable across runs
# even though each run uses a fresh data directory.
export VCAO_MASTER_KEY=dmNhby1iZW5jaC1vbmx5LW1hc3Rlci1rZXktMzJieXQ=
command -v jq >/dev/null || { echo "jq is needed: apt-get install jq" >&2; exit 1; }
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -q -p api --bin vcao
  BENCH_BIN=${CARGO_TARGET_DIR:-target}/release/vcao
fi
OUT=$(mktemp -d /tmp/vcao-aggregates-bench.XXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$OUT/data"' EXIT
echo "raw timings in $OUT; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

# The questions: metric and group_by, each over fiscal 2026 and over its first quarter (figures are released per
# fiscal month, quarter and year since issue 20; the runs before it asked over fiscal 2025 and 2026 together).
QUESTIONS=("clients_served|" "cases_opened|agency" "services|agency,fiscal_quarter" "clients_served|agency,month"
  "minutes_to_accept_p50|agency" "vqrp_plus_cents|victimization_type,gender,age_band")
PERIODS=("2026-04-01|2027-03-31" "2026-04-01|2026-06-30")

start_service() { # extra environment as arguments
  env DATABASE_URL="$PG/$DB" VCAO_DATA_DIR="$OUT/data" VCAO_BIND="127.0.0.1:$PORT" \
    VCAO_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" RUST_LOG=warn "$@" "$BENCH_BIN" serve >>"$OUT/service.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && return; sleep 0.1; done
  echo "service did not start; see $OUT/service.log" >&2; exit 1
}
stop_service() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status"; }
post() { curl -sf "$BASE$1" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$2"; }
login() { post /auth/login "{\"tenant\":\"$1\",\"email\":\"$2\",\"password\":\"$PASSWORD\"}" | jq -r .access_token; }
# The analyst's tokens: sign in once, then renew by refresh (no password hashing, so no memory for it).
analyst_login() {
  local r; r=$(post /auth/login "{\"tenant\":\"bench-ministry\",\"email\":\"analyst@bench-ministry.example\",\"password\":\"$PASSWORD\"}")
  TOKEN=$(jq -r .access_token <<<"$r"); REFRESH=$(jq -r .refresh_token <<<"$r")
}
analyst_renew() {
  local r; r=$(post /auth/refresh "{\"refresh_token\":\"$REFRESH\"}")
  TOKEN=$(jq -r .access_token <<<"$r"); REFRESH=$(jq -r .refresh_token <<<"$r")
}
# Median and nearest-rank p95 of the numbers on stdin, in ms with one decimal.
stats() { sort -n | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
  p = int(NR * 0.95); if (p < NR * 0.95) p++; printf "%.1f %.1f\n", m, v[p]}'; }

# One psql run of a statement file; prints its time in ms. As vcao_app the run is a read-only
# transaction scoped like the service's. An untimed EXPLAIN first warms the new session's catalog
# caches (the service's pooled connections are warm); \timing covers the statement alone. JIT is
# off for both roles, as the service turns it off for its aggregate statements
# (infra::store::aggregates::compute).
psql_once() { # role, sql file
  {
    echo "SET jit = off;"
    if [ "$1" = vcao_app ]; then
      echo "BEGIN READ ONLY; SET LOCAL app.tenant_id = '$MINISTRY_ID'; SET LOCAL app.reporting_scope = 'all_agencies';"
    fi
    echo "EXPLAIN $(cat "$2")"; echo '\timing on'; cat "$2"; echo '\timing off'
    if [ "$1" = vcao_app ]; then echo "COMMIT;"; fi
  } | psql "postgres://$1@127.0.0.1:5432/$DB" -X -q -v ON_ERROR_STOP=1 -o /dev/null | awk '/^Time:/ {print $2}'
}

# One service request; prints its time in ms. Every answer must be 200.
service_once() { # query string
  curl -s -o "$OUT/body.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" "$BASE/aggregates?$1" \
    | awk '$1 != 200 {print "HTTP " $1 > "/dev/stderr"; exit 1} {print $2 * 1000}'
}

# --- Main run: no Redis, no answer cache, so every request computes its figures.
start_service VCAO_AGGREGATE_CACHE_SECONDS=0
PLATFORM=$(login platform admin@platform.local)
# The ministry tenant and its analyst (created once per database; a 409 on later runs is fine).
post /tenants "{\"slug\":\"bench-ministry\",\"name\":\"Bench Ministry\",\"kind\":\"ministry\",\"admin\":{\"email\":\"analyst@bench-ministry.example\",\"display_name\":\"Analyst\",\"password\":\"$PASSWORD\"}}" \
  "$PLATFORM" >/dev/null || true
# One sign-in per core at the same time: each argon2 thread allocates its 19 MiB work area on its
# first sign-in and keeps it for life (README, Auth). With them all in the baseline, the growth
# measured below is the aggregates' own, not a later sign-in landing on a fresh hashing thread.
LOGINS=()
for _ in $(seq 1 "$(nproc)"); do login bench-ministry analyst@bench-ministry.example >/dev/null & LOGINS+=($!); done
wait "${LOGINS[@]}"
analyst_login
MINISTRY_ID=$(psql "$PG/$DB" -X -Atc "SELECT id FROM tenants WHERE slug = 'bench-ministry'")
RSS_BEFORE=$(rss_mib)

echo "| metric | group_by | period | psql owner | psql vcao_app | service median | service p95 | ratio | goal | goal vs owner | cells (suppressed) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for q in "${QUESTIONS[@]}"; do
  IFS='|' read -r METRIC GROUP <<<"$q"
  for p in "${PERIODS[@]}"; do
    IFS='|' read -r FROM TO <<<"$p"
    NAME="$METRIC.${GROUP//,/+}.$FROM"
    "$BENCH_BIN" aggregates-sql --metric "$METRIC" --group-by "$GROUP" --from "$FROM" --to "$TO" >"$OUT/$NAME.sql"
    # A fresh token per question: access tokens live 15 minutes, the whole run longer.
    analyst_renew
    # Rounds interleave the three, so load from anything else on the machine hits them alike:
    # the service in every round, psql (both roles) in every RUNS/PSQL_RUNS-th. Warm-up rounds
    # run all three untimed.
    for i in $(seq $((1 - WARM)) "$RUNS"); do
      if [ "$i" -le 0 ] || [ $((i % (RUNS / PSQL_RUNS))) -eq 0 ]; then
        O=$(psql_once postgres "$OUT/$NAME.sql"); A=$(psql_once vcao_app "$OUT/$NAME.sql")
        if [ "$i" -gt 0 ]; then echo "$O" >>"$OUT/$NAME.owner"; echo "$A" >>"$OUT/$NAME.app"; fi
      fi
      S=$(service_once "metric=$METRIC&from=$FROM&to=$TO&group_by=$GROUP")
      if [ "$i" -gt 0 ]; then echo "$S" >>"$OUT/$NAME.service"; fi
    done
    read -r OWNER _ < <(stats <"$OUT/$NAME.owner")
    read -r APP _ < <(stats <"$OUT/$NAME.app")
    read -r MED P95 < <(stats <"$OUT/$NAME.service")
    CELLS=$(jq -r '"\(.rows + .totals | length) (\([.rows[], .totals[]] | map(select(.suppressed)) | length))"' "$OUT/body.json")
    awk -v m="$METRIC" -v g="${GROUP:-–}" -v f="$FROM" -v t="$TO" -v o="$OWNER" -v a="$APP" -v s="$MED" -v p="$P95" -v c="$CELLS" \
      'BEGIN {printf "| %s | %s | %s to %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.2f | %s | %s | %s |\n",
              m, g, f, t, o, a, s, p, s / a, (s <= 1.25 * a + 10) ? "pass" : "FAIL", (s <= 1.25 * o + 10) ? "pass" : "FAIL", c}'
  done
done
RSS_AFTER=$(rss_mib)
echo
echo "service RSS: $RSS_BEFORE MiB after start-up and sign-in, $RSS_AFTER MiB after $(( ${#QUESTIONS[@]} * ${#PERIODS[@]} * (WARM + RUNS) )) aggregate requests" \
  "(growth $(echo "$RSS_AFTER - $RSS_BEFORE" | bc) MiB; peak $(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status") MiB)"
stop_service
# The service, psql and PostgreSQL share the machine: a high load here means the figures are noisy.
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end of the main run"

# --- Cached run: Redis and the default 60 s answer cache. The first request of each question
# computes and stores the answer; the timed ones are served from Redis.
[ -z "$REDIS" ] && exit 0
start_service REDIS_URL="$REDIS" VCAO_REDIS_NAMESPACE="vcao-bench-$$"
analyst_login
echo
echo "| metric | group_by | period | first request (computes) | cached median | cached p95 |"
echo "|---|---|---|---|---|---|"
for q in "${QUESTIONS[@]}"; do
  IFS='|' read -r METRIC GROUP <<<"$q"
  for p in "${PERIODS[@]}"; do
    IFS='|' read -r FROM TO <<<"$p"
    URL="$BASE/aggregates?metric=$METRIC&from=$FROM&to=$TO&group_by=$GROUP"
    FIRST=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$URL")
    read -r MED P95 < <(for _ in $(seq 1 "$RUNS"); do service_once "metric=$METRIC&from=$FROM&to=$TO&group_by=$GROUP"; done | stats)
    awk -v m="$METRIC" -v g="${GROUP:-–}" -v f="$FROM" -v t="$TO" -v x="$FIRST" -v s="$MED" -v p="$P95" \
      'BEGIN {printf "| %s | %s | %s to %s | %.1f ms | %.1f ms | %.1f ms |\n", m, g, f, t, x * 1000, s, p}'
  done
done
stop_service

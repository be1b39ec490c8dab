# Shared by bench/requests.sh, bench/memory.sh and bench/profile.sh (sourced, not run): settings,
# starting and stopping the release service on the bench/requests_data.sh database, signing in,
# and the id files the load generators draw from; with SPLIT_CORES=1, PostgreSQL alone on the last
# core (below). Callers set `set -euo pipefail` first.
DB=${BENCH_DB:-vcao_perf}
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18094}
REDIS=${REDIS-redis://127.0.0.1:6379}
POOL=${POOL:-16} # the service's default pool (VCAO_DATABASE_MAX_CONNECTIONS)
TENANT=${TENANT:-bench-agency-01}
PASSWORD=bench-password-1234
BASE="http://127.0.0.1:$PORT/api/v1"
TARGET=${CARGO_TARGET_DIR:-target}
export VCAO_MASTER_KEY=dmNhby1iZW5jaC1vbmx5LW1hc3Rlci1rZXktMzJieXQ=
command -v jq >/dev/null || { echo "jq is needed: apt-get install jq" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -q -p api --bin vcao
  BENCH_BIN=$TARGET/release/vcao
fi
NUM=${TENANT##*-}
DOMAIN="agency-$NUM.example"
OUT=${OUT:-$(mktemp -d /tmp/vcao-requests-bench.XXXX)}
mkdir -p "$OUT"
PID=
CORES=$(nproc --all)
# Every PostgreSQL process on the given cores. The postmaster (the oldest) must take it, since new
# backends inherit it; a backend may exit between pgrep and taskset.
pin_postgres() {
  local p
  taskset -a -p -c "$1" "$(pgrep -o -x postgres)" >/dev/null
  for p in $(pgrep -x postgres); do taskset -a -p -c "$1" "$p" >/dev/null 2>&1 || true; done
}
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$OUT/data"
  if [ -n "${SPLIT_CORES:-}" ]; then pin_postgres "0-$((CORES - 1))"; fi
}
trap cleanup EXIT
# SPLIT_CORES=1: PostgreSQL on the last core alone, this script and everything it starts (the
# service, wrk, pgbench's client, the open-loop generator) on the others. In production the
# database has a host of its own; on one shared machine a closed loop is otherwise a contest for
# the same cores, and the service's own CPU comes out of the database's. Undone on exit.
if [ -n "${SPLIT_CORES:-}" ]; then
  [ "$CORES" -ge 2 ] || { echo "SPLIT_CORES needs at least 2 cores" >&2; exit 1; }
  pgrep -x postgres >/dev/null || { echo "SPLIT_CORES: no local PostgreSQL process to pin" >&2; exit 1; }
  pin_postgres "$((CORES - 1))"
  taskset -p -c "0-$((CORES - 2))" $$ >/dev/null
fi

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status"; }

start_service() { # extra environment as arguments
  env DATABASE_URL="$PG/$DB" REDIS_URL="$REDIS" VCAO_DATA_DIR="$OUT/data" VCAO_BIND="127.0.0.1:$PORT" \
    VCAO_DATABASE_MAX_CONNECTIONS="$POOL" VCAO_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" RUST_LOG=warn "$@" \
    "$BENCH_BIN" serve >>"$OUT/service.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && return; sleep 0.1; done
  echo "service did not start; see $OUT/service.log" >&2
  exit 1
}
stop_service() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

post() { curl -sf "$BASE$1" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$2"; }
# Sign-in hashes a password (argon2, a 19 MiB work area per hashing thread): done once per user,
# then tokens are renewed by refresh, which hashes nothing.
declare -A REFRESH=()
login() { # variable, email
  local r; r=$(post /auth/login "{\"tenant\":\"$TENANT\",\"email\":\"$2@$DOMAIN\",\"password\":\"$PASSWORD\"}")
  printf -v "$1" '%s' "$(jq -r .access_token <<<"$r")"
  REFRESH[$1]=$(jq -r .refresh_token <<<"$r")
}
renew() { # variable
  local r; r=$(post /auth/refresh "{\"refresh_token\":\"${REFRESH[$1]}\"}")
  printf -v "$1" '%s' "$(jq -r .access_token <<<"$r")"
  REFRESH[$1]=$(jq -r .refresh_token <<<"$r")
}
psql_owner() { psql "$PG/$DB" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# The actors: a supervisor (every case of the agency is visible to one) and a police liaison at
# 51 Division, where the agency's three case managers are on shift (so a referral finds workers on
# duty and is assigned, as at a staffed division). Made once; reruns reuse them.
prepare_actors() {
  local admin d51 user
  login SUP sup
  login ADMIN admin
  d51=$(psql_owner -c "SELECT id FROM police_divisions WHERE code = '51' ORDER BY id LIMIT 1")
  DIVISION=$d51
  curl -s "$BASE/users" -H 'Content-Type: application/json' -H "Authorization: Bearer $ADMIN" \
    -d "{\"email\":\"liaison@$DOMAIN\",\"display_name\":\"Liaison\",\"roles\":[\"police_liaison\"],\"password\":\"$PASSWORD\",\"division_id\":\"$d51\"}" >/dev/null
  local now to
  now=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
  to=$(date -u -d '+12 hours' +%Y-%m-%dT%H:%M:%SZ)
  for who in cm1 cm2 cm3; do
    user=$(psql_owner -c "SELECT u.id FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = '$TENANT' AND u.email = '$who@$DOMAIN'")
    if [ "$(psql_owner -c "SELECT count(*) FROM shifts WHERE user_id = '$user' AND starts_at <= now() AND ends_at > now() + interval '2 hours'")" = 0 ]; then
      curl -s "$BASE/shifts" -H 'Content-Type: application/json' -H "Authorization: Bearer $ADMIN" \
        -d "{\"user_id\":\"$user\",\"division_id\":\"$d51\",\"starts_at\":\"$now\",\"ends_at\":\"$to\"}" >/dev/null
    fi
  done
  login LIAISON liaison
}

# Random ids of the tenant's cases and clients, for the load generators (and pgbench's lookup table).
prepare_ids() {
  local tenant
  tenant=$(psql_owner -c "SELECT id FROM tenants WHERE slug = '$TENANT'")
  TENANT_ID=$tenant
  psql_owner -c "SELECT id FROM cases WHERE tenant_id = '$tenant' ORDER BY md5(id::text) LIMIT 10000" >"$OUT/case_ids"
  psql_owner -c "SELECT id FROM clients WHERE tenant_id = '$tenant' ORDER BY md5(id::text) LIMIT 10000" >"$OUT/client_ids"
}

CASE_BODY='{"client_id":"{id}","victimization_types":["intimate_partner_violence"],"referral_source":"police"}'
referral_body() {
  echo "{\"division_id\":\"$DIVISION\",\"victimization_types\":[\"intimate_partner_violence\"],\"urgency\":\"immediate\",\"consent_to_contact\":true,\"person\":{\"given_name\":\"Bench {id}\",\"phone\":\"+1 416 555 0100\",\"safe_contact\":{\"ok_to_call\":true,\"ok_to_text\":false,\"ok_to_voicemail\":false}}}"
}

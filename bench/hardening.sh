#!/usr/bin/env bash
# What the hardening of issue 19 costs, on a release build over loopback with wrk:
#   1. sign-in at 8 and 64 connections (the hashing queue holds 16 jobs per core; beyond it, 503 at once);
#   2. a flood of wrong passwords against one account (each attempt counted before its hash: refusals cost no argon2);
#   3. POST /clients with and without a fresh Idempotency-Key per request (the sealed stored answer).
# Usage: bench/hardening.sh   (SQLite in a temporary data directory; DATABASE_URL/REDIS_URL for PostgreSQL and Redis)
# Knobs: DURATION (default 15s), PORT (default 18091).
# Run 1 starts the service with a per-account limit of 1,000,000: every connection signs in the same account, and
# attempts in flight count against its limit, so at the default of 5 every attempt past the 5th in flight would be
# refused. Runs 2 and 3 start it again at the default limits.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15s}
PORT=${PORT:-18091}
export BENCH_PASSWORD=bench-password-1234
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p api --bin vcao
BASE="http://127.0.0.1:$PORT"
PID=""
DATA=""
stop() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; [ -n "$DATA" ] && rm -rf "$DATA"; PID=""; DATA=""; }
trap stop EXIT
start() { # $1: per-account limit
  DATA=$(mktemp -d)
  VCAO_DATA_DIR="$DATA" VCAO_BIND="127.0.0.1:$PORT" VCAO_BOOTSTRAP_ADMIN_PASSWORD="$BENCH_PASSWORD" \
    VCAO_LOGIN_MAX_FAILURES_PER_ADDRESS=1000000 VCAO_LOGIN_MAX_FAILURES_PER_ACCOUNT="$1" RUST_LOG=warn \
    ./target/release/vcao serve >"$DATA/service.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -sf "$BASE/health/live" >/dev/null && break; sleep 0.1; done
}
echo "== $(nproc) cores shared by the service and wrk; $DURATION per run"

start 1000000
wrk -t1 -c2 -d1s -s bench/login.lua "$BASE/api/v1/auth/login" >/dev/null
for conns in 8 64; do
  echo "-- sign-in, $conns connections"
  wrk -t2 -c"$conns" -d"$DURATION" --latency -s bench/login.lua "$BASE/api/v1/auth/login" | grep -E "Requests/sec|50%|99%|non-200"
done
stop

start 5
# An agency with a case manager, through the API.
# An agency with a case manager, through the API; accounts through their first sign-ins (bench/sign_in.py).
login() { python3 bench/sign_in.py "${BASE%/api/v1}" "$1" "$2" "$BENCH_PASSWORD" "$DATA/accounts.json"; }
post() { curl -sf "$BASE$1" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$2"; }
SLUG="bench-$(date +%s%N | tail -c 9)"
PLATFORM=$(login platform admin@platform.local)
post /api/v1/tenants "{\"slug\":\"$SLUG\",\"name\":\"Bench\",\"kind\":\"agency\",\"mfa_required\":false,\"admin\":{\"email\":\"admin@bench.example\",\"display_name\":\"Admin\",\"password\":\"$BENCH_PASSWORD\"}}" "$PLATFORM" >/dev/null
ADMIN=$(login "$SLUG" admin@bench.example)
post /api/v1/users "{\"email\":\"cm@bench.example\",\"display_name\":\"CM\",\"roles\":[\"case_manager\"],\"password\":\"$BENCH_PASSWORD\"}" "$ADMIN" >/dev/null
TOKEN=$(login "$SLUG" cm@bench.example)
echo "-- wrong passwords for one account, 64 connections"
TENANT="$SLUG" EMAIL="cm@bench.example" wrk -t2 -c64 -d"$DURATION" --latency -s bench/wrong_password.lua \
  "$BASE/api/v1/auth/login" | grep -E "Requests/sec|50%|99%|answers"
for keyed in 0 1; do
  echo "-- POST /clients, 8 connections, Idempotency-Key: $([ $keyed = 1 ] && echo fresh per request || echo none)"
  KEYED=$keyed TOKEN="$TOKEN" wrk -t2 -c8 -d"$DURATION" --latency -s bench/idempotent_create.lua "$BASE/api/v1/clients" \
    | grep -E "Requests/sec|50%|99%|non-201"
done
echo "service RSS after the runs: $(ps -o rss= -p "$PID" | awk '{printf "%.1f MiB", $1/1024}')"

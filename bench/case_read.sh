#!/usr/bin/env bash
# What auditing every read costs: GET /cases/{id} (reads the case and appends an audit event in
# the same transaction) against GET /programs/{id} (the same transaction shape, no audit write).
# Usage: bench/case_read.sh            (SQLite)
#        DATABASE_URL=postgres://postgres@127.0.0.1:5432/vcao_bench bench/case_read.sh
# Knobs: CONNS (default 8), DURATION (default 15s), PORT (default 18092).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-8}
DURATION=${DURATION:-15s}
PORT=${PORT:-18092}
PASSWORD=bench-password-1234
BASE="http://127.0.0.1:$PORT/api/v1"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is needed: apt-get install jq" >&2; exit 1; }

cargo build --release -q -p api --bin vcao
DATA=$(mktemp -d)
VCAO_DATA_DIR="$DATA" VCAO_BIND="127.0.0.1:$PORT" VCAO_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" RUST_LOG=warn \
  ./target/release/vcao serve >"$DATA/service.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.1; done

post() { curl -sf "$BASE$1" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$2"; }
# Through each account's first sign-ins (a password change; the platform admin's authenticator): bench/sign_in.py.
login() { python3 bench/sign_in.py "http://127.0.0.1:$PORT" "$1" "$2" "$PASSWORD" "$DATA/accounts.json"; }
SLUG="bench-$(date +%s%N | tail -c 9)"
PLATFORM=$(login platform admin@platform.local)
post /tenants "{\"slug\":\"$SLUG\",\"name\":\"Bench\",\"kind\":\"agency\",\"admin\":{\"email\":\"admin@b.example\",\"display_name\":\"A\",\"password\":\"$PASSWORD\"},\"mfa_required\":false}" "$PLATFORM" >/dev/null
ADMIN=$(login "$SLUG" admin@b.example)
post /users "{\"email\":\"sup@b.example\",\"display_name\":\"S\",\"roles\":[\"supervisor\"],\"password\":\"$PASSWORD\"}" "$ADMIN" >/dev/null
TOKEN=$(login "$SLUG" sup@b.example)
PROGRAM=$(post /programs '{"code":"exit-route","name":"Exit Route"}' "$ADMIN" | jq -r .id)
CLIENT=$(post /clients '{"given_name":"Bench","family_name":"Client"}' "$TOKEN" | jq -r .id)
CASE=$(post /cases "{\"client_id\":\"$CLIENT\",\"victimization_types\":[\"other\"],\"referral_source\":\"self\"}" "$TOKEN" | jq -r .id)

run() {
  echo "== $1"
  wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $3" "$BASE$2" | grep -E "Requests/sec|50%|99%"
}
run "GET /programs/{id} (no audit write)" "/programs/$PROGRAM" "$ADMIN"
run "GET /cases/{id} (audit event in the same transaction)" "/cases/$CASE" "$TOKEN"
echo "service RSS: $(ps -o rss= -p $PID | awk '{printf "%.1f MiB", $1/1024}')"

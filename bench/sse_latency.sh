#!/usr/bin/env bash
# Referral-to-SSE latency under load: starts a release service (SQLite, or DATABASE_URL/REDIS_URL
# when set) and runs tests/examples/sse_latency.rs against it.
# Knobs: REFERRALS (default 200), LOAD_CLIENTS (default 8), PORT (default 18093).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18093}
PASSWORD=bench-password-1234
cargo build --release -q -p api --bin vcao
cargo build --release -q -p integration-tests --example sse_latency
DATA=$(mktemp -d)
VCAO_DATA_DIR="$DATA" VCAO_BIND="127.0.0.1:$PORT" VCAO_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" RUST_LOG=warn \
  ./target/release/vcao serve >"$DATA/service.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.1; done
./target/release/examples/sse_latency "http://127.0.0.1:$PORT" "$PASSWORD" "${REFERRALS:-200}" "${LOAD_CLIENTS:-8}"
echo "service RSS: $(ps -o rss= -p $PID | awk '{printf "%.1f MiB", $1/1024}')"

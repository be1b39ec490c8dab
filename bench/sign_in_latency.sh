#!/usr/bin/env bash
# What each way of signing in costs: starts a release service (SQLite, or DATABASE_URL/REDIS_URL
# when set) and runs tests/examples/sign_in_latency.rs against it. Knobs: SAMPLES (30), PORT (18094).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18094}
PASSWORD=bench-password-1234
cargo build --release -q -p api --bin vcao
cargo build --release -q -p integration-tests --example sign_in_latency
DATA=$(mktemp -d)
# The passkey's origin is the default relying party's (localhost:8080), whatever port serves.
VCAO_DATA_DIR="$DATA" VCAO_BIND="127.0.0.1:$PORT" VCAO_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" RUST_LOG=warn \
  ./target/release/vcao serve >"$DATA/service.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.1; done
echo "sign-in latency, one request at a time, $(nproc) cores shared by the service and the client"
./target/release/examples/sign_in_latency "http://127.0.0.1:$PORT" "$PASSWORD" "${SAMPLES:-30}"

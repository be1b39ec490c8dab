#!/usr/bin/env bash
# Login throughput of a release build, measured with wrk over loopback.
# Usage: bench/login.sh            (SQLite in a temporary data directory)
#        DATABASE_URL=postgres://postgres@127.0.0.1:5432/vcao_bench bench/login.sh
# Knobs: CONNS (default 8), DURATION (default 20s), PORT (default 18090), PER_ACCOUNT (default 1000000: every
# connection signs in the same account, and attempts in flight count against its limit, so at the service's
# default of 5 every attempt past the 5th in flight would be refused 429).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-8}
DURATION=${DURATION:-20s}
PORT=${PORT:-18090}
export BENCH_PASSWORD=bench-password-1234
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

cargo build --release -q -p api --bin vcao
DATA=$(mktemp -d)
VCAO_DATA_DIR="$DATA" VCAO_BIND="127.0.0.1:$PORT" VCAO_BOOTSTRAP_ADMIN_PASSWORD="$BENCH_PASSWORD" \
  VCAO_LOGIN_MAX_FAILURES_PER_ADDRESS=1000000 VCAO_LOGIN_MAX_FAILURES_PER_ACCOUNT="${PER_ACCOUNT:-1000000}" RUST_LOG=warn ./target/release/vcao serve >"$DATA/service.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.1; done

# One warm-up second, then the measured run.
wrk -t1 -c2 -d1s -s bench/login.lua "http://127.0.0.1:$PORT/api/v1/auth/login" >/dev/null
echo "login throughput: $CONNS connections, $DURATION, $(nproc) cores shared by the service and wrk"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/login.lua "http://127.0.0.1:$PORT/api/v1/auth/login"
echo "service RSS after the run: $(ps -o rss= -p $PID | awk '{printf "%.1f MiB", $1/1024}')"

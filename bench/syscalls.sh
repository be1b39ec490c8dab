#!/usr/bin/env bash
# System calls the release service makes per request (strace -c on its threads), on the
# bench/requests_data.sh database: wrk drives REQUEST (create: POST /cases; read: GET
# /cases/{id}) with CONNECTIONS connections for TRACE_SECONDS seconds while strace counts. sendto is one
# per database round trip (TLS records are written one send each) plus the HTTP answers; the
# pool's pings show up there too. strace slows the service a great deal: count, do not time.
# Usage: bash bench/requests_data.sh && bash bench/syscalls.sh
# Knobs: REQUEST (create), CONNECTIONS (4), TRACE_SECONDS (5), and those of bench/requests_lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUEST=${REQUEST:-create}
CONNECTIONS=${CONNECTIONS:-4}
TRACE_SECONDS=${TRACE_SECONDS:-5}
command -v strace >/dev/null || { echo "strace is needed: apt-get install strace" >&2; exit 1; }
source bench/requests_lib.sh
# No background work inside the count.
start_service VCAO_AUDIT_SEAL_INTERVAL_MS=60000 VCAO_ESCALATION_SWEEP_INTERVAL_MS=60000
prepare_actors
prepare_ids
if [ "$REQUEST" = read ]; then
  export WRK_IDS=$OUT/case_ids WRK_PATH='/api/v1/cases/{id}' WRK_METHOD=GET
else
  export WRK_IDS=$OUT/client_ids WRK_PATH=/api/v1/cases WRK_METHOD=POST WRK_BODY=$CASE_BODY
fi
export WRK_TOKEN=$SUP
wrk -t1 -c"$CONNECTIONS" -d3s -s bench/random_request.lua "http://127.0.0.1:$PORT" >/dev/null # warm
strace -c -f -p "$PID" -o "$OUT/strace.txt" &
STRACE=$!
sleep 1
wrk -t1 -c"$CONNECTIONS" -d"${TRACE_SECONDS}s" -s bench/random_request.lua "http://127.0.0.1:$PORT" >"$OUT/wrk.txt"
sleep 0.5
kill -INT "$STRACE"
wait "$STRACE" || true
n=$(awk '/requests in/ { print $1 }' "$OUT/wrk.txt")
echo "$n requests; calls per request:"
# strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall.
awk -v n="$n" '$1 ~ /^[0-9]+\.[0-9]+$/ && $NF != "total" { printf "  %-14s %6.2f\n", $NF, $4 / n }' "$OUT/strace.txt"

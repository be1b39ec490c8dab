#!/usr/bin/env bash
# How fast the audit sealer works through a backlog, on the bench/requests_data.sh database:
# EVENTS new audit events of TENANT are written at once (as the owner, with ids of now, so every
# one is inside the sealer's ten-minute look-back), then the release service starts with the
# default interval (1 s) and the script waits until its chain has grown by EVENTS links.
# Prints events sealed per second and CPU milliseconds per 1,000 events (the service's own and
# the whole machine's, PostgreSQL included). Pending events are sealed first, by the same binary.
# Usage: bash bench/requests_data.sh && bash bench/sealer.sh
# Knobs: EVENTS (200000), BENCH_BIN (an older build, to compare), and those of bench/requests_lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-200000}
source bench/requests_lib.sh
TENANT_ID=$(psql_owner -c "SELECT id FROM tenants WHERE slug = '$TENANT'")
links() { psql_owner -c "SELECT coalesce(max(seq), 0) FROM audit_seals WHERE tenant_id = '$TENANT_ID'"; }
echo "$(nproc) cores, load average $(loadavg) at the start"

start_service
for _ in $(seq 1 600); do # until the chain stops growing for 3 s
  before=$(links); sleep 3; [ "$before" = "$(links)" ] && break
done
stop_service

# bench_uuid_v7() is made by bench/requests_data.sh.
psql_owner -c "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_id, action, resource_type, resource_id,
                                         client_ip, request_id, details)
               SELECT '$TENANT_ID', bench_uuid_v7(), now(), NULL, 'case.read', 'case', gen_random_uuid(), NULL, NULL, '{}'
               FROM generate_series(1, $EVENTS)"
start=$(links)
HZ=$(getconf CLK_TCK)
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
m0=$(machine_ticks)
t0=$(date +%s.%N)
start_service
while [ $(( $(links) - start )) -lt "$EVENTS" ]; do sleep 1; done
t1=$(date +%s.%N)
service_ticks=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
m1=$(machine_ticks)
stop_service
awk -v n="$EVENTS" -v t0="$t0" -v t1="$t1" -v s="$service_ticks" -v m="$((m1 - m0))" -v hz="$HZ" 'BEGIN {
  d = t1 - t0
  printf "sealed %d events in %.1f s (from the service'\''s start): %.0f events/s\n", n, d, n / d
  printf "CPU ms per 1,000 events: service %.0f, whole machine %.0f\n", s * 1000 / hz / n * 1000, m * 1000 / hz / n * 1000 }'
echo "load average $(loadavg) at the end"

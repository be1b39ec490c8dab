#!/usr/bin/env bash
# What the service costs when nobody uses it: its background tasks (audit sealer, escalation
# sweeper) on the bench/requests_data.sh database (50 agencies), with no request. Starts the
# release service, waits WARMUP seconds, then over SECONDS counts the CPU time of the service and
# of every PostgreSQL process (from /proc, in ms per second), the database's transactions a second
# (pg_stat_database, this database only) and the whole machine's busy CPU.
# Usage: bash bench/requests_data.sh && bash bench/idle.sh
# Knobs: WARMUP (20), SECONDS_MEASURED (60), and those of bench/requests_lib.sh (BENCH_BIN,
#        BENCH_DB, PGHOST_URL, REDIS, POOL, PORT, OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
WARMUP=${WARMUP:-20}
SECONDS_MEASURED=${SECONDS_MEASURED:-60}
source bench/requests_lib.sh

TICK=$(getconf CLK_TCK)
cpu_ticks() { # pids...: user + system ticks of those processes
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
postgres_pids() { pgrep -x postgres || true; }
machine_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
transactions() {
  psql "$PG/postgres" -X -q -At -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$DB'"
}

echo "raw output in $OUT; $(nproc) cores, load average $(loadavg) at the start; $BENCH_BIN"
start_service
sleep "$WARMUP"
# PostgreSQL's processes as they are now; a backend that starts during the window (a pool
# connection opened later) is missed, one that ends takes its time with it: read the pool's
# connections as established once the warm-up is over.
mapfile -t PG_PIDS < <(postgres_pids)
s0=$(cpu_ticks "$PID"); p0=$(cpu_ticks "${PG_PIDS[@]}"); m0=$(machine_busy); x0=$(transactions)
sleep "$SECONDS_MEASURED"
s1=$(cpu_ticks "$PID"); p1=$(cpu_ticks "${PG_PIDS[@]}"); m1=$(machine_busy); x1=$(transactions)
stop_service
awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v m=$((m1 - m0)) -v x=$((x1 - x0)) -v t="$TICK" -v d="$SECONDS_MEASURED" \
  'BEGIN { printf "idle over %d s: service %.1f ms CPU a second, PostgreSQL %.1f ms a second, machine busy %.1f ms a second, %.1f transactions a second (one of them the measurement)\n",
           d, s * 1000 / t / d, p * 1000 / t / d, m * 1000 / t / d, (x - 1) / d }'
echo "load average $(loadavg) at the end"

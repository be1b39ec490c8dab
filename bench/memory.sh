#!/usr/bin/env bash
# Resident memory (VmRSS) of the release service on the bench/requests_data.sh database:
#  1. idle: 5 s after start, before any request, with a breakdown of that RSS (smaps_rollup,
#     status, and smaps summed by mapping: the binary's file pages, shared libraries, [heap], other
#     anonymous mappings such as malloc arenas and thread stacks); the same idle figure again with
#     MALLOC_ARENA_MAX=2 (glibc: at most two malloc arenas instead of 8 per core); then after
#     signing in (argon2 gives each hashing thread, one per core, a 19 MiB work area once: signing
#     in on every thread first keeps that out of the later figures);
#  2. 256 connections: wrk -c256 on GET /cases/{id} for CONN_SECONDS (RSS sampled every second, the
#     peak reported), then 256 open event streams (GET /events, SSE) held for 10 s;
#  3. soak: a fresh start, sign-ins, SOAK_WARMUP s of load, then SOAK_SECONDS at a steady moderate
#     open-loop load (READ_RATE GET /cases/{id} and CREATE_RATE POST /cases a second), RSS every
#     10 s; start, end, peak and growth;
#  4. pages: a fresh start, then wrk with POOL connections for PAGE_SECONDS on GET /cases?limit=N,
#     N drawn from 1 to 200, the contract's range (a list page audits each case it returns; an
#     insert of each page's size once made a prepared statement per size per connection), RSS
#     before, peak and after.
# Goals (issue 7): <= 50 MiB idle, <= 128 MiB with 256 connections, < 10 % growth over the soak.
# Usage: bash bench/requests_data.sh && bash bench/memory.sh
# Knobs: STAGES (idle,arena,conns,soak; arena: the MALLOC_ARENA_MAX=2 idle figure; pages only when named),
#        CONN_SECONDS (20), SOAK_SECONDS (300), SOAK_WARMUP (30), PAGE_SECONDS (60),
#        READ_RATE (300), CREATE_RATE (50), and those of bench/requests_lib.sh (POOL, PORT, REDIS, …).
set -euo pipefail
cd "$(dirname "$0")/.."
STAGES=${STAGES:-idle,arena,conns,soak}
CONN_SECONDS=${CONN_SECONDS:-20}
SOAK_SECONDS=${SOAK_SECONDS:-300}
SOAK_WARMUP=${SOAK_WARMUP:-30}
PAGE_SECONDS=${PAGE_SECONDS:-60}
READ_RATE=${READ_RATE:-300}
CREATE_RATE=${CREATE_RATE:-50}
source bench/requests_lib.sh
cargo build --release -q -p integration-tests --example open_loop
echo "raw output in $OUT; $(nproc) cores, load average $(loadavg) at the start"
STREAMS=()
stop_streams() { for p in "${STREAMS[@]}"; do kill "$p" 2>/dev/null || true; done; STREAMS=(); }
trap 'stop_streams; cleanup' EXIT

# Signs in on every hashing thread: as many concurrent sign-ins as cores, twice.
warm_hashers() {
  local pids
  for _ in 1 2; do
    pids=()
    for _ in $(seq 1 "$(nproc)"); do
      post /auth/login "{\"tenant\":\"$TENANT\",\"email\":\"sup@$DOMAIN\",\"password\":\"$PASSWORD\"}" >/dev/null &
      pids+=($!)
    done
    wait "${pids[@]}"
  done
}

# Runs wrk with CONNECTIONS on PATH ({id} drawn from IDS) for SECONDS into OUTFILE, sampling the
# service's RSS every second; sets PEAK (MiB).
wrk_with_peak() { # connections seconds ids path outfile
  PEAK=0
  WRK_IDS=$3 WRK_PATH=$4 WRK_METHOD=GET WRK_TOKEN=$SUP \
    wrk -t2 -c"$1" -d"$2s" --latency -s bench/random_request.lua "http://127.0.0.1:$PORT" >"$5" &
  local wrk_pid=$!
  while kill -0 "$wrk_pid" 2>/dev/null; do
    PEAK=$(awk -v a="$PEAK" -v b="$(rss_mib)" 'BEGIN { print (b > a) ? b : a }')
    sleep 1
  done
  wait "$wrk_pid"
}

# What the idle RSS is made of.
breakdown() {
  echo "  binary: $(stat -c %s "$BENCH_BIN" | awk '{ printf "%.1f MiB", $1 / 1048576 }') on disk ($BENCH_BIN);" \
    "sections: $(size -A "$BENCH_BIN" 2>/dev/null | awk '$1 ~ /^\.(text|rodata|data\.rel\.ro|eh_frame|gcc_except_table)$/ { printf "%s %.1f MiB, ", $1, $2 / 1048576 }')"
  echo "  smaps_rollup: $(awk '/^(Rss|Pss|Anonymous|Pss_Anon|Pss_File|Pss_Shmem):/ { printf "%s %.1f MiB  ", $1, $2 / 1024 }' "/proc/$PID/smaps_rollup")"
  echo "  status: $(awk '/^(VmRSS|RssAnon|RssFile|RssShmem|VmData|VmSize|Threads):/ { if ($1 == "Threads:") printf "%s %s  ", $1, $2; else printf "%s %.1f MiB  ", $1, $2 / 1024 }' "/proc/$PID/status")"
  # smaps summed by mapping: the binary itself (code and read-only data, file-backed, and its
  # writable data), shared libraries, [heap] (brk: the main malloc arena), [stack], anonymous
  # (malloc's per-thread arenas, thread stacks, the allocator's large blocks).
  awk -v bin="$(readlink -f "$BENCH_BIN")" '
    /^[0-9a-f]+-[0-9a-f]+ / { perm = $2; path = $6; kind = (path == bin) ? "binary " (perm ~ /x/ ? "code" : perm ~ /w/ ? "data" : "rodata") \
      : (path ~ /\.so/) ? "libraries" : (path == "") ? "anonymous" : path; if (path == "") anon_maps++; next }
    /^Rss:/ { rss[kind] += $2 }
    /^Anonymous:/ { an[kind] += $2 }
    END { for (k in rss) if (rss[k] > 0) printf "    %-18s Rss %6.1f MiB (anonymous %5.1f)\n", k, rss[k] / 1024, an[k] / 1024
          printf "    (%d anonymous mappings)\n", anon_maps }' "/proc/$PID/smaps" | sort -k3 -rn
}

if [[ $STAGES == *idle* || $STAGES == *conns* ]]; then
  if [[ $STAGES == *arena* ]]; then
    start_service MALLOC_ARENA_MAX=2
    sleep 5
    echo "idle, 5 s after start, MALLOC_ARENA_MAX=2: $(rss_mib) MiB"
    breakdown
    stop_service
  fi
  start_service
  sleep 5
  echo "idle, 5 s after start, no request yet: $(rss_mib) MiB"
  breakdown
  prepare_actors
  prepare_ids
  warm_hashers
  sleep 2
  echo "idle, after sign-ins on every hashing thread: $(rss_mib) MiB"
fi

if [[ $STAGES == *conns* ]]; then
  renew SUP
  wrk_with_peak 256 "$CONN_SECONDS" "$OUT/case_ids" '/api/v1/cases/{id}' "$OUT/wrk_256.out"
  echo "wrk -c256 GET /cases/{id}, ${CONN_SECONDS} s: $(awk '/Requests\/sec/ { print $2 }' "$OUT/wrk_256.out") req/s," \
    "non-2xx $(awk '/Non-2xx/ { print $NF }' "$OUT/wrk_256.out" | grep . || echo 0); RSS peak $PEAK MiB, after $(rss_mib) MiB"
  renew SUP
  for _ in $(seq 1 256); do
    curl -sN "$BASE/events" -H "Authorization: Bearer $SUP" >/dev/null 2>&1 &
    STREAMS+=($!)
  done
  sleep 10
  open=$(ss -Htn state established "( sport = :$PORT )" | wc -l)
  echo "256 event streams held 10 s ($open connections established): RSS $(rss_mib) MiB"
  stop_streams
  sleep 2
  echo "after the streams closed: $(rss_mib) MiB"
fi

if [[ $STAGES == *soak* ]]; then
  [ -n "$PID" ] && stop_service
  start_service
  prepare_actors
  prepare_ids
  warm_hashers
  LOADERS=()
  load() { # seconds; runs both generators in the background
    OL_URL="$BASE/cases/{id}" OL_IDS=$OUT/case_ids OL_TOKEN=$SUP OL_RATE=$READ_RATE OL_SECONDS=$1 OL_WARMUP=0 \
      "$TARGET/release/examples/open_loop" >>"$OUT/soak_read.log" &
    LOADERS+=($!)
    OL_URL="$BASE/cases" OL_METHOD=POST OL_BODY=$CASE_BODY OL_IDS=$OUT/client_ids OL_TOKEN=$SUP OL_RATE=$CREATE_RATE \
      OL_SECONDS=$1 OL_WARMUP=0 "$TARGET/release/examples/open_loop" >>"$OUT/soak_create.log" &
    LOADERS+=($!)
  }
  load "$SOAK_WARMUP"
  wait "${LOADERS[@]}"; LOADERS=()
  renew SUP # a fresh 15-minute token for the soak
  echo "soak: $SOAK_SECONDS s at $READ_RATE GET + $CREATE_RATE POST /cases a second; RSS every 10 s (MiB)"
  load "$SOAK_SECONDS"
  : >"$OUT/soak_rss.tsv"
  for t in $(seq 0 10 "$SOAK_SECONDS"); do
    printf "%s\t%s\t%s\n" "$t" "$(rss_mib)" "$(loadavg)" | tee -a "$OUT/soak_rss.tsv"
    [ "$t" -lt "$SOAK_SECONDS" ] && sleep 10
  done
  wait "${LOADERS[@]}"
  echo "read:   $(tail -1 "$OUT/soak_read.log")"
  echo "create: $(tail -1 "$OUT/soak_create.log")"
  awk -F'\t' 'NR == 1 { s = $2 } { e = $2; if ($2 > p) p = $2 }
    END { printf "soak RSS: start %.1f MiB, end %.1f MiB, peak %.1f MiB, growth %.1f %%\n", s, e, p, (e - s) / s * 100 }' \
    "$OUT/soak_rss.tsv"
fi
echo "load average $(loadavg) at the end"

if [[ $STAGES == *pages* ]]; then
  [ -n "$PID" ] && stop_service
  start_service
  prepare_actors
  warm_hashers
  seq 1 200 >"$OUT/page_sizes"
  renew SUP
  before=$(rss_mib)
  wrk_with_peak "$POOL" "$PAGE_SECONDS" "$OUT/page_sizes" '/api/v1/cases?limit={id}' "$OUT/wrk_pages.out"
  echo "wrk -c$POOL GET /cases?limit=1..200, ${PAGE_SECONDS} s: $(awk '/Requests\/sec/ { print $2 }' "$OUT/wrk_pages.out") req/s," \
    "p99 $(awk '$1 == "99%" { print $2 }' "$OUT/wrk_pages.out"), non-2xx $(awk '/Non-2xx/ { print $NF }' "$OUT/wrk_pages.out" | grep . || echo 0);" \
    "RSS before $before MiB, peak $PEAK MiB, after $(rss_mib) MiB"
fi

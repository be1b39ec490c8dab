#!/usr/bin/env bash
# CPU profile of the release service under wrk load on the bench/requests_data.sh database:
# perf record (DWARF call graphs: the release build keeps line tables, not frame pointers) of the
# service process only, while wrk drives REQUEST (read: GET /cases/{id}; create: POST /cases) with
# POOL connections. Prints the top frames by own time and by time including callees, and a
# grouping of own time by crate, and leaves perf.data in $OUT.
# Usage: bash bench/requests_data.sh && bash bench/profile.sh
# Knobs: REQUEST (read), SECONDS_RECORDED (20), FREQ (199 samples a second per core), TOP (30), and
#        those of bench/requests_lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUEST=${REQUEST:-read}
SECONDS_RECORDED=${SECONDS_RECORDED:-20}
FREQ=${FREQ:-199}
TOP=${TOP:-30}
source bench/requests_lib.sh
command -v perf >/dev/null || { echo "perf is needed" >&2; exit 1; }
echo "raw output in $OUT; $(nproc) cores, load average $(loadavg) at the start"
start_service
prepare_actors
prepare_ids
renew SUP
if [ "$REQUEST" = read ]; then
  export WRK_IDS=$OUT/case_ids WRK_PATH='/api/v1/cases/{id}' WRK_METHOD=GET
else
  export WRK_IDS=$OUT/client_ids WRK_PATH=/api/v1/cases WRK_METHOD=POST WRK_BODY=$CASE_BODY
fi
export WRK_TOKEN=$SUP
wrk -t2 -c"$POOL" -d"$((SECONDS_RECORDED + 8))s" --latency -s bench/random_request.lua "http://127.0.0.1:$PORT" \
  >"$OUT/wrk_profile.out" &
WRK=$!
sleep 3
perf record -F "$FREQ" --call-graph dwarf,16384 -p "$PID" -o "$OUT/perf.data" -- sleep "$SECONDS_RECORDED" 2>"$OUT/perf_record.log"
wait "$WRK"
echo "wrk during the profile: $(awk '/Requests\/sec/ { print $2 }' "$OUT/wrk_profile.out") req/s (perf slows the service)"
echo "== own time (self), top $TOP"
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio -g none --percent-limit 0.3 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -"$TOP" | tee "$OUT/self.txt" || true # head closes the pipe early
echo "== including callees (children), top $TOP"
perf report -i "$OUT/perf.data" --children --sort symbol --stdio -g none --percent-limit 2 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -"$TOP" | tee "$OUT/children.txt" || true
echo "== own time by shared object"
perf report -i "$OUT/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -10 || true
echo "== own time by component (sum of matching symbols)"
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio -g none --percent-limit 0.01 2>/dev/null \
  | grep -v '^#' | grep -v '^$' >"$OUT/all_self.txt" || true
for k in 'curve25519' 'rustls|ring::' 'sqlx' 'sea_orm|sea_query' 'actix' 'malloc|free|_int_' 'regex_lite' 'aes_gcm|aes::'; do
  printf "%-20s %s\n" "$k" "$(grep -E "$k" "$OUT/all_self.txt" | awk '{ s += $1 } END { printf "%.1f %%", s }')"
done
echo "load average $(loadavg) at the end"

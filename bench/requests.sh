#!/usr/bin/env bash
# The service against the database alone, request by request, on the data of
# bench/requests_data.sh (1,000,000 cases, 50 agencies), for POST /cases, GET /cases/{id} and
# POST /referrals (a police liaison at 51 Division, where three case managers are on shift).
#  1. capture: the exact SQL the service sends for one request of each (log_statement = 'all' for
#     the runtime role vcao_app in this database only, while one request of each runs), written to
#     $OUT/sql_<request>.log with a statement count;
#  2. closed: wrk (closed loop, as fast as answers come) against pgbench running
#     bench/pgbench/<request>.sql (the same statements and transactions, as vcao_app, prepared,
#     parameters randomised), both with POOL connections (the service's pool) for DURATION each,
#     RUNS times, alternating; prints every run and the medians and ratios;
#  3. open: bench/../tests/examples/open_loop.rs at OPEN_FRACTION (0.5) of the closed-loop median
#     of each request for OPEN_SECONDS, latency from the intended send time.
# Usage: bash bench/requests_data.sh && bash bench/requests.sh
# Knobs: STAGES (capture,closed,open), RUNS (3), DURATION (20s), OPEN_SECONDS (30), OPEN_FRACTION
#        (0.5), OPEN_RATES ("create=R read=R referral=R" to skip the closed loop's rates), POOL (16),
#        PORT (18094), BENCH_DB (vcao_perf), PGHOST_URL, REDIS (redis://127.0.0.1:6379; empty: none),
#        TENANT (bench-agency-01, the largest), PG_LOG (/var/log/postgresql/postgresql-15-main.log),
#        BENCH_BIN, OUT (a directory for the raw output; default a new one under /tmp), REQUESTS
#        ("create read referral": which to run), PGBENCH_SQL (bench/pgbench: where the pgbench
#        scripts are; an older checkout's, to measure an older BENCH_BIN against its own SQL),
#        SPLIT_CORES (unset; 1: PostgreSQL alone on the last core, the service and the load
#        generators on the others, so the closed loop meets the database's limit, as where the
#        database has a host of its own; see bench/requests_lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
STAGES=${STAGES:-capture,closed,open}
RUNS=${RUNS:-3}
DURATION=${DURATION:-20s}
OPEN_SECONDS=${OPEN_SECONDS:-30}
OPEN_FRACTION=${OPEN_FRACTION:-0.5}
PG_LOG=${PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
source bench/requests_lib.sh
if [[ $STAGES == *open* ]]; then
  cargo build --release -q -p integration-tests --example open_loop
fi
echo "raw output in $OUT; $CORES cores${SPLIT_CORES:+ (PostgreSQL alone on core $((CORES - 1)), the rest on the others)}, load average $(loadavg) at the start"
read -r -a REQUESTS <<<"${REQUESTS:-create read referral}"
declare -A NAME=([create]="POST /cases" [read]="GET /cases/{id}" [referral]="POST /referrals")

# One request of each kind, with curl. Ids are the first of the files.
one_request() {
  case $1 in
    create) post /cases "${CASE_BODY//\{id\}/$(sed -n 2p "$OUT/client_ids")}" "$SUP" ;;
    read) curl -sf "$BASE/cases/$(sed -n 2p "$OUT/case_ids")" -H "Authorization: Bearer $SUP" ;;
    referral) post /referrals "$(referral_body | sed 's/{id}/capture/')" "$LIAISON" ;;
  esac
}

if [[ $STAGES == *capture* ]]; then
  echo "== capture: the SQL of one request"
  psql_owner -c "ALTER ROLE vcao_app IN DATABASE $DB SET log_statement = 'all'"
  # Background work (audit sealer, escalation sweep) every minute instead of every second, so it
  # is unlikely to fall inside a captured request; its statements are recognisable anyway.
  start_service VCAO_AUDIT_SEAL_INTERVAL_MS=60000 VCAO_ESCALATION_SWEEP_INTERVAL_MS=60000
  prepare_actors
  prepare_ids
  for r in "${REQUESTS[@]}"; do one_request "$r" >/dev/null; done # warm: tenant cipher cached
  sleep 0.5
  for r in "${REQUESTS[@]}"; do
    psql "${PG%%//*}//vcao_app@${PG#*@}/$DB" -X -q -c "SELECT 'capture-begin-$r-$$'" >/dev/null
    sleep 0.2
    one_request "$r" >"$OUT/response_$r.json"
    sleep 0.2
    psql "${PG%%//*}//vcao_app@${PG#*@}/$DB" -X -q -c "SELECT 'capture-end-$r-$$'" >/dev/null
  done
  psql_owner -c "ALTER ROLE vcao_app IN DATABASE $DB RESET log_statement"
  stop_service
  for r in "${REQUESTS[@]}"; do
    # The runtime role's statements between the two markers, grouped into transactions per backend
    # (in commit order); a statement's parameters follow it indented. Transactions of the audit
    # sealer (they touch audit_seals) are left out: background work, not the request's.
    awk -v b="capture-begin-$r-$$" -v e="capture-end-$r-$$" '
      index($0, b) { on = 1; next }
      index($0, e) { on = 0 }
      !on || !/vcao_app@/ { next }
      { match($0, /\[[0-9]+\]/); pid = substr($0, RSTART + 1, RLENGTH - 2); line = $0 }
      /LOG:  (statement|execute)/ {
        sub(/^.*LOG:  /, "", line)
        # A statement outside a transaction (autocommit) is a unit of its own, written out at
        # the next statement logged (its parameters come right after it).
        if (ac != "") { flush(ac); ac = "" }
        if (line ~ /^statement: BEGIN/) intx[pid] = 1
        buf[pid] = buf[pid] line "\n"
        if (line ~ /^statement: (COMMIT|ROLLBACK)/) { flush(pid); intx[pid] = 0 }
        else if (!intx[pid]) ac = pid
        next
      }
      /DETAIL:  parameters:/ { sub(/^.*DETAIL:  /, "    ", line); buf[pid] = buf[pid] line "\n" }
      function flush(p) {
        if (buf[p] != "" && buf[p] !~ /audit_seals|capture-|^execute [a-z0-9_]+: SELECT "tenants"."id" FROM "tenants"\n$/) out[++n] = buf[p]
        buf[p] = ""
      }
      END { if (ac != "") flush(ac); for (i = 1; i <= n; i++) printf "%s", out[i] }' "$PG_LOG" >"$OUT/sql_$r.log"
    # A simple-protocol message may hold several statements (a transaction's first message: the
    # tenant and the session check), so messages (round trips) and statements are counted apart.
    messages=$(grep -vc '^    ' "$OUT/sql_$r.log" || true)
    joined=$(grep '^statement: ' "$OUT/sql_$r.log" | grep -o '; ' | wc -l || true)
    echo "-- ${NAME[$r]}: $((messages + joined)) statements in $messages messages"
    grep -v '^    ' "$OUT/sql_$r.log" | cut -c1-230 || true
  done
fi

jwt_claim() { # token claim
  local p; p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
  while (( ${#p} % 4 )); do p+='='; done
  base64 -d <<<"$p" | jq -r ".$2"
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Open referrals pile up (nobody accepts them here) and the assignment reads every open referral of
# the workers on duty, so each referral run starts from none of the liaison's referrals left.
# VACUUM after the DELETE: otherwise the dead rows stay in ix_referrals_assigned_to and the
# open-load count wades through every earlier run's referrals (each run slower than the last).
reset_referrals() {
  psql_owner -c "DELETE FROM referrals WHERE tenant_id = '$TENANT_ID' AND created_by = '$(jwt_claim "$LIAISON" sub)'"
  psql_owner -c "VACUUM referrals"
}
# Where the CPU goes during a run: the machine's busy time (/proc/stat: user, nice, system, irq,
# softirq), the service's own (/proc/PID/stat) and the load generator's (the shell's `times` for
# its children), in CPU milliseconds; what remains is PostgreSQL (and the rest of the machine).
HZ=$(getconf CLK_TCK)
machine_ms() { awk -v hz="$HZ" '/^cpu / { printf "%d\n", ($2 + $3 + $4 + $7 + $8) * 1000 / hz }' /proc/stat; }
service_ms() { awk -v hz="$HZ" '{ printf "%d\n", ($14 + $15) * 1000 / hz }' "/proc/$PID/stat"; }
# (`times` in this shell, not in a command substitution, whose shell has no children of its own.)
children_ms() { # variable
  times >"$OUT/times"
  printf -v "$1" '%s' "$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }' "$OUT/times")"
}
# CPU milliseconds per request of the service, the load generator and the rest: "svc gen rest".
cpu_split() { # requests machine_before machine_after service_before service_after generator_ms
  awk -v n="$1" -v m="$(( $3 - $2 ))" -v s="$(( $5 - $4 ))" -v g="$6" \
    'BEGIN { if (n < 1) n = 1; printf "%.2f %.2f %.2f\n", s / n, g / n, (m - s - g) / n }'
}

# wrk for request $1: prints "req/s p50_ms p99_ms errors" and the CPU split per request.
wrk_run() {
  local path body= method=GET ids=$OUT/client_ids token=$SUP
  case $1 in
    create) path=/api/v1/cases; body=$CASE_BODY; method=POST ;;
    read) path='/api/v1/cases/{id}'; ids=$OUT/case_ids ;;
    referral) path=/api/v1/referrals; body=$(referral_body); method=POST; token=$LIAISON ;;
  esac
  local m0 s0 g0; m0=$(machine_ms); s0=$(service_ms); children_ms g0
  WRK_IDS=$ids WRK_PATH=$path WRK_BODY=$body WRK_METHOD=$method WRK_TOKEN=$token \
    wrk -t2 -c"$POOL" -d"$DURATION" --latency -s bench/random_request.lua "http://127.0.0.1:$PORT" >"$OUT/wrk.out"
  local m1 s1 g1; m1=$(machine_ms); s1=$(service_ms); children_ms g1
  cat "$OUT/wrk.out" >>"$OUT/wrk_$1.log"
  local result; result=$(awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /requests in/ { n = $1 } /Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { err = $NF } /Socket errors/ { err += 0 }
    END { printf "%.1f %.2f %.2f %d %d\n", rps, p50, p99, err, n }' "$OUT/wrk.out")
  echo "${result% *} $(cpu_split "${result##* }" "$m0" "$m1" "$s0" "$s1" "$((g1 - g0))")"
}
# pgbench for request $1: prints "tps latency_avg_ms" and the CPU split per transaction.
pgbench_run() {
  local user=$SUP session
  [ "$1" = referral ] && user=$LIAISON
  session=$(jwt_claim "$user" sid)
  local m0 s0 g0; m0=$(machine_ms); s0=$(service_ms); children_ms g0
  sed "s/@TENANT@/$TENANT_ID/g" "${PGBENCH_SQL:-bench/pgbench}/$1.sql" >"$OUT/pgbench_$1.sql"
  pgbench -h 127.0.0.1 -p 5432 -U vcao_app -n -M prepared -c "$POOL" -j 2 -T "${DURATION%s}" \
    -D tenant="$TENANT_ID" -D session="$session" -D user="$(jwt_claim "$user" sub)" -D nids=10000 \
    -D division="$DIVISION" -D w1="${WORKERS[0]}" -D w2="${WORKERS[1]}" -D w3="${WORKERS[2]}" \
    -f "$OUT/pgbench_$1.sql" "$DB" >"$OUT/pgbench.out" 2>&1 || { cat "$OUT/pgbench.out" >&2; exit 1; }
  local m1 s1 g1; m1=$(machine_ms); s1=$(service_ms); children_ms g1
  cat "$OUT/pgbench.out" >>"$OUT/pgbench_$1.log"
  local result; result=$(awk '/^tps/ { tps = $3 } /latency average/ { lat = $4 } /transactions actually processed/ { n = $NF }
    END { printf "%.1f %.2f %d\n", tps, lat, n }' "$OUT/pgbench.out")
  echo "${result% *} $(cpu_split "${result##* }" "$m0" "$m1" "$s0" "$s1" "$((g1 - g0))")"
}

if [[ $STAGES == *closed* || $STAGES == *open* ]]; then
  start_service
  prepare_actors
  prepare_ids
  mapfile -t WORKERS < <(psql_owner -c "SELECT u.id FROM users u WHERE u.tenant_id = '$TENANT_ID' AND u.email IN ('cm1@$DOMAIN', 'cm2@$DOMAIN', 'cm3@$DOMAIN') ORDER BY u.id")
  # pgbench's helpers: the same ids the load generators draw from, and v7 ids as the service makes.
  paste -d' ' <(seq 1 10000) "$OUT/case_ids" "$OUT/client_ids" | tr ' ' '\t' >"$OUT/bench_ids.tsv"
  psql_owner <<SQL
DROP TABLE IF EXISTS bench_ids;
CREATE TABLE bench_ids (n int PRIMARY KEY, case_id uuid NOT NULL, client_id uuid NOT NULL);
\copy bench_ids FROM '$OUT/bench_ids.tsv'
GRANT SELECT ON bench_ids TO vcao_app;
CREATE OR REPLACE FUNCTION bench_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS \$\$
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
    substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
\$\$;
GRANT EXECUTE ON FUNCTION bench_uuid_v7() TO vcao_app;
ANALYZE bench_ids;
SQL
fi

declare -A SVC_MEDIAN=()
if [[ $STAGES == *closed* ]]; then
  echo "== closed loop: wrk and pgbench, $POOL connections, $DURATION each, $RUNS runs alternating"
  echo "(cpu: CPU milliseconds per request of the service, of the load generator, and the rest of the machine, mostly PostgreSQL; wrk's run, then pgbench's)"
  printf "%-16s %3s %9s %8s %8s %6s %9s %8s %6s %-17s %-17s %s\n" request run svc_req/s p50_ms p99_ms errors pgb_tps pgb_ms ratio cpu_svc/gen/rest cpu_pgb/gen/rest load
  for r in "${REQUESTS[@]}"; do
    : >"$OUT/closed_$r.tsv"
    for i in $(seq 1 "$RUNS"); do
      renew SUP; renew LIAISON
      [ "$r" = referral ] && reset_referrals
      load=$(loadavg)
      read -r rps p50 p99 err wsvc wgen wrest < <(wrk_run "$r")
      [ "$r" = referral ] && reset_referrals
      read -r tps lat _ pgen prest < <(pgbench_run "$r")
      ratio=$(awk -v a="$rps" -v b="$tps" 'BEGIN { printf "%.2f", a / b }')
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$i" "$rps" "$p50" "$p99" "$err" "$tps" "$lat" "$load" >>"$OUT/closed_$r.tsv"
      printf "%-16s %3s %9s %8s %8s %6s %9s %8s %6s %-17s %-17s %s\n" "${NAME[$r]}" "$i" "$rps" "$p50" "$p99" "$err" "$tps" "$lat" "$ratio" \
        "$wsvc/$wgen/$wrest" "-/$pgen/$prest" "$load"
    done
    svc=$(cut -f2 "$OUT/closed_$r.tsv" | median)
    pgb=$(cut -f6 "$OUT/closed_$r.tsv" | median)
    SVC_MEDIAN[$r]=$svc
    printf "%-16s median: service %s req/s, pgbench %s tps, ratio %s (p50 %s ms, p99 %s ms)\n" "${NAME[$r]}" "$svc" "$pgb" \
      "$(awk -v a="$svc" -v b="$pgb" 'BEGIN { printf "%.2f", a / b }')" \
      "$(cut -f3 "$OUT/closed_$r.tsv" | median)" "$(cut -f4 "$OUT/closed_$r.tsv" | median)"
  done
  [ "${#WORKERS[@]}" = 3 ] || true
  reset_referrals
  echo "service RSS after the closed loop: $(rss_mib) MiB"
fi

if [[ $STAGES == *open* ]]; then
  declare -A RATE=()
  for kv in ${OPEN_RATES:-}; do RATE[${kv%%=*}]=${kv#*=}; done
  echo "== open loop: $OPEN_SECONDS s per request at $OPEN_FRACTION of the closed-loop median (latency from the intended send time, ms)"
  printf "%-16s %8s %8s %7s %7s %7s %7s %8s %8s %s\n" request rate sent errors p50 p90 p99 p99.9 max load
  for r in "${REQUESTS[@]}"; do
    rate=${RATE[$r]:-}
    [ -z "$rate" ] && rate=$(awk -v m="${SVC_MEDIAN[$r]:-0}" -v f="$OPEN_FRACTION" 'BEGIN { printf "%d", m * f }')
    [ "$rate" -gt 0 ] || { echo "no rate for $r: run the closed stage or set OPEN_RATES" >&2; exit 1; }
    renew SUP; renew LIAISON
    [ "$r" = referral ] && reset_referrals
    ids=$OUT/client_ids url="$BASE/cases" body=$CASE_BODY method=POST token=$SUP
    [ "$r" = read ] && { ids=$OUT/case_ids; url="$BASE/cases/{id}"; body=; method=GET; }
    [ "$r" = referral ] && { url="$BASE/referrals"; body=$(referral_body); token=$LIAISON; }
    load=$(loadavg)
    line=$(OL_URL=$url OL_METHOD=$method OL_BODY=$body OL_IDS=$ids OL_TOKEN=$token OL_RATE=$rate \
      OL_SECONDS=$OPEN_SECONDS "$TARGET/release/examples/open_loop")
    echo "$r $line $load" >>"$OUT/open.log"
    # sent N ok N errors N rate R p50 A p90 B p99 C p999 D max E
    awk -v n="${NAME[$r]}" -v l="$load" '{ printf "%-16s %8s %8s %7s %7s %7s %7s %7s %8s %s\n", n, $8, $2, $6, $10, $12, $14, $16, $18, l }' <<<"$line"
  done
  reset_referrals
  echo "service RSS after the open loop: $(rss_mib) MiB"
fi
psql_owner -c "SELECT count(*) AS unsealed_audit_events FROM audit_events e WHERE e.tenant_id = '$TENANT_ID' AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.tenant_id = e.tenant_id AND s.event_id = e.id)" | sed 's/^/unsealed audit events of the tenant now: /'
echo "load average $(loadavg) at the end"

#!/usr/bin/env bash
# Benchmark: the same routing in Kamailio (bench/bench.cfg), the lookup done
# by polyai_handoff ("ours") or by http_client_query + jansson_get ("peer"),
# with the API healthy (the sandbox) and silent (the sandbox's blackhole
# listener: accepts, never answers). SIPp offers calls at rising rates until
# calls fail; a call is served when its 200 OK (the UAS answers at once)
# reaches the UAC within 4 s of its INVITE; latency is INVITE -> 200 OK at
# the UAC, over every call answered.
# Then "API slow": a sandbox answering every lookup --delay-ms late, each
# call with an id of its own (no single flight), at fixed rates, for no
# lookup, ours sync and async, the peer and the peer in the async module
# (async_task_route), each rate on a freshly started Kamailio; and, with the
# API healthy (distinct ids too), Kamailio's CPU per call of ours async
# against ours sync, in rounds.
#
# Env: LIB_DIR INCLUDE_DIR SANDBOX FIXTURES (see common.sh), and
#   BENCH_RATES          calls/s to try in turn, until a step fails
#                        (default "250 500 1000 1500 2000 3000 4000 5000 6000")
#   BENCH_STEP_SECONDS   seconds per rate (default 5)
#   BENCH_SILENT_RATE    calls/s offered with the API silent (default 20)
#   BENCH_SILENT_SECONDS seconds of that (default 10)
#   BENCH_WORKERS        Kamailio workers (default 4)
#   BENCH_INCLUDE        our include list (default: the fields the peer's
#                        script copies, customer_id,customer.tier,handoff_to;
#                        empty: every field)
#   BENCH_SCENARIOS      which to run (default "ramp slow"): ramp = API
#                        healthy and silent, and the CR/LF check; slow = API
#                        slow and the async/sync CPU comparison
#   BENCH_SLOW_RATES     calls/s offered with the API slow (default "50 250 1000")
#   BENCH_SLOW_IMPLS     what runs there (default "none ours ours-async peer
#                        peer-async"; the targets need all five)
#   BENCH_SLOW_SECONDS   seconds per slow rate (default 10)
#   BENCH_SLOW_DELAY_MS  the API's delay (default 500)
#   BENCH_ASYNC_WORKERS  async processes, ours and the peer's (default 1)
#   BENCH_CPU_RATE       calls/s of the CPU comparison (default 500)
#   BENCH_CPU_SECONDS    seconds per run of it (default 10)
#   BENCH_CPU_ROUNDS     rounds of it, each none, sync, async (default 5)
# A call is served only if the UAS saw it routed to the queue its lookup
# should give, with the expected X-PolyAI-Handoff-Status (bench/uas.xml).
# Prints Markdown tables; also written to bench/results/kamailio.md (and
# $KAMAILIO_BUILD_DIR/bench/results.md).
set -uo pipefail

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

RATES=${BENCH_RATES:-250 500 1000 1500 2000 3000 4000 5000 6000}
STEP=${BENCH_STEP_SECONDS:-5}
SILENT_RATE=${BENCH_SILENT_RATE:-20}
SILENT_SECONDS=${BENCH_SILENT_SECONDS:-10}
WORKERS=${BENCH_WORKERS:-4}
INCLUDE=${BENCH_INCLUDE-customer_id,customer.tier,handoff_to}
SCENARIOS=" ${BENCH_SCENARIOS:-ramp slow} "
SLOW_RATES=${BENCH_SLOW_RATES:-50 250 1000}
SLOW_SECONDS=${BENCH_SLOW_SECONDS:-10}
SLOW_DELAY_MS=${BENCH_SLOW_DELAY_MS:-500}
ASYNC_WORKERS=${BENCH_ASYNC_WORKERS:-1}
CPU_RATE=${BENCH_CPU_RATE:-500}
CPU_SECONDS=${BENCH_CPU_SECONDS:-10}
CPU_ROUNDS=${BENCH_CPU_ROUNDS:-5}
# One async process holds every lookup in flight (rate x delay: 500 at
# 1,000 calls/s and 500 ms); the library's defaults are 256 (max_in_flight)
# and 512 (max_connections) per process, async_max_pending 4096 in all.
ASYNC_IN_FLIGHT=2048
ASYNC_MAX_PENDING=4096
# Transactions live in shared memory for seconds after their 200 OK: at
# 4,000 calls/s the default 256 MB runs out (build_cell: out of mem).
export KAMAILIO_SHM_MB=${KAMAILIO_SHM_MB:-1024}
# SIPp's default 64 KB socket buffers drop replies in the bursts that follow
# a stall; that would measure SIPp, not Kamailio (capped by net.core.rmem_max).
SIPP_BUFFER=1048576

check_inputs
"$HERE/build.sh" >/dev/null || die "module build failed"

WORK=$BUILD_DIR/bench
rm -rf "$WORK"
mkdir -p "$WORK"
trap stop_started EXIT
trap 'exit 130' INT TERM

# A second sandbox with a value holding CR/LF only (see injection_check).
mkdir -p "$WORK/injection-sandbox"
start_sandbox "$WORK/injection-sandbox" "$HERE/bench/injection-fixtures.json"
INJECTION_URL=$SANDBOX_URL
start_sandbox "$WORK"
MAIN_SANDBOX_URL=$SANDBOX_URL MAIN_BLACKHOLE_URL=$BLACKHOLE_URL MAIN_SANDBOX_PID=$SANDBOX_PID
echo sandbox-key >"$WORK/api-key"
# Same deadline as the peer's connection_timeout (1 s); the breaker opens
# after 2 failures in a row and probes again every 5 s.
write_conf() { # name url [extra "key = value" lines...]
  local name=$1 url=$2
  shift 2
  write_polyai_conf "$WORK/polyai-$name.conf" "$url" "$WORK/api-key" \
    "timeout_ms = 1000" "breaker_failures = 2" "breaker_cooldown_ms = 5000" \
    ${INCLUDE:+"include = $INCLUDE"} "$@"
}
write_conf healthy "$SANDBOX_URL"
write_conf silent "$BLACKHOLE_URL"
write_conf injection "$INJECTION_URL"

# API slow: DISTINCT_IDS handoffs, one per call of the longest step
# (distinct-N, all to billing), served by two more sandboxes: one answering
# SLOW_DELAY_MS late ("slow"), one at once ("distinct").
if [[ $SCENARIOS == *" slow "* ]]; then
  max_rate=0
  for rate in $SLOW_RATES; do [ "$rate" -gt "$max_rate" ] && max_rate=$rate; done
  DISTINCT_IDS=$((max_rate * SLOW_SECONDS))
  [ $((CPU_RATE * CPU_SECONDS)) -gt "$DISTINCT_IDS" ] && DISTINCT_IDS=$((CPU_RATE * CPU_SECONDS))
  mkdir -p "$WORK/slow-sandbox" "$WORK/distinct-sandbox"
  awk -v n="$DISTINCT_IDS" 'BEGIN {
    print "{\"api_key\": \"sandbox-key\", \"account_id\": \"acme\", \"project_id\": \"PROJECT-support\", \"handoffs\": ["
    for (i = 1; i <= n; i++)
      printf "  %s{\"id\": \"distinct-conv-%d\", \"shared_id\": \"distinct-%d\", \"data\": {\"handoff_to\": \"billing\", \"customer_id\": \"%d\", \"customer\": {\"tier\": \"gold\"}}}\n", (i > 1 ? "," : ""), i, i, i
    print "]}"
  }' >"$WORK/distinct-fixtures.json"
  # SIPp numbers its calls from 1: call N asks for distinct-N.
  sed 's/\[shared_id\]/distinct-[call_number]/' "$HERE/bench/uac.xml" >"$WORK/uac-distinct.xml"
  start_sandbox "$WORK/slow-sandbox" "$WORK/distinct-fixtures.json" --delay-ms "$SLOW_DELAY_MS"
  SLOW_URL=$SANDBOX_URL SLOW_SANDBOX_PID=$SANDBOX_PID
  start_sandbox "$WORK/distinct-sandbox" "$WORK/distinct-fixtures.json"
  DISTINCT_URL=$SANDBOX_URL DISTINCT_SANDBOX_PID=$SANDBOX_PID
  write_conf slow "$SLOW_URL" "max_in_flight = $ASYNC_IN_FLIGHT" "max_connections = $ASYNC_IN_FLIGHT"
  write_conf distinct "$DISTINCT_URL" "max_in_flight = $ASYNC_IN_FLIGHT" "max_connections = $ASYNC_IN_FLIGHT"
  SANDBOX_URL=$MAIN_SANDBOX_URL BLACKHOLE_URL=$MAIN_BLACKHOLE_URL SANDBOX_PID=$MAIN_SANDBOX_PID
fi

RESULTS=$WORK/results.md
: >"$RESULTS"
out() { echo "$*" | tee -a "$RESULTS"; }

KAM_PORT=$(free_udp_port)
UAS_PORT=$(free_udp_port)

# start_impl IMPL API URL LOGDIR: Kamailio with bench.cfg for this
# implementation (none, peer, peer-async, ours, ours-async), the API at URL
# (ours reads polyai-API.conf).
start_impl() {
  local impl=$1 api=$2 url=$3 logdir=$4
  local defs=(-A "QUEUE_HOST=\"127.0.0.1:$UAS_PORT\"" -A "WORKERS=$WORKERS")
  case $impl in
    none) defs+=(-A NOLOOKUP) ;;
    peer | peer-async) defs+=(-A PEER -A "API_URL=\"$url\"" -A 'API_KEY="sandbox-key"') ;;
    *) defs+=(-A "POLYAI_CONFIG=\"$WORK/polyai-$api.conf\"") ;;
  esac
  case $impl in
    peer-async) defs+=(-A PEER_ASYNC -A "ASYNC_WORKERS=$ASYNC_WORKERS") ;;
    ours-async) defs+=(-A ASYNC -A "ASYNC_WORKERS=$ASYNC_WORKERS" -A "ASYNC_MAX_PENDING=$ASYNC_MAX_PENDING") ;;
  esac
  mkdir -p "$logdir"
  start_kamailio "$logdir/kamailio.log" "$KAM_PORT" "$HERE/bench/bench.cfg" "${defs[@]}"
}

# start_uas DIR QUEUE STATUS_REGEX [extra sipp args]: the queue, which fails
# any call not routed to QUEUE or without an X-PolyAI-Handoff-Status matching.
start_uas() {
  local dir=$1 queue=$2 status=$3
  shift 3
  sed -e "s/@QUEUE@/$queue/" -e "s/@STATUS@/$status/" "$HERE/bench/uas.xml" >"$dir/uas.xml"
  (cd "$dir" && exec sipp -sf "$dir/uas.xml" -i 127.0.0.1 -p "$UAS_PORT" \
    -timeout 900 -recv_timeout 10000 -buff_size "$SIPP_BUFFER" -nostdin "$@" >"$dir/uas.out" 2>&1) &
  UAS_PID=$!
  STARTED_PIDS+=("$UAS_PID")
  wait_udp_port "$UAS_PORT" "$UAS_PID" || die "the UAS did not start"
}

# stop_pid PID: stops a process this script started (TERM, then KILL after
# 10 s) and forgets it, so that the exit trap never signals a reused pid.
stop_pid() {
  local pid=$1 p keep=()
  kill "$pid" 2>/dev/null
  for _ in $(seq 100); do
    # A child that has exited stays a zombie (kill -0 succeeds) until waited.
    case $(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) in "" | Z) break ;; esac
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  for p in "${STARTED_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  STARTED_PIDS=("${keep[@]}")
}

# A value of the final "Cumulative" column of SIPp's statistics screen.
sipp_stat() { # file label
  awk -F'|' -v l="$2" 'index($1, l) { v = $3 } END { gsub(/[^0-9.]/, "", v); print (v == "" ? 0 : v) }' "$1"
}

percentile() { # rtt.csv p -> ms
  tail -n +2 "$1" 2>/dev/null | cut -d';' -f2 | sort -n |
    awk -v p="$2" '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit } i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; printf "%.0f\n", a[i] }'
}

# CPU time (clock ticks, user + system) used so far by these processes.
cpu_ticks() {
  local p t=0
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
  done
  echo "$t"
}
kamailio_pids() { echo "$KAMAILIO_PID" $(pgrep -P "$KAMAILIO_PID"); }
HZ=$(getconf CLK_TCK)

# Calls SIPp may hold open: 5 s worth (or OPEN_CALLS, set by the caller),
# within the open-file limit.
max_open_calls() {
  local want=${OPEN_CALLS:-$(($1 * 5 + 100))} cap
  cap=$(($(ulimit -n) - 200))
  [ "$want" -lt "$cap" ] && echo "$want" || echo "$cap"
}

# uac_run DIR RATE SECONDS [API_PID [SCENARIO SIPP_ARGS...]]: SIPp offers
# RATE calls/s for SECONDS (bench/uac.xml for acme-call-123 unless told) and
# sets RUN_CALLS RUN_WALL RUN_ANSWERED RUN_SERVED (200 OK within 4 s)
# RUN_WITHIN_1S RUN_RTT (SIPp's RTT file), RUN_KCPU and RUN_SCPU (CPU of
# Kamailio's processes and of API_PID during the run, µs per call offered).
uac_run() {
  local dir=$1 rate=$2 secs=$3 api_pid=${4:-$SANDBOX_PID} t0 t1 k0 k1 s0 s1
  local scenario=(-sf "$HERE/bench/uac.xml" -key shared_id acme-call-123)
  [ $# -gt 4 ] && scenario=(-sf "${@:5}")
  RUN_CALLS=$((rate * secs))
  mkdir -p "$dir"
  # shellcheck disable=SC2046
  k0=$(cpu_ticks $(kamailio_pids))
  s0=$(cpu_ticks "$api_pid")
  t0=$(date +%s.%N)
  # SIPp's -timeout did not end runs whose INVITEs went unanswered (each is
  # retransmitted for 32 s): timeout(1) is the hard bound.
  (cd "$dir" && exec timeout -k 5 $((secs + 60)) sipp "127.0.0.1:$KAM_PORT" "${scenario[@]}" \
    -i 127.0.0.1 -r "$rate" -m "$RUN_CALLS" -l "$(max_open_calls "$rate")" -timeout $((secs + 20)) \
    -trace_rtt -rtt_freq 1 -trace_err -error_file "$dir/uac.err" -buff_size "$SIPP_BUFFER" -nostdin >"$dir/uac.out" 2>&1)
  t1=$(date +%s.%N)
  # shellcheck disable=SC2046
  k1=$(cpu_ticks $(kamailio_pids))
  s1=$(cpu_ticks "$api_pid")
  RUN_KCPU=$(awk -v d=$((k1 - k0)) -v c="$RUN_CALLS" -v hz="$HZ" 'BEGIN { printf "%.0f", d * 1e6 / hz / c }')
  RUN_SCPU=$(awk -v d=$((s1 - s0)) -v c="$RUN_CALLS" -v hz="$HZ" 'BEGIN { printf "%.0f", d * 1e6 / hz / c }')
  RUN_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  RUN_RTT=$(ls "$dir"/*_rtt.csv 2>/dev/null | head -n1)
  # SIPp times each recv from the previous message, so a 200 that follows a
  # late 100 still counts as successful: served is judged from the RTT file.
  RUN_ANSWERED=$(sipp_stat "$dir/uac.out" "Successful call")
  RUN_SERVED=$(tail -n +2 "$RUN_RTT" 2>/dev/null | awk -F';' '$2 <= 4000 { n++ } END { print n + 0 }')
  RUN_WITHIN_1S=$(tail -n +2 "$RUN_RTT" 2>/dev/null | awk -F';' '$2 <= 1000 { n++ } END { print n + 0 }')
}

# run_step DIR RATE SECONDS: sets STEP_OK, and prints a table row.
run_step() {
  local dir=$1 rate=$2 secs=$3 p50 p99
  uac_run "$dir" "$rate" "$secs"
  p50=$(percentile "$RUN_RTT" 50)
  p99=$(percentile "$RUN_RTT" 99)
  STEP_SERVED=$(awk -v o="$RUN_SERVED" -v s="$secs" 'BEGIN { printf "%.1f", o / s }')
  STEP_LATE=$((RUN_ANSWERED - RUN_SERVED))
  STEP_LOST=$((RUN_CALLS - RUN_ANSWERED))
  STEP_P99=$p99
  STEP_OK=0
  # Fully served: every call within 4 s, and the run took about the planned
  # time, so SIPp really offered the rate (it shares the CPUs).
  if [ "$RUN_SERVED" = "$RUN_CALLS" ] && awk -v w="$RUN_WALL" -v s="$secs" 'BEGIN { exit !(w <= 1.1 * s + 1.5) }'; then
    STEP_OK=1
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$CUR_IMPL" "$CUR_API" "$rate" "$RUN_WALL" \
    "$STEP_SERVED" "$STEP_LATE" "$STEP_LOST" "$p50" "$p99" "$RUN_KCPU" "$RUN_SCPU" | tee -a "$RESULTS"
}

# Does a value holding CR/LF become a header of its own? One call with
# bench/injection-fixtures.json's crlf-injection id; prints yes or no.
injection_check() { # impl
  local dir=$WORK/$1-injection
  start_impl "$1" injection "$INJECTION_URL" "$dir"
  local kam_pid=$KAMAILIO_PID
  # handoff_to holds the CR/LF, so neither routes it to a known queue.
  start_uas "$dir" default 'ok' -m 1 -trace_msg -message_file "$dir/uas.msg"
  (cd "$dir" && exec sipp "127.0.0.1:$KAM_PORT" -sf "$HERE/bench/uac.xml" -key shared_id crlf-injection \
    -i 127.0.0.1 -m 1 -timeout 10 -nostdin >"$dir/uac.out" 2>&1)
  local uac_rc=$?
  wait "$UAS_PID" 2>/dev/null || true
  stop_pid "$kam_pid"
  # "no" needs the INVITE to have arrived with the poisoned value in it.
  if grep -qi '^X-Evil[[:blank:]]*:' "$dir/uas.msg" 2>/dev/null; then
    echo yes
  elif [ "$uac_rc" = 0 ] && grep -q '^X-PolyAI-Handoff-To: billing' "$dir/uas.msg" 2>/dev/null; then
    echo no
  else
    echo "not measured (the call did not arrive: see $dir)"
  fi
}

declare -A MAX_RATE P99_AT_MAX INJECTED SILENT_SERVED SILENT_FAILED SILENT_P99

out "Kamailio $(dpkg-query -W -f='${Version}' kamailio), $WORKERS workers, ${KAMAILIO_SHM_MB} MB shm, UDP on 127.0.0.1;" \
  "$(nproc) cores shared by SIPp (UAC and UAS), Kamailio and the sandbox;" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg);" \
  "ours adds X-PolyAI-Handoff-Status, -Conversation-Id, -Shared-Id and the fields of include = ${INCLUDE:-(all)}."
if [[ $SCENARIOS == *" ramp "* ]]; then
  out ""
  out "| implementation | API | offered calls/s | UAC run s | served calls/s (200 OK within 4 s) | answered later | never answered | p50 ms | p99 ms | Kamailio CPU µs/call | API server CPU µs/call |"
  out "|---|---|---|---|---|---|---|---|---|---|---|"

  for CUR_IMPL in none peer ours; do
    apis="healthy silent"
    if [ "$CUR_IMPL" = none ]; then
      apis=-
    else
      INJECTED[$CUR_IMPL]=$(injection_check "$CUR_IMPL")
    fi
    for CUR_API in $apis; do
      key=$CUR_IMPL-${CUR_API/-/none}
      url=$SANDBOX_URL
      [ "$CUR_API" = silent ] && url=$BLACKHOLE_URL
      start_impl "$CUR_IMPL" "$CUR_API" "$url" "$WORK/$key"
      kam_pid=$KAMAILIO_PID
      # What a correctly handled call looks like at the queue.
      case $CUR_IMPL-$CUR_API in
        *-healthy | none-*) start_uas "$WORK/$key" billing 'ok' ;;
        peer-silent) start_uas "$WORK/$key" default 'error' ;;
        ours-silent) start_uas "$WORK/$key" default 'timeout|unavailable' ;;
      esac
      if [ "$CUR_API" = silent ]; then
        run_step "$WORK/$key/rate-$SILENT_RATE" "$SILENT_RATE" "$SILENT_SECONDS"
        SILENT_SERVED[$CUR_IMPL]=$STEP_SERVED
        SILENT_FAILED[$CUR_IMPL]="$STEP_LATE answered later, $STEP_LOST never"
        SILENT_P99[$CUR_IMPL]=$STEP_P99
      fi
      # The ramp: healthy for all; silent only for ours (the peer already
      # fails at the silent rate).
      if [ "$CUR_API" != silent ] || [ "$CUR_IMPL" = ours ]; then
        MAX_RATE[$key]=0
        P99_AT_MAX[$key]=-
        for rate in $RATES; do
          sleep 1
          run_step "$WORK/$key/rate-$rate" "$rate" "$STEP"
          [ "$STEP_OK" = 1 ] || break
          MAX_RATE[$key]=$rate
          P99_AT_MAX[$key]=$STEP_P99
        done
      fi
      stop_pid "$UAS_PID"
      stop_pid "$kam_pid"
    done
  done

  out ""
  out "Baseline, the same SIP work without a lookup: ${MAX_RATE[none-none]} calls/s fully served (p99 ${P99_AT_MAX[none-none]} ms)."
  out ""
  out "| | peer (http_client + jansson) | ours (polyai_handoff) |"
  out "|---|---|---|"
  out "| API healthy: highest rate offered and fully served | ${MAX_RATE[peer-healthy]} calls/s (p99 ${P99_AT_MAX[peer-healthy]} ms) | ${MAX_RATE[ours-healthy]} calls/s (p99 ${P99_AT_MAX[ours-healthy]} ms) |"
  out "| API silent: $SILENT_RATE calls/s offered for $SILENT_SECONDS s, served within 4 s | ${SILENT_SERVED[peer]} calls/s (${SILENT_FAILED[peer]}; p99 ${SILENT_P99[peer]} ms) | ${SILENT_SERVED[ours]} calls/s (${SILENT_FAILED[ours]}; p99 ${SILENT_P99[ours]} ms) |"
  out "| API silent: highest rate offered and fully served | - | ${MAX_RATE[ours-silent]} calls/s (p99 ${P99_AT_MAX[ours-silent]} ms) |"
  out "| CR/LF in a value becomes a new SIP header | ${INJECTED[peer]} | ${INJECTED[ours]} |"
fi

SLOW_IMPLS=${BENCH_SLOW_IMPLS:-none ours ours-async peer peer-async}
impl_label() {
  case $1 in
    none) echo "no lookup" ;;
    ours) echo "ours sync (polyai_handoff_lookup)" ;;
    ours-async) echo "ours async (polyai_handoff_lookup_async, $ASYNC_WORKERS async process$([ "$ASYNC_WORKERS" = 1 ] || echo es))" ;;
    peer) echo "peer (http_client + jansson)" ;;
    peer-async) echo "peer in the async module (async_task_route, async_workers=$ASYNC_WORKERS)" ;;
  esac
}

# offered_percentile RTT_FILE OFFERED P: the P-th percentile of INVITE ->
# 200 OK over every call offered, a call never answered counting as slower
# than any (SIPp gave up on it after 4 s): then "> 4000".
offered_percentile() {
  tail -n +2 "$1" 2>/dev/null | cut -d';' -f2 | sort -n |
    awk -v n="$2" -v p="$3" '{ a[NR] = $1 } END { i = int(n * p / 100 + 0.999); if (i < 1) i = 1; if (i > NR) print "> 4000"; else printf "%.0f\n", a[i] }'
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# distinct_run IMPL API URL API_PID DIR RATE SECONDS: a fresh Kamailio and
# queue, RATE calls/s with an id per call, then both stopped.
distinct_run() {
  local impl=$1 api=$2 url=$3 api_pid=$4 dir=$5 rate=$6 secs=$7 kam_pid
  start_impl "$impl" "$api" "$url" "$dir"
  kam_pid=$KAMAILIO_PID
  start_uas "$dir" billing 'ok'
  # The async processes are forked after the SIP workers that start_impl waited for.
  sleep 1
  # An INVITE nobody answers keeps its call open for 32 s (Timer B): let
  # every call of the run be open at once, so that SIPp keeps the rate.
  OPEN_CALLS=$((rate * secs + 100)) uac_run "$dir" "$rate" "$secs" "$api_pid" "$WORK/uac-distinct.xml"
  stop_pid "$UAS_PID"
  stop_pid "$kam_pid"
}

declare -A SLOW_SERVED SLOW_WITHIN1 SLOW_CALLS SLOW_P50 SLOW_P99 CPU_OF CPU_OK
if [[ $SCENARIOS == *" slow "* ]]; then
  out ""
  out "**API slow**: the sandbox answers every lookup ${SLOW_DELAY_MS} ms late; each call asks for an id of its own; $WORKERS SIP workers;" \
    "each rate for ${SLOW_SECONDS} s on a freshly started Kamailio; ours with timeout_ms 1000, max_in_flight and max_connections $ASYNC_IN_FLIGHT," \
    "async_max_pending $ASYNC_MAX_PENDING; the peer with connection_timeout 1 s. Load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  out "p50 and p99 are over every call offered (a call not answered within 4 s counts as > 4000); CPU is per call offered."
  out ""
  out "| implementation | offered calls/s | calls | UAC run s | served within 4 s | % | within 1 s | % | answered later / never | p50 ms | p99 ms | Kamailio CPU µs/call | API server CPU µs/call |"
  out "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for impl in $SLOW_IMPLS; do
    for rate in $SLOW_RATES; do
      k=$impl-$rate
      distinct_run "$impl" slow "$SLOW_URL" "$SLOW_SANDBOX_PID" "$WORK/slow-$k" "$rate" "$SLOW_SECONDS"
      SLOW_CALLS[$k]=$RUN_CALLS
      SLOW_SERVED[$k]=$RUN_SERVED
      SLOW_WITHIN1[$k]=$RUN_WITHIN_1S
      SLOW_P50[$k]=$(offered_percentile "$RUN_RTT" "$RUN_CALLS" 50)
      SLOW_P99[$k]=$(offered_percentile "$RUN_RTT" "$RUN_CALLS" 99)
      out "| $(impl_label "$impl") | $rate | $RUN_CALLS | $RUN_WALL | $RUN_SERVED | $(pct "$RUN_SERVED" "$RUN_CALLS") |" \
        "$RUN_WITHIN_1S | $(pct "$RUN_WITHIN_1S" "$RUN_CALLS") | $((RUN_ANSWERED - RUN_SERVED)) / $((RUN_CALLS - RUN_ANSWERED)) |" \
        "${SLOW_P50[$k]} | ${SLOW_P99[$k]} | $RUN_KCPU | $RUN_SCPU |"
    done
  done

  out ""
  out "**CPU, API healthy**: $CPU_RATE calls/s for $CPU_SECONDS s, an id per call, the sandbox answering at once; $CPU_ROUNDS rounds," \
    "each on freshly started Kamailios (sync and async in alternating order). Load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  out ""
  out "| round | implementation | served within 4 s | p50 ms | p99 ms | Kamailio CPU µs/call | API server CPU µs/call |"
  out "|---|---|---|---|---|---|---|"
  ratios=()
  for ((round = 1; round <= CPU_ROUNDS; round++)); do
    order="none ours ours-async"
    [ $((round % 2)) = 0 ] && order="none ours-async ours"
    for impl in $order; do
      k=$impl-$round
      distinct_run "$impl" distinct "$DISTINCT_URL" "$DISTINCT_SANDBOX_PID" "$WORK/cpu-$k" "$CPU_RATE" "$CPU_SECONDS"
      CPU_OF[$k]=$RUN_KCPU
      CPU_OK[$k]=$([ "$RUN_SERVED" = "$RUN_CALLS" ] && echo 1 || echo 0)
      out "| $round | $(impl_label "$impl") | $RUN_SERVED of $RUN_CALLS | $(percentile "$RUN_RTT" 50) | $(percentile "$RUN_RTT" 99) | $RUN_KCPU | $RUN_SCPU |"
    done
    ratios+=("$(awk -v a="${CPU_OF[ours-async-$round]}" -v s="${CPU_OF[ours-$round]}" 'BEGIN { printf "%.2f", s ? a / s : 0 }')")
  done
  cpu_median() { local r v=(); for ((r = 1; r <= CPU_ROUNDS; r++)); do v+=("${CPU_OF[$1-$r]}"); done; median "${v[@]}"; }
  CPU_RATIO=$(median "${ratios[@]}")
  cpu_all_ok=1
  for k in "${!CPU_OK[@]}"; do [ "${CPU_OK[$k]}" = 1 ] || cpu_all_ok=0; done
  out ""
  out "Median Kamailio CPU per call: no lookup $(cpu_median none) µs, ours sync $(cpu_median ours) µs, ours async $(cpu_median ours-async) µs;" \
    "async ÷ sync per round: ${ratios[*]}, median **$CPU_RATIO**."

  # The targets, judged from the numbers above.
  top=0
  for rate in $SLOW_RATES; do [ "$rate" -gt "$top" ] && top=$rate; done
  verdict() { if eval "$1"; then echo met; else echo "**not met**"; fi; }
  a=ours-async-$top
  out ""
  out "| target | measured | |"
  out "|---|---|---|"
  if [ -n "${SLOW_CALLS[$a]-}" ]; then
    out "| ours async serves ≥ 99 % of $top calls/s within 1 s, API at ${SLOW_DELAY_MS} ms | $(pct "${SLOW_WITHIN1[$a]}" "${SLOW_CALLS[$a]}") % (${SLOW_WITHIN1[$a]} of ${SLOW_CALLS[$a]}) |" \
      "$(verdict '[ $((SLOW_WITHIN1[$a] * 100)) -ge $((SLOW_CALLS[$a] * 99)) ]') |"
    out "| its p50 near ${SLOW_DELAY_MS} ms (here: at most 1.2 ×) | ${SLOW_P50[$a]} ms |" \
      "$(verdict 'case ${SLOW_P50[$a]} in *[!0-9]*) false ;; *) [ $((SLOW_P50[$a] * 10)) -le $((SLOW_DELAY_MS * 12)) ] ;; esac') |"
  fi
  for impl in ours peer peer-async; do
    k=$impl-$top
    [ -n "${SLOW_CALLS[$k]-}" ] || continue
    out "| $(impl_label "$impl") collapses at $top calls/s (here: under half served within 4 s) | $(pct "${SLOW_SERVED[$k]}" "${SLOW_CALLS[$k]}") % served (${SLOW_SERVED[$k]} of ${SLOW_CALLS[$k]}) |" \
      "$(verdict '[ $((SLOW_SERVED[$k] * 2)) -lt $((SLOW_CALLS[$k])) ]') |"
  done
  out "| API healthy, $CPU_RATE calls/s: ours async Kamailio CPU per call ≤ 1.10 × ours sync (median of $CPU_ROUNDS rounds) | $CPU_RATIO × |" \
    "$(verdict 'awk -v r="$CPU_RATIO" -v ok="$cpu_all_ok" "BEGIN { exit !(ok && r <= 1.10) }"')$([ "$cpu_all_ok" = 1 ] || echo ' (not every call served)') |"
fi
out ""
out "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$REPO/bench/results"
{
  echo "# Kamailio: polyai_handoff against http_client + jansson"
  echo
  echo "Generated by \`make bench-kamailio\` (examples/kamailio/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'); method in BENCHMARKS.md."
  echo
  cat "$RESULTS"
} >"$REPO/bench/results/kamailio.md"
log "report: bench/results/kamailio.md"

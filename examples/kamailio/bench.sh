#!/usr/bin/env bash
# Benchmark: the same routing in Kamailio (bench/bench.cfg), the lookup done
# by polyai_handoff ("ours") or by http_client_query + jansson_get ("peer"),
# with the API healthy (the sandbox) and silent (the sandbox's blackhole
# listener: accepts, never answers). SIPp offers calls at rising rates until
# calls fail; a call is served when its 200 OK (the UAS answers at once)
# reaches the UAC within 4 s of its INVITE; latency is INVITE -> 200 OK at
# the UAC, over every call answered.
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
echo sandbox-key >"$WORK/api-key"
# Same deadline as the peer's connection_timeout (1 s); the breaker opens
# after 2 failures in a row and probes again every 5 s.
write_conf() { # name url
  write_polyai_conf "$WORK/polyai-$1.conf" "$2" "$WORK/api-key" \
    "timeout_ms = 1000" "breaker_failures = 2" "breaker_cooldown_ms = 5000" \
    ${INCLUDE:+"include = $INCLUDE"}
}
write_conf healthy "$SANDBOX_URL"
write_conf silent "$BLACKHOLE_URL"
write_conf injection "$INJECTION_URL"

RESULTS=$WORK/results.md
: >"$RESULTS"
out() { echo "$*" | tee -a "$RESULTS"; }

KAM_PORT=$(free_udp_port)
UAS_PORT=$(free_udp_port)

# start_impl IMPL API URL LOGDIR: Kamailio with bench.cfg for this
# implementation, the API at URL (ours reads polyai-API.conf).
start_impl() {
  local impl=$1 api=$2 url=$3 logdir=$4
  local defs=(-A "QUEUE_HOST=\"127.0.0.1:$UAS_PORT\"" -A "WORKERS=$WORKERS")
  if [ "$impl" = none ]; then
    defs+=(-A NOLOOKUP)
  elif [ "$impl" = peer ]; then
    defs+=(-A PEER -A "API_URL=\"$url\"" -A 'API_KEY="sandbox-key"')
  else
    defs+=(-A "POLYAI_CONFIG=\"$WORK/polyai-$api.conf\"")
  fi
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

stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }

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

# Calls SIPp may hold open: 5 s worth, within the open-file limit.
max_open_calls() {
  local want=$(($1 * 5 + 100)) cap
  cap=$(($(ulimit -n) - 200))
  [ "$want" -lt "$cap" ] && echo "$want" || echo "$cap"
}

# run_step DIR RATE SECONDS: sets STEP_OK, and prints a table row.
run_step() {
  local dir=$1 rate=$2 secs=$3 calls t0 t1 k0 k1 s0 s1
  calls=$((rate * secs))
  mkdir -p "$dir"
  # shellcheck disable=SC2046
  k0=$(cpu_ticks $(kamailio_pids))
  s0=$(cpu_ticks "$SANDBOX_PID")
  t0=$(date +%s.%N)
  (cd "$dir" && exec sipp "127.0.0.1:$KAM_PORT" -sf "$HERE/bench/uac.xml" -key shared_id acme-call-123 \
    -i 127.0.0.1 -r "$rate" -m "$calls" -l "$(max_open_calls "$rate")" -timeout $((secs + 20)) \
    -trace_rtt -rtt_freq 1 -trace_err -error_file "$dir/uac.err" -buff_size "$SIPP_BUFFER" -nostdin >"$dir/uac.out" 2>&1)
  t1=$(date +%s.%N)
  # shellcheck disable=SC2046
  k1=$(cpu_ticks $(kamailio_pids))
  s1=$(cpu_ticks "$SANDBOX_PID")
  local kcpu scpu
  kcpu=$(awk -v d=$((k1 - k0)) -v c="$calls" -v hz="$HZ" 'BEGIN { printf "%.0f", d * 1e6 / hz / c }')
  scpu=$(awk -v d=$((s1 - s0)) -v c="$calls" -v hz="$HZ" 'BEGIN { printf "%.0f", d * 1e6 / hz / c }')
  local answered served wall p50 p99 rtt
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  rtt=$(ls "$dir"/uac_*_rtt.csv 2>/dev/null | head -n1)
  # SIPp times each recv from the previous message, so a 200 that follows a
  # late 100 still counts as successful: served is judged from the RTT file.
  answered=$(sipp_stat "$dir/uac.out" "Successful call")
  served=$(tail -n +2 "$rtt" 2>/dev/null | awk -F';' '$2 <= 4000 { n++ } END { print n + 0 }')
  p50=$(percentile "$rtt" 50)
  p99=$(percentile "$rtt" 99)
  STEP_SERVED=$(awk -v o="$served" -v s="$secs" 'BEGIN { printf "%.1f", o / s }')
  STEP_LATE=$((answered - served))
  STEP_LOST=$((calls - answered))
  STEP_P99=$p99
  STEP_OK=0
  # Fully served: every call within 4 s, and the run took about the planned
  # time, so SIPp really offered the rate (it shares the CPUs).
  if [ "$served" = "$calls" ] && awk -v w="$wall" -v s="$secs" 'BEGIN { exit !(w <= 1.1 * s + 1.5) }'; then
    STEP_OK=1
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$CUR_IMPL" "$CUR_API" "$rate" "$wall" \
    "$STEP_SERVED" "$STEP_LATE" "$STEP_LOST" "$p50" "$p99" "$kcpu" "$scpu" | tee -a "$RESULTS"
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

#!/bin/bash
# bench/wan/run.sh -- `make bench-wan`: lookup latency over a simulated WAN.
#
# client -- router -- server network namespaces (netns.sh), the router
# holding every packet BENCH_WAN_RTT_MS/2 each way (delay.c), nginx with
# TLS 1.3 in the server namespace; bench/wan/client.c looks up from the
# client namespace with this library (lib) and with raw libcurl (raw), at
# several idle gaps between lookups, against servers that drop idle
# connections after 5 s and 60 s, over HTTP/1.1 and HTTP/2. Writes a markdown
# report to BENCH_WAN_OUT. Needs root, the library built (make build), gcc,
# nginx, openssl, python3, iptables-legacy and libnetfilter-queue-dev.
#
# Knobs (environment):
#   BENCH_WAN_RTT_MS      round trip of the line (default 50)
#   BENCH_WAN_QUICK=1     small counts (a run of about 1.5 minutes)
#   BENCH_WAN_N_1MS, BENCH_WAN_N_1S, BENCH_WAN_N_10S, BENCH_WAN_N_90S, BENCH_WAN_N_TAIL
#                         lookups per row at each gap (default 200, 30, 12, 6, 200)
#   BENCH_WAN_LONG=1      also the 90 s rows and the idle rows (about 11 more minutes)
#   BENCH_WAN_GROUPS      which rows, of "1ms 1s 10s 90s tail backend idle" (default
#                         "1ms 1s 10s tail backend", all of them with BENCH_WAN_LONG=1)
#   BENCH_WAN_IDLE_S      the idle rows' idle spell (default 180, quick 45): one
#                         client process per row looks up once, stays idle this
#                         long (no lookups) and reports its CPU time, keep-warm's
#                         replacement connections and the requests sent meanwhile,
#                         against the same client idle without warming
#   BENCH_WAN_MODES       default "lib warm raw"; warm: the library with
#                         handoff_client_warm and keep-warm (connection_max_idle_ms
#                         4/5 of the server's idle timeout), and on the tail rows
#                         hedged requests (BENCH_WAN_HEDGE_MS, default 75, 10 %)
#   BENCH_WAN_WARM=1      pass --warm to lib (handoff_client_warm, if the library has it)
#   BENCH_WAN_SERIAL=1    run the rows of one gap one after another, not side by side
#   BENCH_WAN_OUT         default bench/results/wan/latest.md
#   BENCH_WAN_VERBOSE=1   a line per lookup (and the library's log) in each row's .err
#   BENCH_WAN_KEEP=1      keep the run's files in /tmp/phwan-kept
# Exits 1 when a row has no result, speaks the wrong protocol, or the
# library fails a lookup (raw libcurl's failures are reported, not fatal).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WAN=$ROOT/bench/wan
BUILD=${BUILD:-$ROOT/build}
RTT=${BENCH_WAN_RTT_MS:-50}
if [ "${BENCH_WAN_QUICK:-0}" = 1 ]; then q=(40 8 4 3 60 45); else q=(200 30 12 6 200 180); fi
N_1MS=${BENCH_WAN_N_1MS:-${q[0]}}
N_1S=${BENCH_WAN_N_1S:-${q[1]}}
N_10S=${BENCH_WAN_N_10S:-${q[2]}}
N_90S=${BENCH_WAN_N_90S:-${q[3]}}
N_TAIL=${BENCH_WAN_N_TAIL:-${q[4]}}
IDLE_S=${BENCH_WAN_IDLE_S:-${q[5]}}
if [ -n "${BENCH_WAN_GROUPS:-}" ]; then WANT=$BENCH_WAN_GROUPS
elif [ "${BENCH_WAN_LONG:-0}" = 1 ]; then WANT="1ms 1s 10s 90s tail backend idle"
else WANT="1ms 1s 10s tail backend"; fi
want() { [[ " $WANT " == *" $1 "* ]]; }
# The command that made the report, for its header.
COMMAND="$(for v in $(compgen -e | grep '^BENCH_WAN_' | sort); do printf '%s=%s ' "$v" "${!v}"; done)bench/wan/run.sh"
MODES=${BENCH_WAN_MODES:-lib warm raw}
HEDGE_MS=${BENCH_WAN_HEDGE_MS:-75}
OUT=${BENCH_WAN_OUT:-$ROOT/bench/results/wan/latest.md}
NICE=(nice -n 19 ionice -c3)
C=phwan-client R=phwan-router S=phwan-server
QUEUE=201

[ "$(id -u)" = 0 ] || { echo "bench-wan: needs root (network namespaces, iptables)" >&2; exit 1; }
for tool in gcc nginx openssl python3 iptables-legacy ip; do
  command -v $tool >/dev/null || { echo "bench-wan: $tool is missing" >&2; exit 1; }
done
[ -f /usr/include/libnetfilter_queue/libnetfilter_queue.h ] ||
  { echo "bench-wan: libnetfilter-queue-dev is missing" >&2; exit 1; }
[ -e "$BUILD/lib/libpolyai_handoff.so" ] && [ -x "$BUILD/bin/polyai-handoff-sandbox" ] ||
  { echo "bench-wan: build the library and the sandbox first (make build)" >&2; exit 1; }
if ip netns list | grep -q '^phwan-'; then
  echo "bench-wan: phwan- namespaces exist already (another run?); bench/wan/netns.sh down removes them" >&2
  exit 1
fi

TMP=$(mktemp -d /tmp/phwan-XXXXXX)
chmod 755 "$TMP"
PIDS=() CLIENTS=()
cleanup() {
  local i
  for i in "${CLIENTS[@]}"; do kill "$i" 2>/dev/null || true; done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do wait "${PIDS[i]}" 2>/dev/null || true; done
  WAN_QUEUE=$QUEUE "$WAN/netns.sh" down
  if [ "${BENCH_WAN_KEEP:-0}" = 1 ]; then rm -rf /tmp/phwan-kept && cp -r "$TMP" /tmp/phwan-kept; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

log() { echo "bench-wan: $*" >&2; }

# Bounded wait: until "$@" succeeds, at most n tenths of a second.
wait_for() {
  local n=$1 i
  shift
  for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}

log "building delay and client in $TMP"
"${NICE[@]}" gcc -std=c99 -Wall -Wextra -Werror -O2 "$WAN/delay.c" -o "$TMP/delay" -lnetfilter_queue
"${NICE[@]}" gcc -std=c99 -Wall -Wextra -Werror -O2 -I"$ROOT/include" "$WAN/client.c" -o "$TMP/client" \
  -L"$BUILD/lib" -lpolyai_handoff -lcurl -ljansson -Wl,-rpath,"$BUILD/lib"

log "throwaway CA and server certificate"
(
  cd "$TMP"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=phwan test CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=10.201.2.2" \
    -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=IP:10.201.2.2\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf \
    -out server.crt 2>/dev/null
)

log "network: $C -- $R -- $S, ${RTT} ms round trip"
WAN_QUEUE=$QUEUE "$WAN/netns.sh" up

# The longest the whole run can take, as a bound for every server process.
BOUND=$((600 + (N_1MS + N_TAIL * 2) * 2 + N_1S * 2 + N_10S * 11 + N_90S * 91 + IDLE_S + 30))
ip netns exec $R "${NICE[@]}" "$TMP/delay" --queue $QUEUE --delay-ms $((RTT / 2)) --max-seconds $BOUND \
  2>"$TMP/delay.log" &
PIDS+=($!)

ip netns exec $S "${NICE[@]}" "$BUILD/bin/polyai-handoff-sandbox" --fixtures "$WAN/fixtures.json" \
  --port-file "$TMP/sandbox.port" >"$TMP/sandbox.log" 2>&1 &
PIDS+=($!)
wait_for 100 test -s "$TMP/sandbox.port" || { log "sandbox did not start"; cat "$TMP/sandbox.log" >&2; exit 1; }
# The slow backend of the backend rows: every answer 400 ms late.
ip netns exec $S "${NICE[@]}" "$BUILD/bin/polyai-handoff-sandbox" --fixtures "$WAN/fixtures.json" --delay-ms 400 \
  --port-file "$TMP/slow-sandbox.port" >"$TMP/slow-sandbox.log" 2>&1 &
PIDS+=($!)
wait_for 100 test -s "$TMP/slow-sandbox.port" || { log "slow sandbox did not start"; cat "$TMP/slow-sandbox.log" >&2; exit 1; }

sed -e "s|@TMP@|$TMP|g" -e "s|@WAN@|$WAN|g" -e "s|@SANDBOX_PORT@|$(cat "$TMP/sandbox.port")|g" \
  -e "s|@SLOW_SANDBOX_PORT@|$(cat "$TMP/slow-sandbox.port")|g" \
  "$WAN/nginx.conf.in" >"$TMP/nginx.conf"
ip netns exec $S "${NICE[@]}" nginx -c "$TMP/nginx.conf" -p "$TMP" 2>"$TMP/nginx.stderr" &
PIDS+=($!)

# TCP connect times from the client namespace: one round trip each (no
# ping here). Also waits for nginx.
cat >"$TMP/rtt.py" <<'EOF'
import socket, sys, time
ms = []
for i in range(40):
    s = socket.socket()
    s.settimeout(2)
    t = time.monotonic()
    try:
        s.connect(("10.201.2.2", 8443))
    except OSError:
        s.close(); time.sleep(0.1); continue
    ms.append((time.monotonic() - t) * 1000)
    s.close()
    time.sleep(0.05)
if len(ms) < 20: sys.exit(1)
ms.sort()
print("%d TCP connects: min %.1f ms, median %.1f ms, p90 %.1f ms, max %.1f ms"
      % (len(ms), ms[0], ms[len(ms) // 2], ms[len(ms) * 9 // 10], ms[-1]))
EOF
RTT_CHECK=$(ip netns exec $C "${NICE[@]}" python3 "$TMP/rtt.py") ||
  { log "no connection to nginx through the line"; cat "$TMP/nginx.stderr" "$TMP/delay.log" >&2; exit 1; }
log "round trip check: $RTT_CHECK"

# port <proto> <idle timeout s> [tail]
port() {
  case "$1-$2-${3:-}" in
    h1-5-) echo 8443 ;; h1-60-) echo 8444 ;; h2-5-) echo 9443 ;; h2-60-) echo 9444 ;;
    h1-60-tail) echo 8445 ;; h2-60-tail) echo 9445 ;;
    h1-60-backend) echo 8446 ;; h2-60-backend) echo 9446 ;;
  esac
}

ROWS=()   # "mode proto ka interval kind file"
run_group() {   # interval count kind [proto-ka pairs...]
  local interval=$1 count=$2 kind=$3
  shift 3
  local pairs=("$@") pids=() pk mode proto ka tag file extra
  local max_s=$(( count * (interval / 1000 + 1) + count * RTT * 12 / 1000 + 30 ))
  log "rows: gap ${interval} ms, $count lookups each ($kind), at most ${max_s} s"
  for pk in "${pairs[@]}"; do
    proto=${pk%-*} ka=${pk#*-}
    for mode in $MODES; do
      tag=$mode-$proto-ka$ka-i$interval-$kind
      file=$TMP/row-$tag.out
      extra=()
      [ "$kind" = tail ] && extra=(--slow-prefix "slow~$tag" --slow-every 20)
      [ "$mode" = lib ] && [ "${BENCH_WAN_WARM:-0}" = 1 ] && extra+=(--warm)
      [ "${BENCH_WAN_VERBOSE:-0}" = 1 ] && extra+=(--verbose)
      if [ "$mode" = warm ]; then
        extra+=(--warm --set "connection_max_idle_ms=$((ka * 800))")
        [ "$kind" = fixed ] || extra+=(--set "hedge_after_ms=$HEDGE_MS" --set hedge_max_percent=10)
      fi
      ip netns exec $C "${NICE[@]}" "$TMP/client" --mode "${mode/warm/lib}" \
        --url "https://10.201.2.2:$(port $proto $ka ${kind/fixed/})" --ca "$TMP/ca.crt" \
        --interval-ms $interval --count $count --max-seconds $max_s --rtt-ms $RTT \
        --id-prefix "s1~$tag" "${extra[@]}" >"$file" 2>"$file.err" &
      # Side by side, started 0.25 s apart so that their cold starts (TLS
      # handshakes on 2 busy cores) do not all coincide.
      CLIENTS+=($!)
      if [ "${BENCH_WAN_SERIAL:-0}" = 1 ]; then wait $! || true; else pids+=($!); sleep 0.25; fi
      ROWS+=("$mode $proto $ka $interval $kind $file $tag")
    done
  done
  for pk in "${pids[@]}"; do wait "$pk" || true; done
}

# The idle rows: what keep-warm costs a process that makes no lookups.
# "name proto ka description|client options"; base is the same client
# without warming, the baseline. stop: keep_warm_ms 30 s, the counters split
# 2 s after it (a replacement started just before it may still finish).
IDLE_DEFS=(
  "base h2 60 no warm-up|"
  "warm h2 60 warm-up, defaults (connection_max_idle_ms 45000, keep_warm_ms 600000)|--warm"
  "base h2 5 no warm-up|"
  "warm h2 5 warm-up, connection_max_idle_ms 4000|--warm --set connection_max_idle_ms=4000"
  "stop h2 5 warm-up, connection_max_idle_ms 4000, keep_warm_ms 30000|--warm --set connection_max_idle_ms=4000 --set keep_warm_ms=30000 --idle-split-ms 32000"
)
IDLE_ROWS=()   # "name proto ka file tag|description"
run_idle() {
  local def name proto ka desc opts file tag pids=() p
  log "idle rows: one lookup, then ${IDLE_S} s idle, then one lookup"
  for def in "${IDLE_DEFS[@]}"; do
    desc=${def%%|*} opts=${def#*|}
    read -r name proto ka desc <<<"$desc"
    tag=idle-$name-$proto-ka$ka
    file=$TMP/row-$tag.out
    # shellcheck disable=SC2086  # opts are words
    ip netns exec $C "${NICE[@]}" "$TMP/client" --mode lib \
      --url "https://10.201.2.2:$(port $proto $ka)" --ca "$TMP/ca.crt" --count 1 --max-seconds 30 --rtt-ms $RTT \
      --id-prefix "s1~$tag" --idle-ms $((IDLE_S * 1000)) --sample-ms 5000 $opts >"$file" 2>"$file.err" &
    CLIENTS+=($!)
    pids+=($!)
    sleep 0.25
    IDLE_ROWS+=("$name $proto $ka $file $tag|$desc")
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
}

ALL=(h1-5 h1-60 h2-5 h2-60)
START=$(date +%s)
if want 1ms; then run_group 1 "$N_1MS" fixed "${ALL[@]}"; fi
if want 1s; then run_group 1000 "$N_1S" fixed "${ALL[@]}"; fi
if want 10s; then run_group 10000 "$N_10S" fixed "${ALL[@]}"; fi
if want 90s; then run_group 90000 "$N_90S" fixed "${ALL[@]}"; fi
if want tail; then run_group 1 "$N_TAIL" tail h1-60 h2-60; fi
if want backend; then run_group 1 "$N_TAIL" backend h1-60 h2-60; fi
if want idle; then run_idle; fi
ELAPSED=$(($(date +%s) - START))

# Stop the delay line first: its exit line has the lateness figures.
kill "${PIDS[0]}" && wait "${PIDS[0]}" || true
sleep 0.2

# ------------------------------------------------------------------ report
val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p; s/^$2=\([^ ]*\).*/\1/p" "$1" | head -1; }
gap() { case $1 in 1) echo "1 ms" ;; 1000) echo "1 s" ;; 10000) echo "10 s" ;; 90000) echo "90 s" ;; *) echo "$1 ms" ;; esac; }

mkdir -p "$(dirname "$OUT")"
FAILED=0 RAW_ERRORS=0 RAW_RETRY_BUG=0
{
  echo "# Simulated WAN: lookup latency at ${RTT} ms RTT"
  echo
  echo "\`$COMMAND\` ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown), rows: $WANT). Rows of one gap ran $([ "${BENCH_WAN_SERIAL:-0}" = 1 ] && echo "one after another" || echo "side by side"); ${ELAPSED} s of lookups."
  echo
  echo "- line: client -- router -- server namespaces, every packet held $((RTT / 2)) ms each way by bench/wan/delay.c (NFQUEUE)"
  echo "- round trip check (no ping here): $RTT_CHECK"
  echo "- $(tail -1 "$TMP/delay.log")"
  echo "- server: $(nginx -v 2>&1 | sed 's/.*: //'), TLS 1.3, ECDSA P-256 throwaway CA; tail rows via the sandbox (5 % of ids answered 400 ms late); backend rows: 5 % of requests, at random, to a sandbox answering 400 ms late"
  echo "- client: $(curl-config --version 2>/dev/null || echo libcurl), polyai-handoff $(sed -n 's/^#define HANDOFF_VERSION "\(.*\)"/\1/p' "$ROOT/include/polyai_handoff.h"), lib warm: ${BENCH_WAN_WARM:-0}"
  echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; every process under nice -n 19"
  echo
  if [ ${#ROWS[@]} -gt 0 ]; then
  echo "Latency over every lookup, the first (cold) one included. \"handshake\": lookups that opened a new connection (TCP + TLS); \"server conns\": connections nginx logged for the row."
  echo
  echo "| mode | HTTP | server idle timeout | gap | answers | lookups | p50 ms | p99 ms | max ms | p50 RTT | p99 RTT | max RTT | paid a handshake | server conns | errors |"
  echo "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  fi
  for row in "${ROWS[@]}"; do
    read -r mode proto ka interval kind file tag <<<"$row"
    if [ ! -s "$file" ]; then
      echo "| $mode | $proto | $ka s | $(gap $interval) | $kind | no result ($(head -c 200 "$file.err" | tr '\n|' '  ')) |||||||||"
      FAILED=1
      continue
    fi
    lookups=$(val "$file" lookups) errors=$(val "$file" errors)
    # The library failing a lookup fails the run; raw libcurl's failures are
    # results, reported under the table.
    if [ "$errors" != 0 ]; then
      if [ "$mode" = raw ]; then RAW_ERRORS=1; else FAILED=1; fi
      grep -q 'Connection died, tried 5 times' "$file" && RAW_RETRY_BUG=1
    fi
    # Requests and distinct connections nginx saw for this row's ids.
    read -r sreq sconn < <(awk -v t="$tag-" 'index($8, t) { n++; c[$2 " " $3] = 1 } END { print n + 0, length(c) + 0 }' "$TMP/access.log")
    h2=$(val "$file" h2_lookups)
    [ -n "$h2" ] || h2=$(val "$file" h2_connections)
    spoke=HTTP/1.1
    [ "$proto" = h2 ] && spoke=HTTP/2
    if { [ "$proto" = h2 ] && [ "${h2:-0}" = 0 ]; } || { [ "$proto" = h1 ] && [ "${h2:-0}" != 0 ]; }; then
      spoke="$spoke (not negotiated!)"
      FAILED=1
    fi
    answers=fixed
    [ "$kind" = tail ] && answers="5 % of ids +400 ms"
    [ "$kind" = backend ] && answers="5 % of requests +400 ms"
    echo "| $mode | $spoke | $ka s | $(gap $interval) | $answers | $lookups | $(val "$file" p50_ms) | $(val "$file" p99_ms) | $(val "$file" max_ms) | $(val "$file" p50_rtt) | $(val "$file" p99_rtt) | $(val "$file" max_rtt) | $(val "$file" handshakes) | $sconn | $errors |"
    if [ "$errors" != 0 ]; then
      echo "| | first error: $(sed -n 's/.* first_error="\(.*\)"$/\1/p' "$file" | tr '|' '/') |||||||||||||"
    fi
  done
  echo
  HEDGED=0
  for row in "${ROWS[@]}"; do
    read -r mode proto ka interval kind file tag <<<"$row"
    [ "$kind" = fixed ] || HEDGED=1
  done
  if [ "$HEDGED" = 1 ]; then
    echo "Hedging on the tail and backend rows: warm hedges after ${HEDGE_MS} ms with hedge_max_percent 10 (at most 10 % of lookups); lib and raw do not hedge. \"requests sent\": the library's counter (hedges and retries included); \"nginx logged\": requests nginx logged for the row's ids (a cancelled hedge that reached it included). Target: p99 at most 1.5 x the hedge delay + 1 RTT ($(awk -v h="$HEDGE_MS" -v r="$RTT" 'BEGIN { printf "%.1f", 1.5 * h + r }') ms), extra requests at most the budget."
    echo
    echo "| mode | HTTP | answers | lookups | requests sent | nginx logged | hedges | hedges / lookups | hedge wins | budget | p99 ms | p99 RTT | p99 target |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for row in "${ROWS[@]}"; do
      read -r mode proto ka interval kind file tag <<<"$row"
      [ "$kind" != fixed ] && [ -s "$file" ] || continue
      sreq=$(awk -v t="$tag-" 'index($8, t) { n++ } END { print n + 0 }' "$TMP/access.log")
      lookups=$(val "$file" lookups) p99=$(val "$file" p99_ms)
      answers="5 % of ids +400 ms"
      [ "$kind" = backend ] && answers="5 % of requests +400 ms"
      spoke=HTTP/1.1
      [ "$proto" = h2 ] && spoke=HTTP/2
      if [ "$mode" = raw ]; then
        reqs=- hedges=- share=- wins=- budget=off target=-
      else
        reqs=$(val "$file" requests) hedges=$(val "$file" hedges) wins=$(val "$file" hedge_wins)
        share=$(awk -v h="$hedges" -v n="$lookups" 'BEGIN { printf "%.1f %%", n ? 100 * h / n : 0 }')
        budget=off target=-
        if [ "$mode" = warm ]; then
          budget="10 % (at most $((lookups * 10 / 100)))"
          target=$(awk -v p="$p99" -v h="$HEDGE_MS" -v r="$RTT" 'BEGIN { print (p <= 1.5 * h + r) ? "met" : "missed" }')
          [ "$kind" = tail ] && [ "$target" = missed ] && target="missed (a slow id: every request for it is late, no hedge can help)"
          [ "$hedges" -le $((lookups * 10 / 100)) ] || budget="$budget **over**"
        fi
      fi
      echo "| $mode | $spoke | $answers | $lookups | $reqs | $sreq | $hedges | $share | $wins | $budget | $p99 | $(val "$file" p99_rtt) | $target |"
    done
    echo
  fi
  if [ ${#IDLE_ROWS[@]} -gt 0 ]; then
    echo "Idle rows (HTTP/2): each client process looks up once, then stays idle ${IDLE_S} s (no lookups; its counters read every 5 s, in every row), then looks up once more. CPU: getrusage(RUSAGE_SELF) user + system over the spell, every thread of the process (the library's included). \"connections\": connections the client opened during the spell (keep-warm's replacements, each a TCP + TLS handshake). \"requests\": sent by the library during the spell / logged by nginx for the row's ids during it. Per idle hour: scaled from the spell. Baseline: the base row of the same server, the same client without a warm-up."
    echo
    echo "| row | server idle timeout | client | idle s | CPU ms | CPU ms / idle hour | over the baseline / hour | connections | connections / idle hour | first / last at s | requests lib / nginx | lookup after the spell |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    declare -A BASE_H=()
    for row in "${IDLE_ROWS[@]}"; do
      read -r name proto ka file tag <<<"${row%%|*}"
      desc=${row#*|}
      if [ ! -s "$file" ] || [ -z "$(val "$file" idle_cpu_ms)" ]; then
        echo "| $name | $ka s | $desc | no result ($(head -c 200 "$file.err" | tr '\n|' '  ')) ||||||||"
        FAILED=1
        continue
      fi
      ims=$(val "$file" idle_ms) cpu=$(val "$file" idle_cpu_ms) conns=$(val "$file" idle_connections)
      lreq=$(val "$file" idle_requests)
      nreq=$(awk -v t="$tag-" -v a="$(val "$file" idle_start)" -v b="$(val "$file" idle_end)" \
        'index($8, t) && $1 >= a && $1 <= b { n++ } END { print n + 0 }' "$TMP/access.log")
      [ "$lreq" = 0 ] && [ "$nreq" = 0 ] || FAILED=1
      [ "$(val "$file" after_idle_ok)" = 1 ] || FAILED=1
      [ "$(val "$file" h2_connections)" != 0 ] || { desc="$desc (HTTP/2 not negotiated!)"; FAILED=1; }
      cpuh=$(awk -v c="$cpu" -v m="$ims" 'BEGIN { printf "%.1f", c * 3600000 / m }')
      connh=$(awk -v c="$conns" -v m="$ims" 'BEGIN { printf "%.0f", c * 3600000 / m }')
      if [ "$name" = base ]; then BASE_H[$ka]=$cpuh over=-
      elif [ -n "${BASE_H[$ka]:-}" ]; then over=$(awk -v a="$cpuh" -v b="${BASE_H[$ka]}" 'BEGIN { printf "%+.1f", a - b }')
      else over=?; fi
      after="$(val "$file" after_idle_rtt) RTT, $( [ "$(val "$file" after_idle_handshake)" = 1 ] && echo "paid a handshake" || echo "no handshake")"
      echo "| $name | $ka s | $desc | $(awk -v m="$ims" 'BEGIN { printf "%.0f", m / 1000 }') | $cpu | $cpuh | $over | $conns | $connh | $(val "$file" idle_first_conn_s) / $(val "$file" idle_last_conn_s) | $lreq / $nreq | $after |"
      if [ -n "$(val "$file" idle_after_split_ms)" ]; then
        sms=$(val "$file" idle_after_split_ms) scpu=$(val "$file" idle_after_split_cpu_ms) sconns=$(val "$file" idle_after_split_connections)
        scpuh=$(awk -v c="$scpu" -v m="$sms" 'BEGIN { printf "%.1f", c * 3600000 / m }')
        sover=-
        [ -n "${BASE_H[$ka]:-}" ] && sover=$(awk -v a="$scpuh" -v b="${BASE_H[$ka]}" 'BEGIN { printf "%+.1f", a - b }')
        echo "| $name, its last $(awk -v m="$sms" 'BEGIN { printf "%.0f", m / 1000 }') s | $ka s | the same, from $(( (ims - sms + 500) / 1000 )) s into the spell (keep_warm_ms + 2 s) | $(awk -v m="$sms" 'BEGIN { printf "%.0f", m / 1000 }') | $scpu | $scpuh | $sover | $sconns | $(awk -v c="$sconns" -v m="$sms" 'BEGIN { printf "%.0f", c * 3600000 / m }') | | $(val "$file" idle_after_split_requests) / - | |"
      fi
    done
    echo
    echo "(\"first / last at s\": when, in seconds into the spell, the counters (read every 5 s) first and last showed a new connection; -1.0: never.)"
    echo
  fi
  if [ "$RAW_RETRY_BUG" = 1 ]; then
    echo "\"Connection died, tried 5 times before giving up\": libcurl (7.88.1 here) retries a request once on a new connection when a reused one turns out dead, but counts those retries per easy handle and does not reset the count after a success (reported upstream as curl/curl PR #19066, October 2025), so a long-lived handle fails at once, without a request sent, the 6th time it finds its connection closed by the server. Over HTTP/1.1 with TLS it finds that every time the server dropped the connection: libcurl reuses it (the server's close_notify, unread in the socket, apparently passes its liveness check) and only then sees it dead (\`--curl-verbose\` shows \"Connection died, retrying a fresh connect (retry count: N)\")."
    echo
  fi
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
[ "$RAW_ERRORS" = 0 ] || log "raw libcurl failed some lookups (reported in $OUT)"
[ "$FAILED" = 0 ] || { log "some rows failed (see $OUT)"; exit 1; }

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
#   BENCH_WAN_LONG=1      also the 90 s rows (about 10 more minutes)
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
if [ "${BENCH_WAN_QUICK:-0}" = 1 ]; then q=(40 8 4 3 60); else q=(200 30 12 6 200); fi
N_1MS=${BENCH_WAN_N_1MS:-${q[0]}}
N_1S=${BENCH_WAN_N_1S:-${q[1]}}
N_10S=${BENCH_WAN_N_10S:-${q[2]}}
N_90S=${BENCH_WAN_N_90S:-${q[3]}}
N_TAIL=${BENCH_WAN_N_TAIL:-${q[4]}}
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
BOUND=$((600 + (N_1MS + N_TAIL * 2) * 2 + N_1S * 2 + N_10S * 11 + N_90S * 91 * ${BENCH_WAN_LONG:-0}))
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

ALL=(h1-5 h1-60 h2-5 h2-60)
START=$(date +%s)
run_group 1 "$N_1MS" fixed "${ALL[@]}"
run_group 1000 "$N_1S" fixed "${ALL[@]}"
run_group 10000 "$N_10S" fixed "${ALL[@]}"
[ "${BENCH_WAN_LONG:-0}" = 1 ] && run_group 90000 "$N_90S" fixed "${ALL[@]}"
run_group 1 "$N_TAIL" tail h1-60 h2-60
run_group 1 "$N_TAIL" backend h1-60 h2-60
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
  echo "\`make bench-wan\` ($( [ "${BENCH_WAN_QUICK:-0}" = 1 ] && echo "BENCH_WAN_QUICK=1, " )$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)). Rows of one gap ran side by side; ${ELAPSED} s of lookups."
  echo
  echo "- line: client -- router -- server namespaces, every packet held $((RTT / 2)) ms each way by bench/wan/delay.c (NFQUEUE)"
  echo "- round trip check (no ping here): $RTT_CHECK"
  echo "- $(tail -1 "$TMP/delay.log")"
  echo "- server: $(nginx -v 2>&1 | sed 's/.*: //'), TLS 1.3, ECDSA P-256 throwaway CA; tail rows via the sandbox (5 % of ids answered 400 ms late); backend rows: 5 % of requests, at random, to a sandbox answering 400 ms late"
  echo "- client: $(curl-config --version 2>/dev/null || echo libcurl), polyai-handoff $(sed -n 's/^#define HANDOFF_VERSION "\(.*\)"/\1/p' "$ROOT/include/polyai_handoff.h"), lib warm: ${BENCH_WAN_WARM:-0}"
  echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; every process under nice -n 19"
  echo
  echo "Latency over every lookup, the first (cold) one included. \"handshake\": lookups that opened a new connection (TCP + TLS); \"server conns\": connections nginx logged for the row."
  echo
  echo "| mode | HTTP | server idle timeout | gap | answers | lookups | p50 ms | p99 ms | max ms | p50 RTT | p99 RTT | max RTT | paid a handshake | server conns | errors |"
  echo "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
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
  if [ "$RAW_RETRY_BUG" = 1 ]; then
    echo "\"Connection died, tried 5 times before giving up\": libcurl (7.88.1 here) retries a request once on a new connection when a reused one turns out dead, but counts those retries per easy handle and does not reset the count after a success (reported upstream as curl/curl PR #19066, October 2025), so a long-lived handle fails at once, without a request sent, the 6th time it finds its connection closed by the server. Over HTTP/1.1 with TLS it finds that every time the server dropped the connection: libcurl reuses it (the server's close_notify, unread in the socket, apparently passes its liveness check) and only then sees it dead (\`--curl-verbose\` shows \"Connection died, retrying a fresh connect (retry count: N)\")."
    echo
  fi
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
[ "$RAW_ERRORS" = 0 ] || log "raw libcurl failed some lookups (reported in $OUT)"
[ "$FAILED" = 0 ] || { log "some rows failed (see $OUT)"; exit 1; }

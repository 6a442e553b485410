# The RPC part of e2e.sh, sourced by it (its helpers, counters and
# Kamailios): polyai_handoff.stats, .reload and .breaker, and
# stats.get_statistics, called with kamcmd on running Kamailios that serve
# RPC (ctl) on a socket in the work dir.
#   rpc         sync, 2 SIP workers: every worker's counts summed; reload
#               with a valid file (a rename the next calls show), an invalid
#               one (refused, nothing changes) and one that breaks after it
#               was accepted (each worker keeps its client).
#   rpc-breaker sync, 1 SIP worker: the breaker opened by 5xx, shown open,
#               closed by RPC, the next call sent to the API.
#   rpc-async   1 SIP worker, 1 async process: the async process's counts,
#               its breaker, and a reload while a lookup is in flight on the
#               client it replaces.
# shellcheck shell=bash disable=SC2154

declare -A KAM_CTL=()
# start_rpc NAME CONF [-A define]...: kamailio.cfg with CTL_SOCKET in its dir.
start_rpc() {
  local name=$1 conf=$2
  shift 2
  mkdir -p "$WORK/$name"
  KAM_CTL[$name]=$WORK/$name/ctl.sock
  start_named "$name" "$HERE/kamailio.cfg" -A "POLYAI_CONFIG=\"$conf\"" \
    -A "CTL_SOCKET=\"unixs:${KAM_CTL[$name]}\"" "$@"
}

# rpc NAME METHOD [ARG]...: kamcmd's reply, saved as $WORK/NAME/rpc.out and,
# flattened, as $WORK/NAME/rpc.flat: one "path value" line per field
# (total.status.ok 6, per_process.0.role sip worker; "error 500 - ..." for
# a fault: kamcmd exits 0 then too).
rpc() {
  local name=$1
  shift
  kamcmd -s "unixs:${KAM_CTL[$name]}" "$@" >"$WORK/$name/rpc.out" 2>&1
  awk '
    { sub(/^[ \t]+/, "") }
    function prefix(  i, p) { p = ""; for (i = 2; i <= d; i++) p = p path[i] "."; return p }
    /^\{$/ { d++; path[d] = d > 1 ? count[d - 1]++ : ""; count[d] = 0; next }
    /^\}$/ { d--; next }
    /^[^:]*: \{$/ { d++; path[d] = substr($0, 1, index($0, ":") - 1); count[d] = 0; next }
    /: / { i = index($0, ": "); print prefix() substr($0, 1, i - 1), substr($0, i + 2) }
  ' "$WORK/$name/rpc.out" >"$WORK/$name/rpc.flat"
}

# field NAME PATH: a value of the last rpc reply ("" if absent).
field() {
  awk -v k="$2" '{ i = index($0, " "); if (substr($0, 1, i - 1) == k) { print substr($0, i + 1); exit } }' \
    "$WORK/$1/rpc.flat"
}

# per_process_sum NAME FIELD: FIELD summed over per_process entries.
per_process_sum() {
  awk -v f="$2" '{ i = index($0, " "); k = substr($0, 1, i - 1) }
    k ~ "^per_process\\.[0-9]+\\." f "$" { s += substr($0, i + 1) } END { print s + 0 }' "$WORK/$1/rpc.flat"
}

# per_process_count NAME FIELD VALUE: entries whose FIELD is VALUE.
per_process_count() {
  awk -v f="$2" -v v="$3" '{ i = index($0, " "); k = substr($0, 1, i - 1) }
    k ~ "^per_process\\.[0-9]+\\." f "$" && substr($0, i + 1) == v { n++ } END { print n + 0 }' "$WORK/$1/rpc.flat"
}

# role_count NAME ROLE FIELD VALUE: entries of role ROLE whose FIELD is VALUE.
role_count() {
  awk -v r="$2" -v f="$3" -v v="$4" '{ i = index($0, " "); k = substr($0, 1, i - 1); val = substr($0, i + 1) }
    match(k, /^per_process\.[0-9]+\./) { e = substr(k, 1, RLENGTH); n = substr(k, RLENGTH + 1)
      if (n == "role") role[e] = val; if (n == f) got[e] = val }
    END { for (e in got) if (role[e] == r && got[e] == v) c++; print c + 0 }' "$WORK/$1/rpc.flat"
}

# poll_rpc NAME ROLE FIELD VALUE METHOD [ARG]...: calls METHOD every 0.1 s
# until every ROLE process's FIELD is VALUE, at most 5 s (scaled); the last
# reply stays.
poll_rpc() {
  local name=$1 role=$2 field=$3 value=$4
  shift 4
  for _ in $(seq "$(scaled 50)"); do
    rpc "$name" "$@"
    [ "$(role_count "$name" "$role" "$field" "$value")" = "$(role_count "$name" "$role" role "$role")" ] && return 0
    sleep 0.1
  done
  reasons+=("the $role processes' $field did not all become [$value] within $(scaled 5) s")
}

# poll_field NAME PATH VALUE METHOD [ARG]...: calls METHOD every 0.1 s
# until the reply's PATH is VALUE, at most 5 s (scaled); the last reply
# stays. A process publishes its counters after it has answered the call
# that moved them, so a reply right after SIPp ends may be a moment old.
poll_field() {
  local name=$1 path=$2 value=$3
  shift 3
  for _ in $(seq "$(scaled 50)"); do
    rpc "$name" "$@"
    [ "$(field "$name" "$path")" = "$value" ] && return 0
    sleep 0.1
  done
}

# expect NAME PATH VALUE: the last reply's PATH is VALUE, else a reason.
expect() {
  local got
  got=$(field "$1" "$2")
  [ "$got" = "$3" ] || reasons+=("$2 is [$got], $3 expected")
}

expect_sum() { # NAME FIELD VALUE
  local got
  got=$(per_process_sum "$1" "$2")
  [ "$got" = "$3" ] || reasons+=("per-process $2 sum to $got, $3 expected")
}

expect_count() { # NAME FIELD VALUE COUNT
  local got
  got=$(per_process_count "$1" "$2" "$3")
  [ "$got" = "$4" ] || reasons+=("$got processes with $2 [$3], $4 expected")
}

# check_case NAME KAM FUNCTION [ARG]...: a case made of RPC calls; FUNCTION
# adds to reasons.
check_case() {
  local name=$1 kam=$2 n=$((PASSED + FAILED + 1)) reasons=() r
  shift 2
  "$@"
  if ! tally "$n $name"; then
    echo "     last reply ($WORK/$kam/rpc.out):"
    head -n 20 "$WORK/$kam/rpc.out" | sed 's/^/     | /'
    echo "     kamailio log (last lines):"
    tail -n 15 "${KAM_LOGS[$kam]}" | sed 's/^/     | /'
  fi
}

sandbox_requests() { curl -s --max-time 5 "$SANDBOX_URL/_sandbox/stats" | jq .requests; }

# --check: the calls of a case sent SENT_BEFORE + EXPECTED_REQUESTS requests in all.
expect_requests() { REQUESTS_BEFORE=$(sandbox_requests) EXPECTED_REQUESTS=$1; }
check_requests() {
  local now
  now=$(sandbox_requests)
  [ "$now" = $((REQUESTS_BEFORE + EXPECTED_REQUESTS)) ] ||
    reasons+=("the sandbox got $((now - REQUESTS_BEFORE)) requests, $EXPECTED_REQUESTS expected")
}

# The acme-call-123 lines once rename.handoff_to = X-PolyAI-Route applies.
ACME_CALL_123_RENAMED=${ACME_CALL_123/X-PolyAI-Handoff-To: billing/X-PolyAI-Route: billing}

write_polyai_conf "$WORK/polyai-rpc.conf" "$SANDBOX_URL" "$WORK/api-key" "timeout_ms = 1000" "breaker_failures = 0"
start_rpc rpc "$WORK/polyai-rpc.conf" -A WORKERS=2
# Opens after 2 failures in a row and stays open: only the RPC closes it.
BREAKER_LINES=("timeout_ms = 1000" "retries = 0" "breaker_failures = 2" "breaker_cooldown_ms = 600000")
write_polyai_conf "$WORK/polyai-rpc-breaker.conf" "$SANDBOX_URL" "$WORK/api-key" "${BREAKER_LINES[@]}"
start_rpc rpc-breaker "$WORK/polyai-rpc-breaker.conf" -A WORKERS=1
# timeout_ms 3 s: a lookup of fault-slow stays in flight that long.
ASYNC_LINES=("timeout_ms = 3000" "retries = 0" "breaker_failures = 2" "breaker_cooldown_ms = 600000")
write_polyai_conf "$WORK/polyai-rpc-async.conf" "$SANDBOX_URL" "$WORK/api-key" "${ASYNC_LINES[@]}"
start_rpc rpc-async "$WORK/polyai-rpc-async.conf" -A WORKERS=1 -A ASYNC

# ------------------------------------------------ statistics, 2 SIP workers

# Each of these Kamailios also has the async process (async_workers 1, the
# default), idle but for the RPC's wake-ups where ASYNC is not defined.
rpc_stats_at_start() {
  # The async process takes its slot once it has made its client.
  poll_field rpc total.processes 3 polyai_handoff.stats
  expect rpc total.processes 3
  expect rpc total.lookups 0
  expect_count rpc role "sip worker" 2
  expect_count rpc role async 1
  expect_count rpc breaker closed 3
  expect_count rpc config current 3
}
check_case "RPC polyai_handoff.stats at start: both SIP workers and the async process listed, nothing counted" rpc rpc_stats_at_start

run_case "RPC: 6 calls over 2 SIP workers, routed to billing" \
  --kam rpc --queue billing --header "X-Shared-Id: acme-call-123" --calls 6 --rate 20 <<<"$ACME_CALL_123"

rpc_stats_after_calls() {
  rpc rpc polyai_handoff.stats
  expect rpc total.lookups 6
  expect rpc total.status.ok 6
  expect rpc total.status.not_found 0
  expect rpc total.requests 6
  expect rpc total.breaker_open 0
  expect rpc total.in_flight 0
  expect rpc total.cache_hits 0
  expect rpc total.latency_le_ms.10000 6
  expect_sum rpc lookups 6
  expect_sum rpc status.ok 6
  expect_sum rpc latency_le_ms.10000 6
  [ "$(field rpc total.latency_us_sum)" -gt 0 ] 2>/dev/null || reasons+=("total.latency_us_sum is not positive")
  # New connections (kept alive, so few), over plain HTTP: HTTP/1.1.
  [ "$(field rpc total.connections)" -ge 1 ] 2>/dev/null || reasons+=("no connection counted")
  expect rpc total.connections_http1 "$(field rpc total.connections)"
  expect_sum rpc connections "$(field rpc total.connections)"
}
check_case "RPC polyai_handoff.stats: total lookups 6 (all ok, 6 requests, under 10 s), the per-process counts add up to it" \
  rpc rpc_stats_after_calls

rpc_kamailio_counters() {
  rpc rpc stats.get_statistics all
  grep -qx "polyai_handoff:lookups = 6" "$WORK/rpc/rpc.out" || reasons+=("no \"polyai_handoff:lookups = 6\"")
  grep -qx "polyai_handoff:status_ok = 6" "$WORK/rpc/rpc.out" || reasons+=("no \"polyai_handoff:status_ok = 6\"")
  grep -qx "polyai_handoff:latency_le_10000 = 6" "$WORK/rpc/rpc.out" || reasons+=("no \"polyai_handoff:latency_le_10000 = 6\"")
  grep -qx "polyai_handoff:breaker_open = 0" "$WORK/rpc/rpc.out" || reasons+=("no \"polyai_handoff:breaker_open = 0\"")
}
check_case "kamcmd stats.get_statistics all: the module's counters, summed over the workers (polyai_handoff:lookups = 6, ...)" \
  rpc rpc_kamailio_counters

# ------------------------------------------------ reload

rpc_reload_valid() {
  write_polyai_conf "$WORK/polyai-rpc.conf" "$SANDBOX_URL" "$WORK/api-key" "timeout_ms = 1000" "breaker_failures = 0" \
    "rename.handoff_to = X-PolyAI-Route"
  rpc rpc polyai_handoff.reload
  expect rpc config_file "$WORK/polyai-rpc.conf"
  expect rpc generation 1
  expect rpc processes 3
  # The async process takes it at once; no call yet, so each SIP worker
  # takes it before its next lookup.
  poll_rpc rpc async config current polyai_handoff.stats
  [ "$(role_count rpc "sip worker" config "reload pending")" = 2 ] || reasons+=("the SIP workers are not both \"reload pending\"")
}
check_case "RPC polyai_handoff.reload, a valid changed file (rename.handoff_to): accepted (generation 1), taken by the async process, pending in both SIP workers" \
  rpc rpc_reload_valid

run_case "after the reload: every call, whichever worker, carries X-PolyAI-Route instead of X-PolyAI-Handoff-To" \
  --kam rpc --queue billing --header "X-Shared-Id: acme-call-123" --calls 6 --rate 20 <<<"$ACME_CALL_123_RENAMED"

rpc_stats_after_reload() {
  rpc rpc polyai_handoff.stats
  # The new clients' counts go on from the old ones'.
  expect rpc total.lookups 12
  expect rpc total.status.ok 12
  expect_sum rpc lookups 12
  expect_count rpc config "reload failed" 0
  [ "$(per_process_count rpc config current)" -ge 1 ] || reasons+=("no worker shows the reload applied")
}
check_case "RPC polyai_handoff.stats after the reload: total lookups 12 (counts kept across the new clients)" \
  rpc rpc_stats_after_reload

rpc_reload_invalid() {
  local pending
  rpc rpc polyai_handoff.stats
  pending=$(per_process_count rpc config "reload pending")
  cp "$WORK/polyai-rpc.conf" "$WORK/polyai-rpc.conf.good"
  echo "timeout_ms = 0" >>"$WORK/polyai-rpc.conf"
  rpc rpc polyai_handoff.reload
  grep -q "^error: 500 - reload refused, nothing changed: config_file $WORK/polyai-rpc.conf: .*timeout_ms" "$WORK/rpc/rpc.out" ||
    reasons+=("the reply is not a refusal naming the file and timeout_ms")
  rpc rpc polyai_handoff.stats
  expect_count rpc config "reload pending" "$pending"
  expect_count rpc config "reload failed" 0
}
check_case "RPC polyai_handoff.reload, an invalid file (timeout_ms = 0): refused with the reason, no reload asked of any process" \
  rpc rpc_reload_invalid

run_case "after the refused reload: calls unchanged (still X-PolyAI-Route)" \
  --kam rpc --queue billing --header "X-Shared-Id: acme-call-123" --calls 4 --rate 20 <<<"$ACME_CALL_123_RENAMED"

# Accepted, then the file breaks before the workers read it again.
rpc_reload_breaks_later() {
  write_polyai_conf "$WORK/polyai-rpc.conf" "$SANDBOX_URL" "$WORK/api-key" "timeout_ms = 1000" "breaker_failures = 0"
  rpc rpc polyai_handoff.reload
  expect rpc generation 2
  # Once the async process has read it: the SIP workers read it next.
  poll_rpc rpc async config current polyai_handoff.stats
  echo "no_such_key = 1" >>"$WORK/polyai-rpc.conf"
}
check_case "RPC polyai_handoff.reload accepted, then the file made invalid before any SIP worker read it" rpc rpc_reload_breaks_later

check_kept_client() {
  grep -q "reload: config_file $WORK/polyai-rpc.conf: .*no_such_key.*the configuration in use stays" "$klog" ||
    reasons+=("no \"reload: ... no_such_key ... the configuration in use stays\" line in Kamailio's log")
}
run_case "then every call still carries X-PolyAI-Route: a SIP worker whose re-read fails keeps its client and logs why" \
  --kam rpc --queue billing --header "X-Shared-Id: acme-call-123" --calls 4 --rate 20 --check check_kept_client \
  <<<"$ACME_CALL_123_RENAMED"

rpc_reload_failed_shown() {
  rpc rpc polyai_handoff.stats
  [ "$(role_count rpc "sip worker" config "reload failed")" -ge 1 ] || reasons+=("no SIP worker shows \"reload failed\"")
  expect rpc total.lookups 20
  cp "$WORK/polyai-rpc.conf.good" "$WORK/polyai-rpc.conf"
  rpc rpc polyai_handoff.reload
  expect rpc generation 3
  poll_rpc rpc async config current polyai_handoff.stats
}
check_case "RPC polyai_handoff.stats shows \"reload failed\"; the good file reloaded again (generation 3)" rpc rpc_reload_failed_shown

# ------------------------------------------------ breaker, sync

run_case "RPC breaker (sync): 2 calls to fault-500 open it, to fallback with server_error" \
  --kam rpc-breaker --queue fallback --header "X-Shared-Id: fault-500" --calls 2 --rate 10 <<'EOF'
X-PolyAI-Handoff-Status: server_error
EOF

rpc_breaker_open() { # NAME ROLE
  poll_field "$1" state open polyai_handoff.breaker
  expect "$1" state open
  expect "$1" open 1
  expect_count "$1" breaker open 1
  [ "$(per_process_count "$1" role "$2")" -ge 1 ] || reasons+=("no $2 process listed")
  rpc "$1" polyai_handoff.stats
  expect "$1" total.breaker_open 1
  expect "$1" total.breaker_opened 1
}
check_case "RPC polyai_handoff.breaker: state open (the worker's breaker)" rpc-breaker rpc_breaker_open rpc-breaker "sip worker"

expect_requests 0
run_case "breaker open: the next call fails fast with unavailable, no request sent" \
  --kam rpc-breaker --queue fallback --header "X-Shared-Id: acme-call-123" --check check_requests <<'EOF'
X-PolyAI-Handoff-Status: unavailable
EOF

rpc_breaker_close() {
  rpc rpc-breaker polyai_handoff.breaker close
  expect rpc-breaker state closing
  expect rpc-breaker closing 1
  expect rpc-breaker open 0
  [ "$(role_count rpc-breaker "sip worker" breaker closing)" = 1 ] || reasons+=("the SIP worker is not \"closing\"")
}
check_case "RPC polyai_handoff.breaker close: the SIP worker's breaker closing (before its next lookup)" rpc-breaker rpc_breaker_close

expect_requests 1
run_case "breaker closed by RPC: the next call goes to the API (1 request) and is routed to billing" \
  --kam rpc-breaker --queue billing --header "X-Shared-Id: acme-call-123" --check check_requests <<<"$ACME_CALL_123"

rpc_breaker_closed() { # NAME
  rpc "$1" polyai_handoff.breaker
  expect "$1" state closed
  expect "$1" open 0
  expect "$1" closing 0
  rpc "$1" polyai_handoff.stats
  expect "$1" total.breaker_open 0
  expect "$1" total.breaker_opened 1
}
check_case "RPC polyai_handoff.breaker: closed" rpc-breaker rpc_breaker_closed rpc-breaker

rpc_breaker_bad_action() {
  rpc rpc-breaker polyai_handoff.breaker open
  grep -q '^error: 400 - unknown action \[open\]' "$WORK/rpc-breaker/rpc.out" || reasons+=("no 400 for an unknown action")
}
check_case "RPC polyai_handoff.breaker with an unknown action: 400" rpc-breaker rpc_breaker_bad_action

# ------------------------------------------------ the async process

run_case "RPC async: 4 calls resumed by the async process, routed to billing" \
  --kam rpc-async --queue billing --header "X-Shared-Id: acme-call-123" --calls 4 --rate 20 <<<"$ACME_CALL_123"

rpc_async_stats() {
  poll_field rpc-async total.lookups 4 polyai_handoff.stats
  expect rpc-async total.processes 2
  expect rpc-async total.lookups 4
  expect rpc-async total.status.ok 4
  expect_count rpc-async role async 1
  expect_count rpc-async role "sip worker" 1
  local i role
  for i in 0 1; do
    role=$(field rpc-async "per_process.$i.role")
    case $role in
      async) expect rpc-async "per_process.$i.lookups" 4 ;;
      "sip worker") expect rpc-async "per_process.$i.lookups" 0 ;;
    esac
  done
}
check_case "RPC polyai_handoff.stats: the async process counted the 4 lookups, the SIP worker none" rpc-async rpc_async_stats

run_case "RPC async breaker: 2 calls to fault-500 open it" \
  --kam rpc-async --queue fallback --header "X-Shared-Id: fault-500" --calls 2 --rate 10 <<'EOF'
X-PolyAI-Handoff-Status: server_error
EOF

check_case "RPC polyai_handoff.breaker: state open (the async process's breaker)" rpc-async rpc_breaker_open rpc-async async

expect_requests 0
run_case "async breaker open: the next call resumed with unavailable, no request sent" \
  --kam rpc-async --queue fallback --header "X-Shared-Id: acme-call-123" --check check_requests <<'EOF'
X-PolyAI-Handoff-Status: unavailable
EOF

rpc_breaker_close_async() {
  rpc rpc-async polyai_handoff.breaker close
  [ "$(field rpc-async state)" != open ] || reasons+=("state is still open")
  # Woken, the async process closes it at once.
  poll_rpc rpc-async async breaker closed polyai_handoff.breaker
  expect rpc-async state closed
}
check_case "RPC polyai_handoff.breaker close: the async process closes its breaker at once" rpc-async rpc_breaker_close_async

expect_requests 1
run_case "async breaker closed by RPC: the next call goes to the API, routed to billing" \
  --kam rpc-async --queue billing --header "X-Shared-Id: acme-call-123" --check check_requests <<<"$ACME_CALL_123"

check_case "RPC polyai_handoff.breaker: closed (async process)" rpc-async rpc_breaker_closed rpc-async

# A reload while a lookup is in flight (fault-slow, held for timeout_ms,
# 3 s): the async process takes it at once, with a new client and queue;
# the next call uses them, and the slow call is still resumed later, from
# the replaced client's queue, and counted.
rpc_async_reload_in_flight() {
  local dir=$WORK/rpc-async/in-flight before slow_pid uas_pid rc ok_line timeout_line
  mkdir -p "$dir"
  { echo "== fallback 1"; echo "X-PolyAI-Handoff-Status: timeout"; echo "== billing 1"; echo "$ACME_CALL_123_RENAMED"; } |
    sed 's/\\s$/ /' >"$dir/expected"
  uas_scenario "(billing|fallback)" /dev/null >"$dir/uas.xml"
  uac_scenario "$(scaled 6000)" "X-Shared-Id: fault-slow" >"$dir/slow.xml"
  uac_scenario "$(scaled 6000)" "X-Shared-Id: acme-call-123" >"$dir/next.xml"
  sipp -sf "$dir/uas.xml" -i 127.0.0.1 -p "$UAS_PORT" -m 2 -timeout 30 -timeout_error \
    -trace_msg -message_file "$dir/uas.msg" -trace_err -error_file "$dir/uas.err" -nostdin >"$dir/uas.out" 2>&1 &
  uas_pid=$!
  STARTED_PIDS+=("$uas_pid")
  wait_udp_port "$UAS_PORT" "$uas_pid" || reasons+=("the UAS did not start")
  before=$(sandbox_requests)
  sipp "127.0.0.1:${KAM_PORTS[rpc-async]}" -sf "$dir/slow.xml" -i 127.0.0.1 -m 1 -timeout 30 -timeout_error \
    -trace_err -error_file "$dir/slow.err" -nostdin >"$dir/slow.out" 2>&1 &
  slow_pid=$!
  STARTED_PIDS+=("$slow_pid")
  # Its request has reached the sandbox: the lookup is in flight.
  sandbox_has_more() { [ "$(sandbox_requests)" -gt "$before" ]; }
  poll_while_alive "$(scaled 50)" "$slow_pid" sandbox_has_more || reasons+=("the slow lookup's request did not reach the sandbox")
  write_polyai_conf "$WORK/polyai-rpc-async.conf" "$SANDBOX_URL" "$WORK/api-key" "${ASYNC_LINES[@]}" \
    "rename.handoff_to = X-PolyAI-Route"
  rpc rpc-async polyai_handoff.reload
  expect rpc-async generation 1
  sipp "127.0.0.1:${KAM_PORTS[rpc-async]}" -sf "$dir/next.xml" -i 127.0.0.1 -m 1 -timeout 30 -timeout_error \
    -trace_err -error_file "$dir/next.err" -nostdin >"$dir/next.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || reasons+=("SIPp UAC (the next call) exited $rc")
  wait "$slow_pid"
  rc=$?
  [ "$rc" = 0 ] || reasons+=("SIPp UAC (the slow call) exited $rc: not answered")
  wait "$uas_pid"
  rc=$?
  [ "$rc" = 0 ] || reasons+=("SIPp UAS exited $rc")
  received_blocks_by_queue "$dir/uas.msg" >"$dir/received-blocks" 2>/dev/null
  block_lines "$dir/received-blocks" >"$dir/received"
  block_lines "$dir/expected" >"$dir/expected-all"
  diff -u "$dir/expected-all" "$dir/received" >"$dir/diff" ||
    reasons+=("the X-PolyAI-* headers differ from the expected ones ($dir/diff)")
  # The next call was resumed while the slow one was still in flight.
  ok_line=$(grep -n "resumed: ok -> queue billing" "${KAM_LOGS[rpc-async]}" | tail -n 1 | cut -d: -f1)
  timeout_line=$(grep -n "resumed: timeout" "${KAM_LOGS[rpc-async]}" | tail -n 1 | cut -d: -f1)
  [ -n "$ok_line" ] && [ -n "$timeout_line" ] && [ "$ok_line" -lt "$timeout_line" ] ||
    reasons+=("the slow call was not resumed after the next one (lines ${ok_line:-none} and ${timeout_line:-none})")
}
check_case "RPC reload while an async lookup is in flight: the next call uses the new configuration (X-PolyAI-Route), the slow one still resumes (timeout, fallback)" \
  rpc-async rpc_async_reload_in_flight

rpc_async_stats_after_reload() {
  poll_field rpc-async total.lookups 10 polyai_handoff.stats
  # 4 + 2 + 1 + 1 before, then the slow one (on the replaced client) and the next.
  expect rpc-async total.lookups 10
  expect rpc-async total.status.ok 6
  expect rpc-async total.status.server_error 2
  expect rpc-async total.status.unavailable 1
  expect rpc-async total.status.timeout 1
  expect rpc-async total.in_flight 0
  expect_count rpc-async config current 2
}
check_case "RPC polyai_handoff.stats after the async reload: 10 lookups, the one in flight on the replaced client counted" \
  rpc-async rpc_async_stats_after_reload

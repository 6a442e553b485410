#!/usr/bin/env bash
# End-to-end test: SIPp (UAC) -> Kamailio with polyai_handoff -> SIPp (UAS).
# The UAC sends INVITEs carrying X-Shared-Id; Kamailio (kamailio.cfg, the
# README's example) looks each one up in the sandbox and forwards it to the
# UAS, whose scenario checks every X-PolyAI-* header with a regular
# expression; then the exact list of X-PolyAI-* lines the UAS received is
# compared with the expected one. The same for the asynchronous lookups
# (kamailio.cfg with ASYNC, kemi/ with ASYNC=1), plus a CANCEL and tm's
# fr_timer during a lookup. Then the DNI-pool flow (POLYAI_CARRIER): a
# caller's INVITE gets a DNI reserved in the sandbox and reaches a SIPp UAS
# playing PolyAI on sip:<dni>@; the sandbox, playing the agent, is called on
# that number; the call handed back with X-Shared-Id reaches the queue by
# handoff_to. Checked against what the sandbox received (jq). Then the RPC
# commands, with kamcmd (e2e_rpc.sh).
#
# Env: LIB_DIR INCLUDE_DIR SANDBOX FIXTURES (see common.sh);
#      HANDOFF_TEST_TIME_SCALE stretches the async cases' time bounds.
# Ends with "e2e: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

PASSED=0
FAILED=0
# A setup failure still ends with the summary line, counted as a failure.
die() {
  log "$*"
  echo "e2e: $PASSED passed, $((FAILED + 1)) failed"
  exit 1
}

check_inputs
"$HERE/build.sh" >/dev/null || die "module build failed"
# What the sandbox received is read with jq (build.sh installs it).
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"

WORK=$BUILD_DIR/e2e
rm -rf "$WORK"
mkdir -p "$WORK/cases"
trap stop_started EXIT
trap 'exit 130' INT TERM

start_sandbox "$WORK"
echo sandbox-key >"$WORK/api-key"
# timeout_ms 1000: the fault-slow fixture (5 s) must be forwarded well before.
write_polyai_conf "$WORK/polyai-handoff.conf" "$SANDBOX_URL" "$WORK/api-key" "timeout_ms = 1000"

# Each Kamailio picks its own port into KAM_PORT, KEMI_PORT, SILENT_PORT
# (start_kamailio retries on another if one was taken). The UAS, a new SIPp
# for each case, binds UAS_PORT, below the ephemeral range where nothing
# binds by chance, and each case checks that its SIPp holds it.
UAS_PORT=$(free_udp_port)
# The UAS playing PolyAI, where calls to reserved numbers go (POLYAI_CARRIER).
CARRIER_PORT=$(free_udp_port)
CARRIER="POLYAI_CARRIER=\"127.0.0.1:$CARRIER_PORT\""
# The same routing as a KEMI script (app_jsdt), for KSR.polyai_handoff.*.
mkdir -p "$WORK/kemi"
start_kamailio "$WORK/kemi/kamailio.log" KEMI_PORT "$HERE/kemi/kamailio-kemi.cfg" \
  -A "QUEUE_HOST=\"127.0.0.1:$UAS_PORT\"" -A "POLYAI_CONFIG=\"$WORK/polyai-handoff.conf\"" \
  -A "KEMI_SCRIPT=\"$HERE/kemi/handoff.js\"" -A WORKERS=2 -A "$CARRIER"
KEMI_PID=$KAMAILIO_PID
start_kamailio "$WORK/kamailio.log" KAM_PORT "$HERE/kamailio.cfg" \
  -A "QUEUE_HOST=\"127.0.0.1:$UAS_PORT\"" -A "POLYAI_CONFIG=\"$WORK/polyai-handoff.conf\"" -A WORKERS=4 -A "$CARRIER"
MAIN_PID=$KAMAILIO_PID
# An API that accepts and never answers, one worker, a breaker that opens
# after one failure and stays open: the first call waits out timeout_ms, the
# next ones fail fast (within 1 s, a bound well apart from the 3 s wait).
mkdir -p "$WORK/silent"
write_polyai_conf "$WORK/polyai-silent.conf" "$BLACKHOLE_URL" "$WORK/api-key" \
  "timeout_ms = 3000" "breaker_failures = 1" "breaker_cooldown_ms = 600000"
start_kamailio "$WORK/silent/kamailio.log" SILENT_PORT "$HERE/kamailio.cfg" \
  -A "QUEUE_HOST=\"127.0.0.1:$UAS_PORT\"" -A "POLYAI_CONFIG=\"$WORK/polyai-silent.conf\"" -A WORKERS=1
SILENT_PID=$KAMAILIO_PID

# Every Kamailio by name, for run_case --kam and the final check.
declare -A KAM_PORTS=([main]=$KAM_PORT [kemi]=$KEMI_PORT [silent]=$SILENT_PORT)
declare -A KAM_LOGS=([main]=$WORK/kamailio.log [kemi]=$WORK/kemi/kamailio.log [silent]=$WORK/silent/kamailio.log)
declare -A KAM_PIDS=([main]=$MAIN_PID [kemi]=$KEMI_PID [silent]=$SILENT_PID)
# start_named NAME CFG [-A define]...: a Kamailio logging to $WORK/NAME/kamailio.log.
start_named() {
  local name=$1 cfg=$2
  shift 2
  mkdir -p "$WORK/$name"
  start_kamailio "$WORK/$name/kamailio.log" NAMED_PORT "$cfg" -A "QUEUE_HOST=\"127.0.0.1:$UAS_PORT\"" "$@"
  KAM_PORTS[$name]=$NAMED_PORT
  KAM_LOGS[$name]=$WORK/$name/kamailio.log
  KAM_PIDS[$name]=$KAMAILIO_PID
}

# Asynchronous lookups, each Kamailio with one SIP worker: a lookup that
# blocked it would hold up every call behind it.
TIME_SCALE=${HANDOFF_TEST_TIME_SCALE:-1}
scaled() { echo $(($1 * TIME_SCALE)); }
# The breaker is off where cases time out on purpose, so that it does not
# open for the cases after them.
write_polyai_conf "$WORK/polyai-async.conf" "$SANDBOX_URL" "$WORK/api-key" "timeout_ms = 1000" "breaker_failures = 0"
start_named async "$HERE/kamailio.cfg" -A ASYNC -A WORKERS=1 -A "POLYAI_CONFIG=\"$WORK/polyai-async.conf\""
# At most 5 lookups waiting, counted over two async processes; fault-slow
# holds them for timeout_ms.
write_polyai_conf "$WORK/polyai-pending.conf" "$SANDBOX_URL" "$WORK/api-key" "timeout_ms = 3000" "breaker_failures = 0"
start_named pending "$HERE/kamailio.cfg" -A ASYNC -A WORKERS=1 -A ASYNC_WORKERS=2 -A ASYNC_MAX_PENDING=5 \
  -A "POLYAI_CONFIG=\"$WORK/polyai-pending.conf\""
# timeout_ms (4 s, below fault-slow's 5 s) above fr_timer (2 s), against
# the README's rule, so that tm's timer fires while the lookup is in flight;
# one lookup waiting at most, so that a call after a dropped completion
# shows its slot was given back.
write_polyai_conf "$WORK/polyai-timers.conf" "$SANDBOX_URL" "$WORK/api-key" "timeout_ms = 4000"
start_named timers "$HERE/kamailio.cfg" -A ASYNC -A WORKERS=1 -A FR_TIMER=2000 -A ASYNC_MAX_PENDING=1 \
  -A "POLYAI_CONFIG=\"$WORK/polyai-timers.conf\""
start_named kemi-async "$HERE/kemi/kamailio-kemi.cfg" -A ASYNC=1 -A WORKERS=1 \
  -A "POLYAI_CONFIG=\"$WORK/polyai-handoff.conf\"" -A "KEMI_SCRIPT=\"$HERE/kemi/handoff.js\""

# An API slow but alive: a sandbox that answers everything 500 ms late, with
# SLOW_CALLS handoffs of their own (distinct ids: one request each, nothing
# shared by single flight), routed to billing, sales and support in turn.
SLOW_CALLS=200
SLOW_DELAY_MS=500
mkdir -p "$WORK/slow"
slow_queue() { local q=(billing sales support); echo "${q[$(($1 % 3))]}"; }
{
  echo '{"api_key": "sandbox-key", "account_id": "acme", "project_id": "PROJECT-support", "handoffs": ['
  for ((i = 1; i <= SLOW_CALLS; i++)); do
    printf '  %s{"id": "slow-conv-%03d", "shared_id": "slow-%03d", "data": {"handoff_to": "%s", "caller": %d}}\n' \
      "$([ "$i" = 1 ] || echo ,)" "$i" "$i" "$(slow_queue "$i")" "$i"
  done
  echo ']}'
} >"$WORK/slow/fixtures.json"
{ echo SEQUENTIAL; for ((i = 1; i <= SLOW_CALLS; i++)); do printf 'slow-%03d;\n' "$i"; done; } >"$WORK/slow/ids.csv"
MAIN_SANDBOX_URL=$SANDBOX_URL MAIN_BLACKHOLE_URL=$BLACKHOLE_URL
start_sandbox "$WORK/slow" "$WORK/slow/fixtures.json" --delay-ms "$SLOW_DELAY_MS"
SLOW_SANDBOX_URL=$SANDBOX_URL
SANDBOX_URL=$MAIN_SANDBOX_URL BLACKHOLE_URL=$MAIN_BLACKHOLE_URL
write_polyai_conf "$WORK/polyai-slow.conf" "$SLOW_SANDBOX_URL" "$WORK/api-key" "timeout_ms = 3000"
start_named slow "$HERE/kamailio.cfg" -A ASYNC -A WORKERS=1 -A "POLYAI_CONFIG=\"$WORK/polyai-slow.conf\""

# Reservations only (dni_api_key_file, no account or project) against an
# API that never answers; one worker, a breaker that opens after one failure.
cat >"$WORK/polyai-dni-silent.conf" <<EOF
base_url = $BLACKHOLE_URL
dni_api_key_file = $WORK/api-key
timeout_ms = 3000
breaker_failures = 1
breaker_cooldown_ms = 600000
EOF
start_named dni-silent "$HERE/kamailio.cfg" -A WORKERS=1 -A "POLYAI_CONFIG=\"$WORK/polyai-dni-silent.conf\"" -A "$CARRIER"
# An attributes template with every corner of the syntax (README.md).
DNI_TEMPLATE=' caller = $fU ;; empty= ;eq=a=b; padded=$(fn{s.unquote}) ; cseq=$cs; absent=$hdr(X-Absent);
  mixed = <$fU> to $rU ; nested.a.b=x;'
start_named dni-template "$HERE/kamailio.cfg" -A WORKERS=1 -A "POLYAI_CONFIG=\"$WORK/polyai-handoff.conf\"" -A "$CARRIER" \
  -A "DNI_ATTRIBUTES=\"$DNI_TEMPLATE\""

# ERE-escapes a literal, then XML-escapes it for an attribute. SIPp reads
# backslash escapes in attributes itself, so a literal backslash cannot be
# written in a regexp: it becomes "." (any character), and the exact header
# lines are still compared byte for byte after the call.
regex_literal() {
  # ("[." would open a collating element, so "." is not first.)
  printf '%s' "$1" | tr '\\' '\001' | sed -e 's#[][*^$+?(){}|/.]#\\&#g' -e 's/\x01/./g' \
    -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'
}

# uas_scenario QUEUE_REGEX EXPECTED_FILE ABSENT_HEADERS...
uas_scenario() {
  local queue=$1 expected=$2 line name value vars="ruri" i=0
  shift 2
  echo '<?xml version="1.0" encoding="UTF-8" ?>'
  echo '<scenario name="polyai-handoff e2e UAS">'
  echo '  <recv request="INVITE">'
  echo '    <action>'
  echo "      <ereg regexp=\"^INVITE sip:$queue@\" search_in=\"msg\" check_it=\"true\" assign_to=\"ruri\"/>"
  while IFS= read -r line; do
    name=${line%%: *}
    value=${line#*: }
    i=$((i + 1))
    # The whole line: LF before, CR after ([[:cntrl:]], which a space is
    # not). SIPp's search_in="hdr" also finds a name inside another
    # header's value, so the message itself is searched.
    echo "      <ereg regexp=\"[[:cntrl:]]$(regex_literal "$name: $value")[[:cntrl:]]\" search_in=\"msg\" check_it=\"true\" assign_to=\"h$i\"/>"
    vars="$vars,h$i"
  done <"$expected"
  for name in "$@"; do
    i=$((i + 1))
    echo "      <ereg regexp=\"[[:cntrl:]]$(regex_literal "$name")[[:blank:]]*:\" search_in=\"msg\" check_it_inverse=\"true\" assign_to=\"h$i\"/>"
    vars="$vars,h$i"
  done
  cat <<EOF
    </action>
  </recv>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:queue@[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
  <Reference variables="$vars"/>
</scenario>
EOF
}

# uac_scenario ANSWER_MS EXTRA_HEADER_LINES [TO_USER [FROM]]: an INVITE to
# sip:TO_USER@Kamailio (default handoff, a call handed back) from FROM (a
# name-addr, default <sip:agent@...>).
uac_scenario() {
  local to=${3:-handoff} from=${4:-"<sip:agent@[local_ip]:[local_port]>"}
  cat <<EOF
<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="polyai-handoff e2e UAC">
  <send retrans="500">
    <![CDATA[
INVITE sip:$to@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: $from;tag=[pid]SIPpTag00[call_number]
To: <sip:$to@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:agent@[local_ip]:[local_port]>
Max-Forwards: 70
$2
Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200" rtd="true" rrs="true" timeout="$1"/>
  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: $from;tag=[pid]SIPpTag00[call_number]
To: <sip:$to@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:agent@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
</scenario>
EOF
}

# For each INVITE the UAS received, a "--" line then its X-PolyAI-* lines
# (so the "--" lines count the INVITEs).
received_polyai_headers() {
  awk '
    /message received/ { recv = 1; inv = 0; next }
    /message sent/ { recv = 0; inv = 0; next }
    recv && /^INVITE / { print "--"; inv = 1; next }
    recv && inv { sub(/\r$/, ""); if (tolower($0) ~ /^x-polyai-/) print }
  ' "$1"
}

# The same with each INVITE's queue: "== QUEUE 1" before its lines.
received_blocks_by_queue() {
  awk '
    /message received/ { recv = 1; inv = 0; next }
    /message sent/ { recv = 0; inv = 0; next }
    recv && /^INVITE / { u = $2; sub(/^sip:/, "", u); sub(/@.*/, "", u); print "== " u " 1"; inv = 1; next }
    recv && inv { sub(/\r$/, ""); if (tolower($0) ~ /^x-polyai-/) print }
  ' "$1"
}

# Blocks led by "== QUEUE COUNT" lines, as one sorted line per call, so
# that two lists of blocks compare as multisets.
block_lines() {
  awk '
    function flush() { if (have) for (k = 0; k < n; k++) print b; have = 0 }
    /^== / { flush(); b = $2; n = $3; have = 1; next }
    { b = b " | " $0 }
    END { flush() }' "$1" | LC_ALL=C sort
}

received_header_named() { # trace name
  awk -v n="$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" '
    /message received/ { recv = 1; next } /message sent/ { recv = 0; next }
    recv { h = tolower($0); if (index(h, n ":") == 1) print }' "$1"
}

# run_case NAME --queue Q [--header "Name: value"]... [--absent Name]...
#          [--calls N --rate R] [--answer-ms MS] [--inf CSV] [--rtt]
#          [--kemi | --silent | --kam NAME] [--to USER] [--from NAME_ADDR]
#          [--call-id ID] [--carrier --queue-re RE] [--check FUNCTION]
#          < expected X-PolyAI-* lines
# --kemi: the KEMI Kamailio; --silent: the one whose API never answers;
# --kam: one started by start_named. --inf: SIPp's -inf (e.g. [field0] in a
# header). --rtt: every call answered within --answer-ms of its INVITE
# (SIPp's own timeout counts from the 100), p50 and max printed. --to,
# --from: the UAC's (uac_scenario); --call-id: its Call-IDs, SIPp's
# -cid_str (%u: the call's number, from 1). --carrier: the UAS is the one
# playing PolyAI (CARRIER_PORT); --queue-re: the Request-URI user as an ERE
# (no backslashes: SIPp reads them). --check: FUNCTION DIR runs after the
# calls and adds to the case's reasons.
# In the expected lines a final \s stands for a trailing space (editors
# strip real ones). Expected lines led by "== QUEUE COUNT" lines list
# different calls: COUNT of them routed to QUEUE with the lines that follow
# (--queue is then not used), compared as a multiset.
# tally LABEL: counts the case that just ran by its reasons (the caller's
# array): "ok LABEL", or "FAIL LABEL" and each reason, then returns 1 so the
# caller can show what it has of the failure.
tally() {
  if [ ${#reasons[@]} -eq 0 ]; then
    PASSED=$((PASSED + 1))
    echo "ok   $1"
    return 0
  fi
  FAILED=$((FAILED + 1))
  echo "FAIL $1"
  local r
  for r in "${reasons[@]}"; do echo "     - $r"; done
  return 1
}

run_case() {
  local name=$1 queue="" headers="" absent=() calls=1 rate=10 answer_ms=3000 inf="" rtt=0
  local target=$KAM_PORT klog=$WORK/kamailio.log to="" from="" callid="" uas_port=$UAS_PORT queue_re="" check=""
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --queue) queue=$2 ;;
      --header) headers="$headers${headers:+$'\n'}$2" ;;
      --absent) absent+=("$2") ;;
      --calls) calls=$2 ;;
      --rate) rate=$2 ;;
      --answer-ms) answer_ms=$2 ;;
      --inf) inf=$2 ;;
      --kam) target=${KAM_PORTS[$2]} klog=${KAM_LOGS[$2]} ;;
      --to) to=$2 ;;
      --from) from=$2 ;;
      --call-id) callid=$2 ;;
      --queue-re) queue_re=$2 ;;
      --check) check=$2 ;;
      --carrier) uas_port=$CARRIER_PORT; shift; continue ;;
      --rtt) rtt=1; shift; continue ;;
      --kemi) target=$KEMI_PORT klog=$WORK/kemi/kamailio.log; shift; continue ;;
      --silent) target=$SILENT_PORT klog=$WORK/silent/kamailio.log; shift; continue ;;
      *) die "run_case: unknown option $1" ;;
    esac
    shift 2
  done
  local n=$((PASSED + FAILED + 1))
  local dir
  dir="$WORK/cases/$(printf '%02d' "$n")-$(printf '%s' "$name" | tr -c 'A-Za-z0-9' '-' | cut -c1-40)"
  mkdir -p "$dir"
  sed 's/\\s$/ /' >"$dir/expected"
  local mixed=0
  if grep -q '^== ' "$dir/expected"; then
    mixed=1
    # The exact comparison after the calls checks each one's lines.
    uas_scenario "($(sed -n 's/^== \([A-Za-z0-9]*\) .*/\1/p' "$dir/expected" | sort -u | paste -sd'|'))" \
      /dev/null "${absent[@]}" >"$dir/uas.xml"
  else
    uas_scenario "${queue_re:-$(regex_literal "$queue")}" "$dir/expected" "${absent[@]}" >"$dir/uas.xml"
  fi
  uac_scenario "$answer_ms" "$headers" "$to" "$from" >"$dir/uac.xml"

  local reasons=()
  sipp -sf "$dir/uas.xml" -i 127.0.0.1 -p "$uas_port" -m "$calls" -timeout 30 -timeout_error \
    -trace_msg -message_file "$dir/uas.msg" -trace_err -error_file "$dir/uas.err" \
    -nostdin >"$dir/uas.out" 2>&1 &
  local uas_pid=$!
  STARTED_PIDS+=("$uas_pid")
  wait_udp_port "$uas_port" "$uas_pid" || reasons+=("the UAS did not start")

  local extra=()
  [ -z "$inf" ] || extra+=(-inf "$inf")
  [ "$rtt" = 0 ] || extra+=(-trace_rtt -rtt_freq 1)
  # SIPp knows its calls by their Call-ID: it makes them from -cid_str.
  [ -z "$callid" ] || extra+=(-cid_str "$callid")
  # In $dir: SIPp writes the RTT file into the current directory.
  (cd "$dir" && exec sipp "127.0.0.1:$target" -sf uac.xml -i 127.0.0.1 -m "$calls" -r "$rate" -l 1000 \
    -timeout 30 -timeout_error -trace_err -error_file "$dir/uac.err" "${extra[@]}" -nostdin >"$dir/uac.out" 2>&1)
  local uac_rc=$?
  wait "$uas_pid"
  local uas_rc=$?
  [ "$uac_rc" = 0 ] || reasons+=("SIPp UAC exited $uac_rc")
  [ "$uas_rc" = 0 ] || reasons+=("SIPp UAS exited $uas_rc (a header check failed or a call was missing)")

  # Every INVITE received carries exactly the expected X-PolyAI-* lines:
  # "received" holds the blocks separated by "--" (not led by one).
  local invites
  if [ "$mixed" = 1 ]; then
    received_blocks_by_queue "$dir/uas.msg" >"$dir/received-blocks" 2>/dev/null
    invites=$(grep -c '^== ' "$dir/received-blocks")
    block_lines "$dir/received-blocks" >"$dir/received"
    block_lines "$dir/expected" >"$dir/expected-all"
  else
    received_polyai_headers "$dir/uas.msg" >"$dir/received-blocks" 2>/dev/null
    invites=$(grep -c '^--$' "$dir/received-blocks")
    tail -n +2 "$dir/received-blocks" >"$dir/received"
    { for ((i = 0; i < invites; i++)); do
        [ "$i" = 0 ] || echo "--"
        cat "$dir/expected"
      done; } >"$dir/expected-all"
  fi
  if [ ! -s "$dir/uas.msg" ]; then
    reasons+=("the UAS received nothing")
  elif ! diff -u "$dir/expected-all" "$dir/received" >"$dir/diff"; then
    reasons+=("the X-PolyAI-* headers differ from the expected ones")
  fi
  [ "$invites" -ge "$calls" ] || reasons+=("$invites INVITEs reached the UAS, $calls expected")
  local h
  for h in "${absent[@]}"; do
    if [ -n "$(received_header_named "$dir/uas.msg" "$h")" ]; then
      reasons+=("a $h header reached the UAS")
    fi
  done

  [ -z "$check" ] || "$check" "$dir"

  local timing=""
  if [ "$rtt" = 1 ]; then
    # "date;ms;rtd" lines: every call's time from its INVITE to the 200.
    local times
    times=$(tail -n +2 "$dir"/uac_*_rtt.csv 2>/dev/null | cut -d';' -f2 | sort -n)
    if [ "$(printf '%s\n' "$times" | grep -c .)" -ne "$calls" ]; then
      reasons+=("$(printf '%s\n' "$times" | grep -c .) answer times recorded, $calls expected")
    else
      local p50 max
      p50=$(printf '%s\n' "$times" | awk -v n="$calls" 'NR == int((n + 1) / 2) { printf "%.0f", $1 }')
      max=$(printf '%s\n' "$times" | tail -n 1 | awk '{ printf "%.0f", $1 }')
      timing=" (answered in p50 $p50 ms, max $max ms)"
      [ "$max" -le "$answer_ms" ] || reasons+=("a call was answered after $max ms, over $answer_ms")
    fi
  fi

  if ! tally "$n $name$timing"; then
    [ -s "$dir/diff" ] && sed 's/^/     | /' "$dir/diff" | head -n 40
    for f in uac.err uas.err; do
      [ -s "$dir/$f" ] && { echo "     SIPp ${f%.err} error log:"; sed 's/^/     | /' "$dir/$f" | head -n 40; }
    done
    echo "     kamailio log (last lines):"
    tail -n 15 "$klog" | sed 's/^/     | /'
    echo "     files: $dir"
  fi
}

# config_case NAME start|refuse TEXT MODPARAM_LINES: Kamailio with just our
# module and these modparams either starts (holds its port, forks its
# workers) logging TEXT, or exits at start logging TEXT; each waited for up
# to 20 s, as it happens.
config_case() { # NAME start|refuse TEXT MODPARAMS [MODULES_BEFORE]
  local name=$1 expect=$2 text=$3 params=$4 before=${5:-} n=$((PASSED + FAILED + 1))
  local dir port pid reasons=() attempt
  dir=$WORK/cases/$(printf '%02d' "$n")-config
  mkdir -p "$dir"
  for attempt in 1 2 3; do
    port=$(free_udp_port)
    cat >"$dir/kamailio.cfg" <<EOF
#!KAMAILIO
debug=2
children=1
listen=udp:127.0.0.1:$port
$before
loadmodule "polyai_handoff.so"
$params
request_route { drop; }
EOF
    LD_LIBRARY_PATH="$LIB_DIR" kamailio -f "$dir/kamailio.cfg" -DD -E -L "$BUILD_DIR/modules:$KAMAILIO_MODULES" \
      -Y "$dir" -w "$dir" -m 64 -M 8 >"$dir/kamailio.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    if [ "$expect" = start ]; then
      wait_kamailio "$dir/kamailio.log" "$port" "$pid" || reasons+=("kamailio did not start")
      # Children log after the main process listens (a warm-up, say).
      for _ in $(seq 100); do grep -q "$text" "$dir/kamailio.log" && break; sleep 0.1; done
    else
      for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && reasons+=("kamailio still runs after 20 s")
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # Another process bound the port first: again, on another.
    grep -q "Address already in use" "$dir/kamailio.log" || break
    reasons=()
  done
  grep -q "$text" "$dir/kamailio.log" || reasons+=("no \"$text\" in its log")
  if ! tally "$n $name"; then
    tail -n 15 "$dir/kamailio.log" | sed 's/^/     | /'
  fi
}

# unrouted_uac_scenario cancel|fr_timer EXTRA_HEADER_LINES ANSWER_MS: an
# INVITE that ends without reaching a queue. cancel: 100 ms after the 100,
# a CANCEL; a 487 for the INVITE (ACKed) and a 200 for the CANCEL must
# follow, the 487 within ANSWER_MS. fr_timer: a 408 within ANSWER_MS.
unrouted_uac_scenario() {
  local mode=$1 headers=$2 answer_ms=$3 final=408
  cat <<EOF
<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="polyai-handoff e2e UAC, not routed">
  <send retrans="500">
    <![CDATA[
INVITE sip:handoff@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:handoff@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:agent@[local_ip]:[local_port]>
Max-Forwards: 70
$headers
Content-Length: 0

    ]]>
  </send>
  <recv response="100"/>
EOF
  if [ "$mode" = cancel ]; then
    final=487
    # [last_Via:] is the INVITE's own Via, from the 100: a CANCEL and the
    # ACK of a final non-2xx carry the INVITE's branch.
    cat <<EOF
  <pause milliseconds="100"/>
  <send retrans="500">
    <![CDATA[
CANCEL sip:handoff@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:handoff@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
EOF
  fi
  cat <<EOF
  <recv response="$final" timeout="$answer_ms"/>
  <send>
    <![CDATA[
ACK sip:handoff@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:handoff@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
EOF
  [ "$mode" != cancel ] || echo "  <recv response=\"200\" timeout=\"$answer_ms\"/>"
  echo '</scenario>'
}

count_in() { grep -c -- "$2" "$1"; }
more_in() { [ "$(count_in "$1" "$2")" -gt "$3" ]; }

# unrouted_case NAME KAM cancel|fr_timer SHARED_ID ANSWER_MS: one call that
# the UAC cancels, or that tm's fr_timer ends, while Kamailio KAM looks
# SHARED_ID up asynchronously. Then the lookup's completion must reach the
# async process, which must drop it ("not resumed", logged once the job is
# freed): route[HANDOFF_RESUME] never runs for the call, so no INVITE can
# reach a queue.
unrouted_case() {
  local name=$1 kam=$2 mode=$3 id=$4 answer_ms=$5 n=$((PASSED + FAILED + 1))
  local dir klog=${KAM_LOGS[$2]} dropped resumed reasons=() r final=408 rc
  [ "$mode" != cancel ] || final=487
  dir=$WORK/cases/$(printf '%02d' "$n")-$mode
  mkdir -p "$dir"
  dropped=$(count_in "$klog" "not resumed")
  resumed=$(count_in "$klog" "handoff async .*: resumed:")
  unrouted_uac_scenario "$mode" "X-Shared-Id: $id" "$answer_ms" >"$dir/uac.xml"
  sipp "127.0.0.1:${KAM_PORTS[$kam]}" -sf "$dir/uac.xml" -i 127.0.0.1 -m 1 -timeout 30 -timeout_error \
    -trace_err -error_file "$dir/uac.err" -trace_msg -message_file "$dir/uac.msg" -nostdin >"$dir/uac.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || reasons+=("SIPp UAC exited $rc (no $final within $answer_ms ms?)")
  # The completion arrives by timeout_ms (4 s): wait up to 20 s, while Kamailio runs.
  poll_while_alive "$(scaled 200)" "${KAM_PIDS[$kam]}" more_in "$klog" "not resumed" "$dropped" \
    || reasons+=("no \"not resumed\" line: the completion did not arrive, or Kamailio exited")
  [ "$(count_in "$klog" "not resumed")" = $((dropped + 1)) ] || reasons+=("not exactly one \"not resumed\" line")
  [ "$(count_in "$klog" "handoff async .*: resumed:")" = "$resumed" ] || reasons+=("route[HANDOFF_RESUME] ran")
  if ! tally "$n $name"; then
    [ -s "$dir/uac.err" ] && sed 's/^/     | /' "$dir/uac.err" | head -n 20
    tail -n 15 "$klog" | sed 's/^/     | /'
    echo "     files: $dir"
  fi
}

# The X-PolyAI-* lines the UAS must see for acme-call-123 and acme-call-456,
# each used by two cases below.
ACME_CALL_123=$(cat <<'EOF'
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: 0bba04d7-38b3-4fd3-a1a8-329c34517fc1
X-PolyAI-Shared-Id: acme-call-123
X-PolyAI-Customer-Id: 12345
X-PolyAI-Handoff-Reason: successfully_identified
X-PolyAI-Handoff-To: billing
X-PolyAI-Customer-Tier: gold
X-PolyAI-Customer-Name: Zoë Ångström
X-PolyAI-Customer-Account-Number: 9223372036854775807
X-PolyAI-Customer-Balance: 1234.50
X-PolyAI-Previous-Calls-0: 2026-11-01
X-PolyAI-Previous-Calls-1: 2026-11-15
X-PolyAI-Vip: true
X-PolyAI-Notes:\s
EOF
)
ACME_CALL_456=$(cat <<'EOF'
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: 5f1e7c2a-9d3b-4e8f-a6c1-2b7d9e0f4a13
X-PolyAI-Shared-Id: acme-call-456
X-PolyAI-Customer-Id: 67890
X-PolyAI-Handoff-Reason: agent_requested
X-PolyAI-Handoff-To: sales
X-PolyAI-Language: es-ES
X-PolyAI-Intent-Primary: upgrade
X-PolyAI-Intent-Confidence: 0.93
EOF
)

echo "e2e: kamailio $(dpkg-query -W -f='${Version}' kamailio) on 127.0.0.1:$KAM_PORT, UAS on :$UAS_PORT, sandbox $SANDBOX_URL"

run_case "acme-call-123: identified caller routed to billing" \
  --queue billing --header "X-Shared-Id: acme-call-123" <<<"$ACME_CALL_123"

run_case "acme-call-456: routed to sales, caller's forged X-PolyAI-* removed" \
  --queue sales --header "X-Shared-Id: acme-call-456" \
  --header "X-PolyAI-Customer-Tier: platinum" --header "x-polyai-handoff-status: ok" <<<"$ACME_CALL_456"

run_case "by conversation id (polyai_handoff_lookup_id): routed to support" \
  --queue support --header "X-Conversation-Id: c7a9e2f0-1b3d-4c5e-8f7a-9b0c1d2e3f4a" <<'EOF'
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: c7a9e2f0-1b3d-4c5e-8f7a-9b0c1d2e3f4a
X-PolyAI-Handoff-To: support
X-PolyAI-Queue: tier2
EOF

run_case "unknown id: the negative return sends it to the fallback queue, with not_found" \
  --queue fallback --header "X-Shared-Id: no-such-call" <<'EOF'
X-PolyAI-Handoff-Status: not_found
EOF

run_case "slow API (fault-slow, 5 s): forwarded within 2.5 s to fallback with timeout" \
  --queue fallback --header "X-Shared-Id: fault-slow" --answer-ms 2500 <<'EOF'
X-PolyAI-Handoff-Status: timeout
EOF

run_case "header injection: CR/LF in values become spaces, no extra header; found, so default" \
  --queue default --header "X-Shared-Id: header-injection" --absent X-Evil <<'EOF'
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: inj-1
X-PolyAI-Shared-Id: header-injection
X-PolyAI-Handoff-To: billing  X-Evil: 1
X-PolyAI-Nul: a b
X-PolyAI-Ctrl: bell\s
X-PolyAI-Key-With-Spaces-And-Colons: v
EOF

run_case "no id header: to the fallback queue with invalid_argument" \
  --queue fallback <<'EOF'
X-PolyAI-Handoff-Status: invalid_argument
EOF

run_case "200 calls at 100/s over 4 workers, each checked" \
  --queue billing --header "X-Shared-Id: acme-call-123" --calls 200 --rate 100 <<<"$ACME_CALL_123"

# --check for the KEMI Kamailio started without ASYNC: its lookups blocked.
check_kemi_sync() {
  grep -q ": sync: " "$klog" || reasons+=("no \"sync\" lookup in the KEMI Kamailio's log")
  ! grep -q ": resumed: " "$klog" || reasons+=("the KEMI Kamailio without ASYNC resumed a lookup")
}

run_case "KEMI (KSR.polyai_handoff.lookup): acme-call-456 routed to sales" \
  --kemi --check check_kemi_sync --queue sales --header "X-Shared-Id: acme-call-456" <<<"$ACME_CALL_456"

run_case "KEMI (KSR.polyai_handoff.lookup_id): unknown conversation id to fallback" \
  --kemi --check check_kemi_sync --queue fallback --header "X-Conversation-Id: no-such-conversation" <<'EOF'
X-PolyAI-Handoff-Status: not_found
EOF

run_case "found without handoff_to (empty-data): the positive return, default queue" \
  --queue default --header "X-Shared-Id: empty-data" <<'EOF'
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: e-1
X-PolyAI-Shared-Id: empty-data
EOF

run_case "unicode-call: UTF-8 values, escapes and emoji arrive as the agent wrote them" \
  --queue default --header "X-Shared-Id: unicode-call" <<'EOF'
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: u-1
X-PolyAI-Shared-Id: unicode-call
X-PolyAI-Greeting: こんにちは
X-PolyAI-Emoji: 📞✅
X-PolyAI-Rtl: مرحبا
X-PolyAI-Escaped: tab quote"backslash\
EOF

run_case "number-edge: numbers exactly as the JSON wrote them" \
  --queue default --header "X-Shared-Id: number-edge" <<'EOF'
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: n-1
X-PolyAI-Shared-Id: number-edge
X-PolyAI-Big: 123456789012345678901234567890
X-PolyAI-Max-Int: 9223372036854775807
X-PolyAI-Min-Int: -9223372036854775808
X-PolyAI-Tiny: 1e-400
X-PolyAI-Huge: 1e400
X-PolyAI-Neg-Zero: -0.0
X-PolyAI-Exact: 1.10
X-PolyAI-Exp: 6.02E23
EOF

run_case "deep: nesting past max_depth is left out, the call goes on" \
  --queue default --header "X-Shared-Id: deep" <<'EOF'
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: d-1
X-PolyAI-Shared-Id: deep
EOF

run_case "an id with a space, + and / and a non-ASCII letter: percent-encoded, found" \
  --queue billing --header "X-Shared-Id: pbx 42+7/α" <<'EOF'
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: p-1
X-PolyAI-Shared-Id: pbx 42+7/α
X-PolyAI-Handoff-To: billing
X-PolyAI-Trunk: pbx-east
EOF

# These two run in this order: the first (timeout) opens the breaker the second expects open.
run_case "API silent: the first lookup waits out timeout_ms, then fallback with timeout" \
  --silent --queue fallback --header "X-Shared-Id: acme-call-123" --answer-ms 5000 <<'EOF'
X-PolyAI-Handoff-Status: timeout
EOF

run_case "API silent, breaker open: 5 calls forwarded within 1 s (not the 3 s timeout_ms) with unavailable" \
  --silent --queue fallback --header "X-Shared-Id: acme-call-123" --calls 5 --rate 10 --answer-ms 1000 <<'EOF'
X-PolyAI-Handoff-Status: unavailable
EOF

config_case "modparams as strings, integers and \"set\": Kamailio starts" start "libpolyai_handoff" \
"modparam(\"polyai_handoff\", \"base_url\", \"$SANDBOX_URL\")
modparam(\"polyai_handoff\", \"account_id\", \"acme\")
modparam(\"polyai_handoff\", \"project_id\", \"PROJECT-support\")
modparam(\"polyai_handoff\", \"set\", \"api_key = sandbox-key\")
modparam(\"polyai_handoff\", \"timeout_ms\", 1500)
modparam(\"polyai_handoff\", \"breaker_failures\", \"3\")
modparam(\"polyai_handoff\", \"max_connections\", 64)
modparam(\"polyai_handoff\", \"set\", \"rename.queue = X-Queue\")"

config_case "egress modparams (proxy, interface, ip_version, resolve): Kamailio starts" start "libpolyai_handoff" \
"modparam(\"polyai_handoff\", \"config_file\", \"$WORK/polyai-handoff.conf\")
modparam(\"polyai_handoff\", \"proxy\", \"none\")
modparam(\"polyai_handoff\", \"interface\", \"127.0.0.1\")
modparam(\"polyai_handoff\", \"ip_version\", 4)
modparam(\"polyai_handoff\", \"resolve\", \"api.example.invalid:443:127.0.0.1\")"

config_case "an invalid ip_version stops Kamailio at start, naming the key" refuse "modparam ip_version" \
"modparam(\"polyai_handoff\", \"config_file\", \"$WORK/polyai-handoff.conf\")
modparam(\"polyai_handoff\", \"ip_version\", 5)"

config_case "warm 1: the SIP worker makes its connection in child_init" start "warm-up: 1 of 1 connections" \
"modparam(\"polyai_handoff\", \"config_file\", \"$WORK/polyai-handoff.conf\")
modparam(\"polyai_handoff\", \"log_level\", 2)
modparam(\"polyai_handoff\", \"warm\", 1)"

config_case "warm 1: the async process warms its connections once its queue exists (the I/O thread's too)" start \
  "warm-up: 2 of 2 connections" \
"modparam(\"polyai_handoff\", \"config_file\", \"$WORK/polyai-handoff.conf\")
modparam(\"polyai_handoff\", \"log_level\", 2)
modparam(\"polyai_handoff\", \"async_workers\", 1)
modparam(\"polyai_handoff\", \"warm\", 1)" 'loadmodule "tm.so"'

config_case "an invalid value stops Kamailio at start, naming the key" refuse "modparam timeout_ms" \
"modparam(\"polyai_handoff\", \"config_file\", \"$WORK/polyai-handoff.conf\")
modparam(\"polyai_handoff\", \"timeout_ms\", 0)"

config_case "a missing project_id stops Kamailio at start" refuse "project_id" \
"modparam(\"polyai_handoff\", \"base_url\", \"$SANDBOX_URL\")
modparam(\"polyai_handoff\", \"account_id\", \"acme\")
modparam(\"polyai_handoff\", \"api_key\", \"sandbox-key\")"

config_case "async_max_pending 0 stops Kamailio at start" refuse "async_max_pending must be at least 1" \
"modparam(\"polyai_handoff\", \"config_file\", \"$WORK/polyai-handoff.conf\")
modparam(\"polyai_handoff\", \"async_max_pending\", 0)"

config_case "polyai_handoff_lookup_async with async_workers 0 stops Kamailio at start" refuse \
  "asynchronous lookups need the tm module and async_workers" \
"loadmodule \"tm.so\"
modparam(\"polyai_handoff\", \"config_file\", \"$WORK/polyai-handoff.conf\")
modparam(\"polyai_handoff\", \"async_workers\", 0)
route[LOOKUP] { polyai_handoff_lookup_async(\"acme-call-123\", \"LOOKUP\"); }"

# ------------------------------------------------ DNI reservations
# kamailio.cfg and kemi/ with POLYAI_CARRIER: an INVITE to any user but
# "handoff" is a new call from the carrier, which gets a DNI reserved (the
# sandbox's pool) and goes to sip:<dni>@POLYAI_CARRIER, the UAS on
# CARRIER_PORT; or, with no number, to the fallback queue with
# X-PolyAI-Reservation-Status.

DNI_CALLED=+442079460123
DNI_RE='[+]?[0-9]{1,32}'
ALICE='"Alice Smith" <sip:+441632960001@[local_ip]:[local_port]>'
ALICE_ATTRIBUTES='{"caller": "+441632960001", "caller_name": "Alice Smith", "called": "+442079460123",
  "customer": {"language": "en-GB"}}'

dni_reservations() { curl -s --max-time 5 "$SANDBOX_URL/_sandbox/dni-reservations"; }
dni_requests() { dni_reservations | jq -r .requests; }

# expect_dni POSTS [SHARED_ID [ATTRIBUTES_JSON]] before a case: the
# reservation requests its calls must add to the sandbox's count (- for
# none to check: the silent API is not the sandbox), the Call-ID of its call
# and the attributes (without shared_id) the sandbox must have received.
expect_dni() {
  DNI_POSTS=$1 DNI_SHARED_ID=${2:-} DNI_ATTRIBUTES=${3:-}
  DNI_BEFORE=$(dni_requests)
}

# The calls asked the API exactly DNI_POSTS times: once each, never again.
check_dni_posts() {
  local now
  [ "$DNI_POSTS" != - ] || return 0
  now=$(dni_requests)
  [ "$now" = $((DNI_BEFORE + DNI_POSTS)) ] ||
    reasons+=("the sandbox got $((now - DNI_BEFORE)) reservation requests, $DNI_POSTS expected")
}

received_ruri_users() {
  awk '/message received/ { r = 1; next } /message sent/ { r = 0; next }
    r && /^INVITE / { u = $2; sub(/^sip:/, "", u); sub(/@.*/, "", u); print u }' "$1"
}

# --check after a call that reached PolyAI: the number it was called on is
# the one the sandbox reserved for its Call-ID, which received exactly the
# attributes expected (and shared_id, the Call-ID). Then PolyAI's agent
# answers on that number (POST /_sandbox/call), which makes the shared id
# resolvable: CONVERSATION_ID is the handoff state's id.
check_reserved() {
  local dir=$1 dni mine want called
  check_dni_posts
  CONVERSATION_ID=""
  dni=$(received_ruri_users "$dir/uas.msg" | head -n 1)
  dni_reservations >"$dir/reservations.json"
  mine=$(jq -c --arg id "$DNI_SHARED_ID" '[.reservations[] | select(.shared_id == $id)]' "$dir/reservations.json")
  if [ "$(jq length <<<"$mine")" != 1 ]; then
    reasons+=("the sandbox holds $(jq length <<<"$mine") reservations for [$DNI_SHARED_ID], 1 expected")
    return
  fi
  [ "$(jq -r '.[0].dni' <<<"$mine")" = "$dni" ] ||
    reasons+=("PolyAI was called on [$dni], the sandbox reserved $(jq -r '.[0].dni' <<<"$mine")")
  want=$(jq -c --arg id "$DNI_SHARED_ID" '. + {shared_id: $id}' <<<"$DNI_ATTRIBUTES")
  jq -e --argjson want "$want" '.[0].attributes == $want' <<<"$mine" >/dev/null ||
    reasons+=("the sandbox received the attributes $(jq -c '.[0].attributes' <<<"$mine"), expected $want")
  called=$(curl -s --max-time 5 -X POST "$SANDBOX_URL/_sandbox/call?dni=${dni/+/%2B}")
  CONVERSATION_ID=$(jq -r '.id // empty' <<<"$called" 2>/dev/null)
  [ -n "$CONVERSATION_ID" ] && [ "$(jq -r .shared_id <<<"$called")" = "$DNI_SHARED_ID" ] ||
    reasons+=("the agent called on [$dni] answered $called")
}

# --check after calls sent to the fallback queue: Kamailio logged each one's
# Call-ID (DNI_IDS) as sent to sip:fallback@, and the sandbox holds no
# reservation for any of them.
check_fallback() {
  local id
  check_dni_posts
  for id in "${DNI_IDS[@]}"; do
    grep -F "reserve $id: " "$klog" | grep -q -- "-> sip:fallback@" ||
      reasons+=("no \"reserve $id: ... -> sip:fallback@\" line in Kamailio's log")
    [ "$DNI_POSTS" = - ] || [ "$(dni_reservations | jq --arg id "$id" '[.reservations[] | select(.shared_id == $id)] | length')" = 0 ] ||
      reasons+=("the sandbox holds a reservation for [$id]")
  done
}

handed_back_lines() { # SHARED_ID: the X-PolyAI-* lines of a call the agent handed back
  cat <<EOF
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: $CONVERSATION_ID
X-PolyAI-Shared-Id: $1
X-PolyAI-Caller: +441632960001
X-PolyAI-Caller-Name: Alice Smith
X-PolyAI-Called: +442079460123
X-PolyAI-Customer-Language: en-GB
X-PolyAI-Handoff-Reason: successfully_identified
X-PolyAI-Handoff-To: billing
EOF
}

expect_dni 1 dni-flow-1@e2e.example "$ALICE_ATTRIBUTES"
run_case "DNI flow 1/2: a new call reserves a DNI (shared_id its Call-ID, the caller's number and name as attributes) and reaches PolyAI on sip:<dni>@, the caller's X-PolyAI-* headers removed" \
  --to "$DNI_CALLED" --from "$ALICE" --call-id dni-flow-1@e2e.example --carrier --queue-re "$DNI_RE" \
  --header "X-PolyAI-Handoff-To: billing" --header "X-PolyAI-Reservation-Status: ok" --check check_reserved </dev/null

run_case "DNI flow 2/2: handed back with X-Shared-Id: its Call-ID, looked up (the attributes and what the agent added), routed to billing by handoff_to" \
  --queue billing --header "X-Shared-Id: dni-flow-1@e2e.example" < <(handed_back_lines dni-flow-1@e2e.example)

expect_dni 1 dni-flow-kemi@e2e.example "$ALICE_ATTRIBUTES"
run_case "KEMI DNI flow 1/2 (KSR.polyai_handoff.reserve_dni): reserved, to PolyAI on sip:<dni>@" \
  --kemi --to "$DNI_CALLED" --from "$ALICE" --call-id dni-flow-kemi@e2e.example --carrier --queue-re "$DNI_RE" \
  --header "X-PolyAI-Handoff-Status: ok" --check check_reserved </dev/null

run_case "KEMI DNI flow 2/2: handed back, looked up, routed to billing" \
  --kemi --queue billing --header "X-Shared-Id: dni-flow-kemi@e2e.example" < <(handed_back_lines dni-flow-kemi@e2e.example)

expect_dni 1 dni-template@e2e.example \
  '{"caller": "+441632960001", "empty": "", "eq": "a=b", "padded": "  Al  ", "cseq": "1", "absent": "",
    "mixed": "<+441632960001> to +442079460123", "nested": {"a": {"b": "x"}}}'
run_case "DNI attributes template: blanks around the written text trimmed (not inside a variable's value), empty pairs skipped, an integer, \$null as \"\"" \
  --kam dni-template --to "$DNI_CALLED" --from '"  Al  " <sip:+441632960001@[local_ip]:[local_port]>' \
  --call-id dni-template@e2e.example --carrier --queue-re "$DNI_RE" --check check_reserved </dev/null

# A From user holding "}", "{", "," and ";x=1;shared_id=evil" (Kamailio
# refuses a '"' in a URI: 500 before any script), a display name holding
# '"', "}" and a JSON member: each arrives as one plain string value.
EVE_USER='+1},{;x=1;shared_id=evil'
EVE_NAME='Eve\"}, \"shared_id\": \"x'
expect_dni 1 dni-injection@e2e.example \
  "$(jq -n --arg u "$EVE_USER" --arg n "$EVE_NAME" --arg c "$DNI_CALLED" \
    '{caller: $u, caller_name: $n, called: $c, customer: {language: "en-GB"}}')"
run_case "DNI injection through \$fU and the display name: the sandbox gets each as one JSON string, no key added, shared_id the Call-ID" \
  --to "$DNI_CALLED" --from "\"$EVE_NAME\" <sip:$EVE_USER@[local_ip]:[local_port]>" \
  --call-id dni-injection@e2e.example --carrier --queue-re "$DNI_RE" --check check_reserved </dev/null

# The sandbox's dni-hostile-* faults, by shared_id (NAME~ANYTHING is NAME).
DNI_IDS=(dni-hostile-uri~e2e)
expect_dni 1
run_case "DNI hostile (the API answers {\"dni\":\"123@evil.example\"}): protocol, to the fallback queue, never to that URI, the caller's status header removed" \
  --to "$DNI_CALLED" --from "$ALICE" --call-id "${DNI_IDS[0]}" \
  --queue fallback --header "X-PolyAI-Reservation-Status: ok" --check check_fallback <<'EOF'
X-PolyAI-Reservation-Status: protocol
EOF

DNI_IDS=(dni-hostile-params~e2e)
expect_dni 1
run_case "DNI hostile (the API answers {\"dni\":\"+1;transport=tcp\"}): protocol, to the fallback queue" \
  --to "$DNI_CALLED" --from "$ALICE" --call-id "${DNI_IDS[0]}" --queue fallback --check check_fallback <<'EOF'
X-PolyAI-Reservation-Status: protocol
EOF

# Every number of the pool reserved (curl, until the 409); then a call.
drain_dni_pool() {
  local i code=""
  curl -s --max-time 5 -X DELETE "$SANDBOX_URL/_sandbox/dni-reservations" >/dev/null
  for i in $(seq 1000); do
    code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST -H 'x-api-key: sandbox-key' \
      -d "{\"attributes\": {\"shared_id\": \"drain-$i\"}}" "$SANDBOX_URL/v1/conversations/dni-reservation")
    [ "$code" = 200 ] || break
  done
  [ "$code" = 409 ] || log "draining the DNI pool: HTTP $code after $i reservations"
}
drain_dni_pool
DNI_IDS=(dni-exhausted@e2e.example)
expect_dni 1
run_case "DNI pool exhausted (409): protocol, to the fallback queue" \
  --to "$DNI_CALLED" --from "$ALICE" --call-id dni-exhausted@e2e.example \
  --queue fallback --check check_fallback <<'EOF'
X-PolyAI-Reservation-Status: protocol
EOF
curl -s --max-time 5 -X DELETE "$SANDBOX_URL/_sandbox/dni-reservations" >/dev/null

# These two run in this order: the first (timeout) opens the breaker the second expects open.
DNI_IDS=(dni-silent-1@e2e.example)
expect_dni -
run_case "DNI API silent (reservations-only client): the reservation waits out timeout_ms (3000 ms), the call reaches fallback with timeout within $(scaled 5000) ms" \
  --kam dni-silent --to "$DNI_CALLED" --from "$ALICE" --call-id dni-silent-1@e2e.example \
  --queue fallback --answer-ms "$(scaled 5000)" --rtt --check check_fallback <<'EOF'
X-PolyAI-Reservation-Status: timeout
EOF

DNI_IDS=(dni-silent-b{1..5}@e2e.example)
expect_dni -
# Not scaled: the bound must stay apart from timeout_ms (3 s), which is not.
run_case "DNI API silent, breaker open: 5 calls reach fallback with unavailable, each within 1000 ms" \
  --kam dni-silent --to "$DNI_CALLED" --from "$ALICE" --call-id "dni-silent-b%u@e2e.example" --calls 5 \
  --queue fallback --answer-ms 1000 --rtt --check check_fallback <<'EOF'
X-PolyAI-Reservation-Status: unavailable
EOF

config_case "reservations only (dni_api_key, no account or project) with polyai_handoff_reserve_dni: Kamailio starts" \
  start "libpolyai_handoff" \
"loadmodule \"pv.so\"
modparam(\"polyai_handoff\", \"base_url\", \"$SANDBOX_URL\")
modparam(\"polyai_handoff\", \"dni_api_key\", \"sandbox-key\")
modparam(\"polyai_handoff\", \"dni_api_key_file\", \"$WORK/api-key\")
route[R] { polyai_handoff_reserve_dni(\"\$ci\", \"caller=\$fU; customer.tier = gold;\"); }"

config_case "an attributes pair without '=' stops Kamailio at start" refuse "\\[lang\\] has no '='" \
"loadmodule \"pv.so\"
modparam(\"polyai_handoff\", \"config_file\", \"$WORK/polyai-handoff.conf\")
route[R] { polyai_handoff_reserve_dni(\"\$ci\", \"caller=\$fU;lang\"); }"

config_case "a variable in an attribute key stops Kamailio at start" refuse "a key cannot hold a variable" \
"loadmodule \"pv.so\"
modparam(\"polyai_handoff\", \"config_file\", \"$WORK/polyai-handoff.conf\")
route[R] { polyai_handoff_reserve_dni(\"\$ci\", \"\$fU=1\"); }"

# ------------------------------------------------ asynchronous lookups
# Each Kamailio below has one SIP worker.

run_case "async: acme-call-123 resumed in route[HANDOFF_RESUME], routed to billing, forged headers removed" \
  --kam async --queue billing --header "X-Shared-Id: acme-call-123" \
  --header "X-PolyAI-Customer-Tier: platinum" --header "x-polyai-handoff-status: ok" <<<"$ACME_CALL_123"

run_case "async by conversation id (polyai_handoff_lookup_id_async): routed to support" \
  --kam async --queue support --header "X-Conversation-Id: c7a9e2f0-1b3d-4c5e-8f7a-9b0c1d2e3f4a" <<'EOF'
X-PolyAI-Handoff-Status: ok
X-PolyAI-Conversation-Id: c7a9e2f0-1b3d-4c5e-8f7a-9b0c1d2e3f4a
X-PolyAI-Handoff-To: support
X-PolyAI-Queue: tier2
EOF

run_case "async: unknown id resumed with not_found, to the fallback queue" \
  --kam async --queue fallback --header "X-Shared-Id: no-such-call" <<'EOF'
X-PolyAI-Handoff-Status: not_found
EOF

run_case "async: no id, resumed with invalid_argument, to the fallback queue" \
  --kam async --queue fallback <<'EOF'
X-PolyAI-Handoff-Status: invalid_argument
EOF

run_case "async, API silent (fault-slow, timeout_ms 1 s): 10 calls at once, each to fallback with timeout within $(scaled 2500) ms" \
  --kam async --queue fallback --header "X-Shared-Id: fault-slow" --calls 10 --rate 100 \
  --answer-ms "$(scaled 2500)" --rtt <<'EOF'
X-PolyAI-Handoff-Status: timeout
EOF

slow_expected() {
  local i q
  for ((i = 1; i <= SLOW_CALLS; i++)); do
    q=$(slow_queue "$i")
    printf '== %s 1\nX-PolyAI-Handoff-Status: ok\nX-PolyAI-Conversation-Id: slow-conv-%03d\n' "$q" "$i"
    printf 'X-PolyAI-Shared-Id: slow-%03d\nX-PolyAI-Handoff-To: %s\nX-PolyAI-Caller: %d\n' "$i" "$q" "$i"
  done
}
# Blocking, one worker would take SLOW_CALLS x 500 ms (100 s).
run_case "async, API slow (every answer 500 ms late): $SLOW_CALLS calls at 400/s with distinct ids, each answered within $(scaled 1500) ms" \
  --kam slow --inf "$WORK/slow/ids.csv" --header "X-Shared-Id: [field0]" --calls "$SLOW_CALLS" --rate 400 \
  --answer-ms "$(scaled 1500)" --rtt < <(slow_expected)

# fault-slow holds each lookup for timeout_ms (3 s); the 10 calls arrive
# within 100 ms, so exactly 5 wait and 5 are routed at once.
run_case "async_max_pending 5 over 2 async processes: of 10 calls at once, 5 fail fast (-11, unavailable), 5 wait and time out; all to fallback" \
  --kam pending --header "X-Shared-Id: fault-slow" --calls 10 --rate 100 --answer-ms "$(scaled 6000)" <<'EOF'
== fallback 5
X-PolyAI-Handoff-Status: unavailable
== fallback 5
X-PolyAI-Handoff-Status: timeout
EOF

run_case "async_max_pending: once they completed, a call is looked up again (routed to billing)" \
  --kam pending --queue billing --header "X-Shared-Id: acme-call-123" <<<"$ACME_CALL_123"

unrouted_case "async, CANCEL during the lookup: 487, the completion is dropped, nothing resumed" \
  timers cancel fault-slow "$(scaled 2000)"

run_case "after the CANCEL: its slot is free again (async_max_pending 1), acme-call-123 routed to billing" \
  --kam timers --queue billing --header "X-Shared-Id: acme-call-123" <<<"$ACME_CALL_123"

unrouted_case "async, tm's fr_timer (2 s) fires during the lookup (4 s): 408, the completion is dropped, nothing resumed" \
  timers fr_timer fault-slow "$(scaled 3500)"

run_case "after fr_timer: acme-call-456 routed to sales" \
  --kam timers --queue sales --header "X-Shared-Id: acme-call-456" <<<"$ACME_CALL_456"

run_case "KEMI async (KSR.polyai_handoff.lookup_async): acme-call-456 resumed in ksr_handoff_resume, routed to sales" \
  --kam kemi-async --queue sales --header "X-Shared-Id: acme-call-456" <<<"$ACME_CALL_456"

run_case "KEMI async (KSR.polyai_handoff.lookup_id_async): unknown conversation id to fallback" \
  --kam kemi-async --queue fallback --header "X-Conversation-Id: no-such-conversation" <<'EOF'
X-PolyAI-Handoff-Status: not_found
EOF

# RPC: polyai_handoff.stats, .reload, .breaker and stats.get_statistics.
. "$HERE/e2e_rpc.sh"

for kam in "${!KAM_PIDS[@]}"; do
  if ! kill -0 "${KAM_PIDS[$kam]}" 2>/dev/null; then
    echo "FAIL kamailio exited during the run (${KAM_LOGS[$kam]})"
    tail -n 30 "${KAM_LOGS[$kam]}"
    FAILED=$((FAILED + 1))
  fi
done

echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

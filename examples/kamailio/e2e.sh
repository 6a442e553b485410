#!/usr/bin/env bash
# End-to-end test: SIPp (UAC) -> Kamailio with polyai_handoff -> SIPp (UAS).
# The UAC sends INVITEs carrying X-Shared-Id; Kamailio (kamailio.cfg, the
# README's example) looks each one up in the sandbox and forwards it to the
# UAS, whose scenario checks every X-PolyAI-* header with a regular
# expression; then the exact list of X-PolyAI-* lines the UAS received is
# compared with the expected one.
#
# Env: LIB_DIR INCLUDE_DIR SANDBOX FIXTURES (see common.sh).
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
# The same routing as a KEMI script (app_jsdt), for KSR.polyai_handoff.*.
mkdir -p "$WORK/kemi"
start_kamailio "$WORK/kemi/kamailio.log" KEMI_PORT "$HERE/kemi/kamailio-kemi.cfg" \
  -A "QUEUE_HOST=\"127.0.0.1:$UAS_PORT\"" -A "POLYAI_CONFIG=\"$WORK/polyai-handoff.conf\"" \
  -A "KEMI_SCRIPT=\"$HERE/kemi/handoff.js\"" -A WORKERS=2
KEMI_PID=$KAMAILIO_PID
start_kamailio "$WORK/kamailio.log" KAM_PORT "$HERE/kamailio.cfg" \
  -A "QUEUE_HOST=\"127.0.0.1:$UAS_PORT\"" -A "POLYAI_CONFIG=\"$WORK/polyai-handoff.conf\"" -A WORKERS=4
MAIN_PID=$KAMAILIO_PID
# An API that accepts and never answers, one worker, a breaker that opens
# after one failure and stays open: the first call waits out timeout_ms, the
# next ones fail fast.
mkdir -p "$WORK/silent"
write_polyai_conf "$WORK/polyai-silent.conf" "$BLACKHOLE_URL" "$WORK/api-key" \
  "timeout_ms = 500" "breaker_failures = 1" "breaker_cooldown_ms = 600000"
start_kamailio "$WORK/silent/kamailio.log" SILENT_PORT "$HERE/kamailio.cfg" \
  -A "QUEUE_HOST=\"127.0.0.1:$UAS_PORT\"" -A "POLYAI_CONFIG=\"$WORK/polyai-silent.conf\"" -A WORKERS=1
SILENT_PID=$KAMAILIO_PID

# ERE-escapes a literal, then XML-escapes it for an attribute. SIPp reads
# backslash escapes in attributes itself, so a literal backslash cannot be
# written in a regexp: it becomes "." (any character), and the exact header
# lines are still compared byte for byte after the call.
regex_literal() {
  # ("[." would open a collating element, so "." is not first.)
  printf '%s' "$1" | tr '\\' '\001' | sed -e 's#[][*^$+?(){}|/.]#\\&#g' -e 's/\x01/./g' \
    -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'
}

# uas_scenario QUEUE EXPECTED_FILE ABSENT_HEADERS...
uas_scenario() {
  local queue=$1 expected=$2 line name value vars="ruri" i=0
  shift 2
  echo '<?xml version="1.0" encoding="UTF-8" ?>'
  echo '<scenario name="polyai-handoff e2e UAS">'
  echo '  <recv request="INVITE">'
  echo '    <action>'
  echo "      <ereg regexp=\"^INVITE sip:$(regex_literal "$queue")@\" search_in=\"msg\" check_it=\"true\" assign_to=\"ruri\"/>"
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
Contact: <sip:$queue@[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
  <Reference variables="$vars"/>
</scenario>
EOF
}

# uac_scenario ANSWER_MS EXTRA_HEADER_LINES
uac_scenario() {
  cat <<EOF
<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="polyai-handoff e2e UAC">
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
From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:handoff@[remote_ip]:[remote_port]>[peer_tag_param]
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

received_header_named() { # trace name
  awk -v n="$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" '
    /message received/ { recv = 1; next } /message sent/ { recv = 0; next }
    recv { h = tolower($0); if (index(h, n ":") == 1) print }' "$1"
}

# run_case NAME --queue Q [--header "Name: value"]... [--absent Name]...
#          [--calls N --rate R] [--answer-ms MS] [--kemi | --silent]  < expected X-PolyAI-* lines
# --kemi: the KEMI Kamailio; --silent: the one whose API never answers.
# In the expected lines a final \s stands for a trailing space (editors
# strip real ones).
run_case() {
  local name=$1 queue="" headers="" absent=() calls=1 rate=10 answer_ms=3000
  local target=$KAM_PORT klog=$WORK/kamailio.log
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --queue) queue=$2 ;;
      --header) headers="$headers${headers:+$'\n'}$2" ;;
      --absent) absent+=("$2") ;;
      --calls) calls=$2 ;;
      --rate) rate=$2 ;;
      --answer-ms) answer_ms=$2 ;;
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
  uas_scenario "$queue" "$dir/expected" "${absent[@]}" >"$dir/uas.xml"
  uac_scenario "$answer_ms" "$headers" >"$dir/uac.xml"

  local reasons=()
  sipp -sf "$dir/uas.xml" -i 127.0.0.1 -p "$UAS_PORT" -m "$calls" -timeout 30 -timeout_error \
    -trace_msg -message_file "$dir/uas.msg" -trace_err -error_file "$dir/uas.err" \
    -nostdin >"$dir/uas.out" 2>&1 &
  local uas_pid=$!
  STARTED_PIDS+=("$uas_pid")
  wait_udp_port "$UAS_PORT" "$uas_pid" || reasons+=("the UAS did not start")

  sipp "127.0.0.1:$target" -sf "$dir/uac.xml" -i 127.0.0.1 -m "$calls" -r "$rate" -l 1000 \
    -timeout 30 -timeout_error -trace_err -error_file "$dir/uac.err" -nostdin >"$dir/uac.out" 2>&1
  local uac_rc=$?
  wait "$uas_pid"
  local uas_rc=$?
  [ "$uac_rc" = 0 ] || reasons+=("SIPp UAC exited $uac_rc")
  [ "$uas_rc" = 0 ] || reasons+=("SIPp UAS exited $uas_rc (a header check failed or a call was missing)")

  # Every INVITE received carries exactly the expected X-PolyAI-* lines:
  # "received" holds the blocks separated by "--" (not led by one).
  received_polyai_headers "$dir/uas.msg" >"$dir/received-blocks" 2>/dev/null
  local invites
  invites=$(grep -c '^--$' "$dir/received-blocks")
  tail -n +2 "$dir/received-blocks" >"$dir/received"
  { for ((i = 0; i < invites; i++)); do
      [ "$i" = 0 ] || echo "--"
      cat "$dir/expected"
    done; } >"$dir/expected-all"
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

  if [ ${#reasons[@]} -eq 0 ]; then
    PASSED=$((PASSED + 1))
    echo "ok   $n $name"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL $n $name"
    for h in "${reasons[@]}"; do echo "     - $h"; done
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
config_case() {
  local name=$1 expect=$2 text=$3 params=$4 n=$((PASSED + FAILED + 1))
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
  if [ ${#reasons[@]} -eq 0 ]; then
    PASSED=$((PASSED + 1))
    echo "ok   $n $name"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL $n $name"
    for r in "${reasons[@]}"; do echo "     - $r"; done
    tail -n 15 "$dir/kamailio.log" | sed 's/^/     | /'
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

run_case "KEMI (KSR.polyai_handoff.lookup): acme-call-456 routed to sales" \
  --kemi --queue sales --header "X-Shared-Id: acme-call-456" <<<"$ACME_CALL_456"

run_case "KEMI (KSR.polyai_handoff.lookup_id): unknown conversation id to fallback" \
  --kemi --queue fallback --header "X-Conversation-Id: no-such-conversation" <<'EOF'
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
  --silent --queue fallback --header "X-Shared-Id: acme-call-123" --answer-ms 1500 <<'EOF'
X-PolyAI-Handoff-Status: timeout
EOF

run_case "API silent, breaker open: 5 calls forwarded within 200 ms with unavailable" \
  --silent --queue fallback --header "X-Shared-Id: acme-call-123" --calls 5 --rate 10 --answer-ms 200 <<'EOF'
X-PolyAI-Handoff-Status: unavailable
EOF

config_case "modparams as strings, integers and \"set\": Kamailio starts" start "libpolyai_handoff" \
"modparam(\"polyai_handoff\", \"base_url\", \"$SANDBOX_URL\")
modparam(\"polyai_handoff\", \"account_id\", \"acme\")
modparam(\"polyai_handoff\", \"project_id\", \"PROJECT-support\")
modparam(\"polyai_handoff\", \"set\", \"api_key = sandbox-key\")
modparam(\"polyai_handoff\", \"timeout_ms\", 1500)
modparam(\"polyai_handoff\", \"breaker_failures\", \"3\")
modparam(\"polyai_handoff\", \"set\", \"rename.queue = X-Queue\")"

config_case "an invalid value stops Kamailio at start, naming the key" refuse "modparam timeout_ms" \
"modparam(\"polyai_handoff\", \"config_file\", \"$WORK/polyai-handoff.conf\")
modparam(\"polyai_handoff\", \"timeout_ms\", 0)"

config_case "a missing project_id stops Kamailio at start" refuse "project_id" \
"modparam(\"polyai_handoff\", \"base_url\", \"$SANDBOX_URL\")
modparam(\"polyai_handoff\", \"account_id\", \"acme\")
modparam(\"polyai_handoff\", \"api_key\", \"sandbox-key\")"

for pid_log in "$MAIN_PID:$WORK/kamailio.log" "$KEMI_PID:$WORK/kemi/kamailio.log" "$SILENT_PID:$WORK/silent/kamailio.log"; do
  if ! kill -0 "${pid_log%%:*}" 2>/dev/null; then
    echo "FAIL kamailio exited during the run (${pid_log#*:})"
    tail -n 30 "${pid_log#*:}"
    FAILED=$((FAILED + 1))
  fi
done

echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

#!/usr/bin/env bash
# dni.sh -- the sandbox's DNI reservation endpoint, its agent mode and its
# inspection endpoints, with curl against real sandboxes on free ports: one
# with the bundled fixtures, one with a small pool, a short expiry and the
# agent calling by itself (written here). Also the fixtures' validation.
#
# Environment:
#   SANDBOX   the polyai-handoff-sandbox executable (default build/bin/polyai-handoff-sandbox)
#   FIXTURES  the bundled fixtures (default Sources/Sandbox/fixtures.json)
#
# Prints each failed check, then "sandbox-dni: N passed, M failed"; exits 1 if any failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SANDBOX=${SANDBOX:-$root/build/bin/polyai-handoff-sandbox}
FIXTURES=${FIXTURES:-$root/Sources/Sandbox/fixtures.json}
[ -x "$SANDBOX" ] || { echo "dni.sh: set SANDBOX to the polyai-handoff-sandbox executable" >&2; exit 2; }
command -v curl >/dev/null || { echo "dni.sh: needs curl" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sandbox-dni.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
# same NAME EXPECTED ACTUAL
same() { if [ "$2" = "$3" ]; then ok; else bad "$1: expected [$2], got [${3:0:300}]"; fi; }
# has NAME NEEDLE HAYSTACK
has() { case "$3" in *"$2"*) ok ;; *) bad "$1: [${3:0:300}] lacks [$2]" ;; esac; }
lacks() { case "$3" in *"$2"*) bad "$1: [${3:0:300}] has [$2]" ;; *) ok ;; esac; }

# start NAME FIXTURES: a sandbox on a free port; sets url_NAME.
start() {
  "$SANDBOX" --fixtures "$2" --port 0 --port-file "$work/$1.port" >"$work/$1.log" 2>&1 &
  pids+=($!)
  local pid=$! i
  for i in $(seq 1 300); do
    [ -s "$work/$1.port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/$1.log" >&2; echo "dni.sh: sandbox $1 exited" >&2; exit 1; }
    sleep 0.1
  done
  [ -s "$work/$1.port" ] || { echo "dni.sh: sandbox $1 did not start" >&2; exit 1; }
  printf -v "url_$1" 'http://127.0.0.1:%s' "$(cat "$work/$1.port")"
}

# call METHOD URL [CURL ARGS...]: sets code (000 when curl failed), body,
# rc (curl's exit status) and headers.
call() {
  local method=$1 url=$2
  shift 2
  code=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" "$@" "$url")
  rc=$?
  body=$(cat "$work/body" 2>/dev/null)
  headers=$(tr -d '\r' <"$work/headers" 2>/dev/null)
}

# reserve BASE KEY BODY [CURL ARGS...]
reserve() {
  local base=$1 key=$2 data=$3
  shift 3
  call POST "$base/v1/conversations/dni-reservation" -H "x-api-key: $key" \
    -H 'Content-Type: application/json' --data-binary "$data" "$@"
}

# json_get FIELD: the string or number FIELD of $body (its last occurrence).
json_get() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$body" | head -n 1; }

stats() { curl -s "$1/_sandbox/stats"; }
reservations() { curl -s "$1/_sandbox/dni-reservations"; }
requests_of() { sed -n 's/^{"requests":\([0-9]*\).*/\1/p' <<<"$1"; }

# ----------------------------------------------------------- bundled fixtures
start main "$FIXTURES"
u=$url_main
key=sandbox-key
lookup=$u/v1/acme/PROJECT-support/handoff_state

# Route and method.
call GET "$u/v1/conversations/dni-reservation" -H "x-api-key: $key"
same "GET is 405" 405 "$code"
has "405 names POST" "allow: post" "${headers,,}"
same "405 body" '{"error_message":"Method not allowed"}' "$body"
call POST "$u/v1/conversations/dni-reservation/" -H "x-api-key: $key" -d '{"attributes":{}}'
same "trailing slash is another path" 404 "$code"
call POST "$u/v1/conversations/dni%2Dreservation" -H "x-api-key: $key" -d '{"attributes":{}}'
same "a percent-encoded path is decoded" 200 "$code"

# Keys: checked before the body.
call POST "$u/v1/conversations/dni-reservation" -d 'not json'
same "no key" 401 "$code"
same "no key body" '{"error_message":"Missing API key"}' "$body"
call POST "$u/v1/conversations/dni-reservation" -H 'x-api-key: ' -d 'not json'
same "empty key" 401 "$code"
call POST "$u/v1/conversations/dni-reservation" -H 'x-api-key: wrong' -d 'not json'
same "wrong key" 403 "$code"
same "wrong key body" '{"error_message":"Invalid API key"}' "$body"
call POST "$u/v1/conversations/dni-reservation" -H 'X-API-Key: sandbox-key' -d '{"attributes":{}}'
same "header name case-insensitive" 200 "$code"

# Bodies.
for bad_body in 'not json' '' '{"attributes":' '{"a":1}x'; do
  reserve "$u" "$key" "$bad_body"
  same "not JSON: [$bad_body]" 400 "$code"
  same "not JSON body: [$bad_body]" '{"error_message":"Request body is not valid JSON"}' "$body"
done
for bad_body in '{}' '[]' '"x"' '{"attributes":[]}' '{"attributes":"x"}' '{"attributes":null}' '{"Attributes":{}}'; do
  reserve "$u" "$key" "$bad_body"
  same "no attributes object: $bad_body" 400 "$code"
  same "no attributes body: $bad_body" '{"error_message":"attributes is required and must be an object"}' "$body"
done
for bad_body in '{"attributes":{"shared_id":1}}' '{"attributes":{"shared_id":""}}' '{"attributes":{"shared_id":null}}'; do
  reserve "$u" "$key" "$bad_body"
  same "bad shared_id: $bad_body" 400 "$code"
  same "bad shared_id body: $bad_body" '{"error_message":"attributes.shared_id must be a non-empty string"}' "$body"
done
printf '\xff' >"$work/invalid-utf8"
call POST "$u/v1/conversations/dni-reservation" -H "x-api-key: $key" --data-binary @"$work/invalid-utf8"
same "not UTF-8" 400 "$code"
# Exactly 64 KiB is read; one byte more is 413.
head -c 65513 /dev/zero | tr '\0' x >"$work/pad"
{ printf '{"attributes":{"p":"'; cat "$work/pad"; printf '"}}'; } >"$work/64k"
same "64 KiB test body" 65536 "$(wc -c <"$work/64k")"
call POST "$u/v1/conversations/dni-reservation" -H "x-api-key: $key" --data-binary @"$work/64k"
same "64 KiB body" 200 "$code"
{ cat "$work/64k"; printf ' '; } >"$work/64k+1"
call POST "$u/v1/conversations/dni-reservation" -H "x-api-key: $key" --data-binary @"$work/64k+1"
same "64 KiB + 1 body" 413 "$code"
same "413 body" '{"error_message":"Request body is too large"}' "$body"
call POST "$u/v1/conversations/dni-reservation" -H 'x-api-key: wrong' --data-binary @"$work/64k+1"
same "the key comes before the size" 403 "$code"
# Expect: 100-continue is answered, so curl does not wait a second.
start_ns=$(date +%s%N)
call POST "$u/v1/conversations/dni-reservation" -H "x-api-key: $key" -H 'Expect: 100-continue' --data-binary @"$work/64k"
took_ms=$((($(date +%s%N) - start_ns) / 1000000))
same "Expect: 100-continue" 200 "$code"
if [ "$took_ms" -lt 800 ]; then ok; else bad "Expect: 100-continue took $took_ms ms"; fi
curl -s -o /dev/null -X DELETE "$u/_sandbox/dni-reservations"

# Reservations: the pool in order, one number per live shared_id.
reserve "$u" "$key" '{"attributes":{"shared_id":"call-a","caller":"+442079460000","customer":{"age":25,"balance":1.50},"previous_calls":["c1"]}}'
same "reserve call-a" 200 "$code"
same "call-a gets the first number" '{"dni":"+15550100"}' "$body"
has "Content-Type" "content-type: application/json" "${headers,,}"
reserve "$u" "$key" '{"attributes":{"shared_id":"call-a","caller":"other"}}'
same "call-a again: same number" '{"dni":"+15550100"}' "$body"
reserve "$u" "$key" '{"attributes":{"shared_id":"call-b"}}'
same "call-b: the next number" '{"dni":"+15550101"}' "$body"
reserve "$u" "$key" '{"attributes":{"caller":"anonymous"}}'
same "no shared_id: allowed" '{"dni":"+15550102"}' "$body"
reserve "$u" "$key" '{"attributes":{"caller":"anonymous"}}'
same "no shared_id: a new number each time" '{"dni":"+15550103"}' "$body"
reserve "$u" "$key" '{"attributes":{"shared_id":"dup","shared_id":"call-b"},"attributes":{"shared_id":"call-a"}}'
same "repeated keys: the last counts" '{"dni":"+15550100"}' "$body"

# Inspection: attributes as received, the first ones of a repeated shared_id.
body=$(reservations "$u")
has "inspection lists call-a" '{"shared_id":"call-a","dni":"+15550100","attributes":{"shared_id":"call-a","caller":"+442079460000","customer":{"age":25,"balance":1.50},"previous_calls":["c1"]},"expires_in_ms":' "$body"
has "inspection lists an anonymous reservation" '{"shared_id":null,"dni":"+15550102","attributes":{"caller":"anonymous"},"expires_in_ms":' "$body"
has "not yet called" '"called":false}' "$body"
lacks "a repeat changes nothing" '"caller":"other"' "$body"
case "$body" in '{"requests":'*) ok ;; *) bad "requests comes first: ${body:0:80}" ;; esac
expires=$(sed -n 's/.*"shared_id":"call-a","dni":"+15550100".*"expires_in_ms":\([0-9]*\),.*/\1/p' <<<"$body")
if [ -n "$expires" ] && [ "$expires" -gt 50000 ] && [ "$expires" -le 60000 ]; then ok; else bad "expires_in_ms [$expires]"; fi

# Counting: every POST in the inspection (401s and faults too), the stats
# count API requests; the /_sandbox/ endpoints count in neither.
before_stats=$(stats "$u")
before=$(requests_of "$(reservations "$u")")
call POST "$u/v1/conversations/dni-reservation" -d '{}'
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-fault-500"}}'
reserve "$u" "$key" 'x'
call GET "$u/v1/conversations/dni-reservation" -H "x-api-key: $key"
reservations "$u" >/dev/null
curl -s -o /dev/null -X POST "$u/_sandbox/call?dni=%2B19999"
after=$(requests_of "$(reservations "$u")")
same "three POSTs counted" $((before + 3)) "$after"
after_stats=$(stats "$u")
b=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<<"$before_stats")
a=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<<"$after_stats")
same "stats count the four API requests" $((b + 4)) "$a"
b=$(sed -n 's/.*"connections":\([0-9]*\).*/\1/p' <<<"$before_stats")
a=$(sed -n 's/.*"connections":\([0-9]*\).*/\1/p' <<<"$after_stats")
same "stats count their four connections" $((b + 4)) "$a"
call PUT "$u/_sandbox/dni-reservations"
same "PUT inspection" 405 "$code"
has "inspection Allow" "allow: get, delete" "${headers,,}"

# The bundled faults.
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-fault-500"}}'
same "dni-fault-500" "500 {\"error_message\":\"Internal error in DNI pool\"}" "$code $body"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-fault-500~7"}}'
same "dni-fault-500~7" 500 "$code"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-fault-409"}}'
same "dni-fault-409" "409 {\"error_message\":\"Reservation conflict\"}" "$code $body"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-fault-429"}}'
same "dni-fault-429" "429 {\"error_message\":\"Too many requests\"}" "$code $body"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-hostile-uri"}}'
same "dni-hostile-uri" '200 {"dni":"123@evil.example"}' "$code $body"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-hostile-params"}}'
same "dni-hostile-params" '200 {"dni":"+1;transport=tcp"}' "$code $body"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-number"}}'
same "dni-number" '200 {"dni": 12345}' "$code $body"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-missing"}}'
same "dni-missing" '200 {}' "$code $body"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-garbage"}}'
same "dni-garbage" '200 this is not json' "$code $body"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-huge"}}'
same "dni-huge status" 200 "$code"
same "dni-huge is 10 KB" 10240 "$(json_get dni | tr -d '\n' | wc -c)"
same "dni-huge is a plus and digits" "" "$(json_get dni | tr -d '+0-9')"
before=$(requests_of "$(reservations "$u")")
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-fault-reset"}}'
same "dni-fault-reset: connection reset" 56 "$rc"
same "dni-fault-reset counted once" $((before + 1)) "$(requests_of "$(reservations "$u")")"
has "dni-fault-reset reserved a number" '"shared_id":"dni-fault-reset","dni":"+1555' "$(reservations "$u")"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-fault-stall"}}' -m 1
same "dni-fault-stall: timed out" 28 "$rc"
has "dni-fault-stall sent its headers" "HTTP/1.1 200" "$headers"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-fault-slow"}}' -m 1
same "dni-fault-slow: nothing within 1 s" "28 " "$rc $headers"

# Agent mode: resolvable once called.
call GET "$lookup?shared_id=call-a" -H "x-api-key: $key"
same "before the call: 404" "404 {\"error_message\":\"Handoff state not found\"}" "$code $body"
call POST "$u/_sandbox/call?dni=%2B15550100"
same "call +15550100" 200 "$code"
has "call names the shared_id" '{"dni":"+15550100","shared_id":"call-a","id":"' "$body"
conversation=$(json_get id)
if [[ "$conversation" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]; then ok; else bad "conversation id [$conversation]"; fi
call POST "$u/_sandbox/call?dni=+15550100"
same "a literal + works, and a second call changes nothing" "{\"dni\":\"+15550100\",\"shared_id\":\"call-a\",\"id\":\"$conversation\"}" "$body"
expected_state="{\"id\":\"$conversation\",\"shared_id\":\"call-a\",\"data\":{\"caller\":\"+442079460000\",\"customer\":{\"age\":25,\"balance\":1.50},\"previous_calls\":[\"c1\"],\"handoff_reason\":\"successfully_identified\",\"handoff_to\":\"billing\"}}"
call GET "$lookup?shared_id=call-a" -H "x-api-key: $key"
same "after the call: the attributes and the agent's data" "200 $expected_state" "$code $body"
call GET "$lookup?id=$conversation" -H "x-api-key: $key"
same "found by id too" "200 $expected_state" "$code $body"
call GET "$lookup?shared_id=call-a" -H 'x-api-key: wrong'
same "the agent's state needs the key" 403 "$code"
call GET "$u/v1/other/PROJECT-support/handoff_state?shared_id=call-a" -H "x-api-key: $key"
same "and the project" 404 "$code"
call GET "$lookup?shared_id=call-a~1" -H "x-api-key: $key"
same "no ~ variants for the agent's states" 404 "$code"
has "inspection shows the call" '"shared_id":"call-a","dni":"+15550100"' "$(reservations "$u")"
has "called true" '"called":true}' "$(reservations "$u")"
call POST "$u/_sandbox/call?dni=%2B15550102"
same "a reservation without shared_id: called, no state" '{"dni":"+15550102","shared_id":null,"id":null}' "$body"
call POST "$u/_sandbox/call?dni=%2B15550199"
same "an unreserved number" "404 {\"error_message\":\"No live reservation holds that DNI\"}" "$code $body"
call POST "$u/_sandbox/call"
same "no dni" "400 {\"error_message\":\"dni is required\"}" "$code $body"
call POST "$u/_sandbox/call?dni=%zz"
same "bad escape" 400 "$code"
call GET "$u/_sandbox/call?dni=%2B15550100"
same "GET call" 405 "$code"
has "call Allow" "allow: post" "${headers,,}"

# Fixtures win over the agent, and lookups are as before.
reserve "$u" "$key" '{"attributes":{"shared_id":"acme-call-456","handoff_to":"nowhere"}}'
dni=$(json_get dni)
curl -s -o /dev/null -X POST "$u/_sandbox/call?dni=$(sed 's/+/%2B/' <<<"$dni")"
call GET "$lookup?shared_id=acme-call-456" -H "x-api-key: $key"
same "a fixture's shared_id keeps its fixture" '200 {"id":"5f1e7c2a-9d3b-4e8f-a6c1-2b7d9e0f4a13","shared_id":"acme-call-456","data":{"customer_id":"67890","handoff_reason":"agent_requested","handoff_to":"sales","language":"es-ES","intent":{"primary":"upgrade","confidence":0.93}}}' "$code $body"
call GET "$lookup?shared_id=fault-500" -H "x-api-key: $key"
same "lookup faults unchanged" '500 {"error_message":"Internal error in handoff store"}' "$code $body"
call POST "$lookup?shared_id=acme-call-123" -H "x-api-key: $key" -d 'x'
same "POST to handoff_state still 405" 405 "$code"
has "with Allow: GET" "allow: get" "${headers,,}"
call GET "$u/_sandbox/stats" -X POST
same "stats still GET only" 405 "$code"

# DELETE releases every number; the states made stay.
call DELETE "$u/_sandbox/dni-reservations"
same "DELETE" 200 "$code"
has "DELETE empties the list" '"reservations":[]}' "$body"
reserve "$u" "$key" '{"attributes":{"shared_id":"after-delete"}}'
same "after DELETE: the first number again" '{"dni":"+15550100"}' "$body"
call GET "$lookup?shared_id=call-a" -H "x-api-key: $key"
same "the state outlives its reservation" "200 $expected_state" "$code $body"

# The pool of 20 runs out: 409.
curl -s -o /dev/null -X DELETE "$u/_sandbox/dni-reservations"
for i in $(seq 1 20); do reserve "$u" "$key" "{\"attributes\":{\"shared_id\":\"fill-$i\"}}"; done
reserve "$u" "$key" '{"attributes":{"shared_id":"one-too-many"}}'
same "exhausted" '409 {"error_message":"No DNI available: the pool is exhausted"}' "$code $body"
reserve "$u" "$key" '{"attributes":{"shared_id":"fill-7"}}'
same "a live shared_id still gets its number" '200 {"dni":"+15550106"}' "$code $body"
reserve "$u" "$key" '{"attributes":{"shared_id":"dni-fault-500"}}'
same "a fault with its own body needs no number" 500 "$code"
curl -s -o /dev/null -X DELETE "$u/_sandbox/dni-reservations"

# ------------------------------------ a small pool, quick expiry, own key
cat >"$work/small.json" <<'EOF'
{
  "api_key": "lookup-key",
  "handoffs": [{"id": "h-1", "shared_id": "fixed", "data": {"handoff_to": "fixed"}}],
  "dni_reservation": {
    "api_key": "dni-key",
    "pool": ["+10001", "+10002"],
    "expire_ms": 4000,
    "agent": {"data": {"handoff_to": "sales", "caller": "agent-says"}, "after_ms": 2000},
    "faults": [
      {"shared_id": "seq", "respond": {"sequence": [{"status": 503, "body": "{\"error_message\":\"busy\"}"}, {}]}},
      {"shared_id": "padded", "respond": {"pad_bytes": 5}},
      {"shared_id": "echo", "respond": {"status": 502, "echo_key": true}},
      {"shared_id": "late", "respond": {"delay_ms": 300, "status": 201, "headers": {"X-Sandbox": "late"}}},
      {"shared_id": "trickle", "respond": {"trickle_ms": 20}},
      {"shared_id": "cut", "respond": {"close_after_bytes": 4}}
    ]
  }
}
EOF
start small "$work/small.json"
s=$url_small
reserve "$s" lookup-key '{"attributes":{"shared_id":"x"}}'
same "the lookup key is not the reservation key" 403 "$code"
call GET "$s/v1/a/p/handoff_state?shared_id=fixed" -H 'x-api-key: dni-key'
same "nor the other way round" 403 "$code"
reserve "$s" dni-key '{"attributes":{"shared_id":"seq"}}'
same "sequence step 1" '503 {"error_message":"busy"}' "$code $body"
reserve "$s" dni-key '{"attributes":{"shared_id":"seq"}}'
same "sequence step 2" '200 {"dni":"+10001"}' "$code $body"
reserve "$s" dni-key '{"attributes":{"shared_id":"seq~2"}}'
same "a variant's own sequence" 503 "$code"
reserve "$s" dni-key '{"attributes":{"shared_id":"padded"}}'
same "pad_bytes" '200 {"dni":"+10002","padding":"xxxxx"}' "$code $body"
reserve "$s" dni-key '{"attributes":{"shared_id":"echo"}}'
same "echo_key" '502 {"error_message":"upstream refused the request with header x-api-key: dni-key"}' "$code $body"
reserve "$s" dni-key '{"attributes":{"shared_id":"third"}}'
same "exhausted at two" '409 {"error_message":"No DNI available: the pool is exhausted"}' "$code $body"
start_ns=$(date +%s%N)
reserve "$s" dni-key '{"attributes":{"shared_id":"late"}}'
took_ms=$((($(date +%s%N) - start_ns) / 1000000))
same "an exhausted pool keeps the fault's delivery" 409 "$code"
has "and headers" "x-sandbox: late" "${headers,,}"
if [ "$took_ms" -ge 290 ]; then ok; else bad "delay_ms 300 took $took_ms ms"; fi

# Expiry returns the numbers: poll, never sleep a guess. expire_ms 4000 and
# after_ms 2000 leave a loaded machine room for the curl runs in between.
for i in $(seq 1 400); do
  reserve "$s" dni-key '{"attributes":{"shared_id":"auto-1","caller":"+4420","lang":"en"}}'
  [ "$code" = 200 ] && break
  sleep 0.05
done
reserved="$code $body"
# after_ms: the agent calls by itself; 404 until then, so asked at once.
call GET "$s/v1/a/p/handoff_state?shared_id=auto-1" -H 'x-api-key: lookup-key'
same "before after_ms: 404" 404 "$code"
body=${reserved#* }
same "after expiry: a number again" 200 "${reserved%% *}"
auto_dni=$(json_get dni)
has "expires_in_ms listed" '"expires_in_ms":' "$(reservations "$s")"
expires=$(reservations "$s" | sed -n 's/.*"shared_id":"auto-1".*"expires_in_ms":\([0-9]*\),.*/\1/p')
if [ -n "$expires" ] && [ "$expires" -le 4000 ] && [ "$expires" -gt 0 ]; then ok; else bad "expires_in_ms [$expires]"; fi

for i in $(seq 1 400); do
  call GET "$s/v1/a/p/handoff_state?shared_id=auto-1" -H 'x-api-key: lookup-key'
  [ "$code" = 200 ] && break
  sleep 0.05
done
same "after after_ms: 200" 200 "$code"
has "agent.data wins, shared_id left out" '"shared_id":"auto-1","data":{"lang":"en","handoff_to":"sales","caller":"agent-says"}}' "$body"
# The state stays after the reservation has expired.
for i in $(seq 1 400); do
  reservations "$s" | grep -q '"shared_id":"auto-1"' || break
  sleep 0.05
done
lacks "auto-1 expired" '"shared_id":"auto-1"' "$(reservations "$s")"
call GET "$s/v1/a/p/handoff_state?shared_id=auto-1" -H 'x-api-key: lookup-key'
same "the state outlives the reservation" 200 "$code"
call POST "$s/_sandbox/call?dni=$(sed 's/+/%2B/' <<<"$auto_dni")"
same "an expired number cannot be called" 404 "$code"
call GET "$s/v1/a/p/handoff_state?shared_id=fixed" -H 'x-api-key: lookup-key'
same "fixtures still served" '200 {"id":"h-1","shared_id":"fixed","data":{"handoff_to":"fixed"}}' "$code $body"

# Delivery modes on a reservation.
curl -s -o /dev/null -X DELETE "$s/_sandbox/dni-reservations"
reserve "$s" dni-key '{"attributes":{"shared_id":"trickle"}}'
same "trickle_ms" '200 {"dni":"+10001"}' "$code $body"
reserve "$s" dni-key '{"attributes":{"shared_id":"cut"}}'
same "close_after_bytes: curl sees a short body" "18 {\"dn" "$rc $body"

# ------------------------------------------------- no dni_reservation object
cat >"$work/plain.json" <<'EOF'
{"api_key": "k", "handoffs": [{"id": "h-1"}]}
EOF
start plain "$work/plain.json"
p=$url_plain
reserve "$p" k '{"attributes":{}}'
same "without dni_reservation: an unknown path" '404 {"error_message":"Not found"}' "$code $body"
call GET "$p/_sandbox/dni-reservations"
same "and no inspection" 404 "$code"
same "both counted as before" '{"requests":2,"connections":2}' "$(stats "$p")"

# --------------------------------------------------------- fixture validation
# refused JSON EXPECTED-MESSAGE
refused() {
  printf '%s' "$1" >"$work/bad.json"
  local out status
  out=$("$SANDBOX" --fixtures "$work/bad.json" --port 0 2>&1 </dev/null)
  status=$?
  same "exit 2 for $1" 2 "$status"
  has "message for $1" "$2" "$out"
}
base='"api_key":"k","handoffs":[]'
refused "{$base,\"dni_reservation\":{}}" 'dni_reservation.pool: is required'
refused "{$base,\"dni_reservation\":[]}" 'dni_reservation: expected an object, found an array'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"pol\":1}}" 'dni_reservation: unknown field "pol"'
refused "{$base,\"dni_reservation\":{\"pool\":\"+1\"}}" 'dni_reservation.pool: expected an array, found a string'
refused "{$base,\"dni_reservation\":{\"pool\":[\"+1\",2]}}" 'dni_reservation.pool[1]: expected a string, found a number'
refused "{$base,\"dni_reservation\":{\"pool\":[\"+1\",\"\"]}}" 'dni_reservation.pool[1]: must not be empty'
refused "{$base,\"dni_reservation\":{\"pool\":[\"+1\",\"+1\"]}}" 'dni_reservation.pool[1]: "+1" is already dni_reservation.pool[0]'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"api_key\":\"\"}}" 'dni_reservation.api_key: must not be empty'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"expire_ms\":0}}" 'dni_reservation.expire_ms: 0 is outside 1...86400000'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"expire_ms\":1.5}}" 'dni_reservation.expire_ms: expected a whole number, found 1.5'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"agent\":{\"data\":[]}}}" 'dni_reservation.agent.data: expected an object, found an array'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"agent\":{\"after\":1}}}" 'dni_reservation.agent: unknown field "after"'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"expire_ms\":100,\"agent\":{\"after_ms\":101}}}" 'dni_reservation.agent.after_ms: 101 is outside 0...100'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"faults\":{}}}" 'dni_reservation.faults: expected an array, found an object'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"faults\":[{\"respond\":{}}]}}" 'dni_reservation.faults[0].shared_id: is required'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"faults\":[{\"shared_id\":\"a\"}]}}" 'dni_reservation.faults[0].respond: is required'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"faults\":[{\"shared_id\":\"a\",\"respond\":{\"dealy_ms\":1}}]}}" 'dni_reservation.faults[0].respond: unknown field "dealy_ms"'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"faults\":[{\"shared_id\":\"a\",\"respond\":{\"reset\":true,\"stall_after_headers\":true}}]}}" 'dni_reservation.faults[0].respond: use at most one of'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"faults\":[{\"shared_id\":\"a\",\"respond\":{\"sequence\":[{\"status\":99}]}}]}}" 'dni_reservation.faults[0].respond.sequence[0].status: 99 is outside 200...599'
refused "{$base,\"dni_reservation\":{\"pool\":[],\"faults\":[{\"shared_id\":\"a\",\"respond\":{}},{\"shared_id\":\"a\",\"respond\":{}}]}}" 'dni_reservation.faults[1].shared_id: "a" is already used by dni_reservation.faults[0]'

# An empty pool is valid: every reservation is 409.
printf '%s' "{$base,\"dni_reservation\":{\"pool\":[]}}" >"$work/empty.json"
start empty "$work/empty.json"
reserve "$url_empty" k '{"attributes":{"shared_id":"x"}}'
same "an empty pool" 409 "$code"

for log in "$work"/*.log; do
  [ -s "$log" ] || continue
  grep -v '^listening on ' "$log" | grep -q . && bad "sandbox log $(basename "$log"): $(grep -v '^listening on ' "$log" | head -n 3)"
done

echo "sandbox-dni: $passed passed, $failed failed"
[ "$failed" = 0 ]

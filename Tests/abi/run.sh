#!/usr/bin/env bash
# run.sh -- the C ABI tests: builds each Tests/abi/test_*.c against the
# library, starts the sandbox, runs them, then the CLI and export checks.
#
# Environment:
#   LIB_DIR      directory holding libpolyai_handoff.so and .so.1 (default build/lib)
#   INCLUDE_DIR  directory holding polyai_handoff.h (default include)
#   SANDBOX      the polyai-handoff-sandbox executable (required)
#   FIXTURES     the sandbox's fixtures (default Sources/Sandbox/fixtures.json)
#   CLI          the built polyai-handoff CLI (default: built here from cli/)
#   VALGRIND=1   also run test_lookup, test_threads, test_fork, test_proxy_env,
#                test_secrets, test_queue, test_reservation, test_hedge, test_tls,
#                test_connections, test_warm, test_egress_netns (as root),
#                test_soak (10,000 lookups) and
#                the CLI under memcheck
#   EXTRA_LDFLAGS  link flags put first for the tests and the CLI (a
#                sanitizer's runtime, when LIB_DIR holds a sanitized build)
#   TEST_WRAPPER a command every test binary and the CLI run under, e.g.
#                "env TSAN_OPTIONS=..." or valgrind
#   SKIP_EXPORTS=1  skip the export check (a sanitized build is not the product)
#   CC           C compiler (default cc)
#   ONLY         run only these parts, by name: test_* (without .c), cli,
#                exports (e.g. ONLY="test_tls test_fault_matrix" to repeat
#                a few tests); valgrind runs then only with VALGRIND=1 and
#                only for the tests named
#
# Prints one line per test, then "abi: N passed, M failed"; exits 1 if any failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LIB_DIR=${LIB_DIR:-$root/build/lib}
INCLUDE_DIR=${INCLUDE_DIR:-$root/include}
SANDBOX=${SANDBOX:-}
FIXTURES=${FIXTURES:-$root/Sources/Sandbox/fixtures.json}
CLI=${CLI:-}
EXTRA_LDFLAGS=${EXTRA_LDFLAGS:-}
TEST_WRAPPER=${TEST_WRAPPER:-}
export TEST_WRAPPER
VALGRIND=${VALGRIND:-0}
CC=${CC:-cc}
# Every test_*.c is its own program; test_dns_stall, test_deadline_floor and
# test_unload need a network namespace and run through dns_stall.sh,
# test_tls, test_connections, test_warm, test_keep_warm and test_queue_warm
# need nginx in front of the sandbox and run through tls_front.sh,
# test_egress through egress_front.sh (tinyproxy in front of that), and
# test_egress_netns through netns_front.sh (two network namespaces joined by
# veths).
TESTS=$(cd "$here" && ls test_*.c | sed 's/\.c$//' |
  grep -v -x -e test_dns_stall -e test_deadline_floor -e test_unload -e test_tls -e test_connections -e test_warm \
    -e test_keep_warm -e test_queue_warm -e test_egress -e test_egress_netns)
ONLY=${ONLY:-}
# wanted NAME: NAME is to run (every part when ONLY is empty).
wanted() { [ -z "$ONLY" ] || case " $ONLY " in *" $1 "*) true ;; *) false ;; esac; }
CFLAGS="-std=c99 -Wall -Wextra -Werror -pthread"

# The caller's configuration must not leak into the tests.
for name in $(env | sed -n 's/^\(POLYAI_HANDOFF_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$name"; done

LIB_DIR=$(cd "$LIB_DIR" 2>/dev/null && pwd) || { echo "run.sh: no LIB_DIR directory" >&2; exit 2; }
[ -e "$LIB_DIR/libpolyai_handoff.so" ] || { echo "run.sh: no libpolyai_handoff.so in $LIB_DIR" >&2; exit 2; }
[ -x "$SANDBOX" ] || { echo "run.sh: set SANDBOX to the polyai-handoff-sandbox executable" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/handoff-abi.XXXXXX")
mkdir -p "$work/tmp"
sandbox_pid=
slow_sandbox_pid=
cleanup() {
  local pid
  for pid in $sandbox_pid $slow_sandbox_pid; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0

# pass NAME DETAIL / fail NAME DETAIL [LOG]
pass() {
  passed=$((passed + 1))
  printf 'PASS %-22s %s\n' "$1" "$2"
}
fail() {
  failed=$((failed + 1))
  printf 'FAIL %-22s %s\n' "$1" "$2"
  if [ -n "${3:-}" ] && [ -s "$3" ]; then
    sed 's/^/    | /' "$3" | tail -n 200
  fi
}

elapsed_since() { # start in ns -> "1.23 s"
  awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f s", (b - a) / 1e9 }'
}

# ------------------------------------------------------------------ sandbox

sandbox_args=(--port 0 --port-file "$work/port" --blackhole-port-file "$work/blackhole")
if [ -f "$FIXTURES" ]; then sandbox_args+=(--fixtures "$FIXTURES"); fi
"$SANDBOX" "${sandbox_args[@]}" >"$work/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 1 300); do
  if grep -qx '[0-9][0-9]*' "$work/port" 2>/dev/null && grep -qx '[0-9][0-9]*' "$work/blackhole" 2>/dev/null; then
    break
  fi
  kill -0 "$sandbox_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -qx '[0-9][0-9]*' "$work/port" 2>/dev/null || ! grep -qx '[0-9][0-9]*' "$work/blackhole" 2>/dev/null; then
  fail sandbox "did not write its port files within 30 s" "$work/sandbox.log"
  echo "abi: $passed passed, $failed failed"
  exit 1
fi
port=$(cat "$work/port")
export HANDOFF_TEST_BASE_URL="http://127.0.0.1:$port"

# A second sandbox, slow but alive (every answer 100 ms late), for queued
# lookups in flight by the thousand (test_queue_load).
"$SANDBOX" --port 0 --port-file "$work/slow-port" --delay-ms 100 ${FIXTURES:+--fixtures "$FIXTURES"} >"$work/slow-sandbox.log" 2>&1 &
slow_sandbox_pid=$!
for _ in $(seq 1 300); do
  grep -qx '[0-9][0-9]*' "$work/slow-port" 2>/dev/null && break
  kill -0 "$slow_sandbox_pid" 2>/dev/null || break
  sleep 0.1
done
export HANDOFF_TEST_SLOW_BASE_URL="http://127.0.0.1:$(cat "$work/slow-port" 2>/dev/null)"
export HANDOFF_TEST_BLACKHOLE_PORT=$(cat "$work/blackhole")
export TMPDIR="$work/tmp"

# -------------------------------------------------------------- C tests

build() { # NAME SOURCE -> $work/NAME, log in $work/NAME.build
  # shellcheck disable=SC2086
  "$CC" $CFLAGS -I"$INCLUDE_DIR" -I"$here" "$2" -o "$work/$1" \
    $EXTRA_LDFLAGS -L"$LIB_DIR" -lpolyai_handoff -Wl,-rpath,"$LIB_DIR" >"$work/$1.build" 2>&1
}

for t in $TESTS; do
  wanted "$t" || continue
  if ! build "$t" "$here/$t.c"; then
    fail "$t" "does not compile" "$work/$t.build"
    continue
  fi
  start=$(date +%s%N)
  # shellcheck disable=SC2086
  timeout 120 $TEST_WRAPPER "$work/$t" >"$work/$t.log" 2>&1
  rc=$?
  took=$(elapsed_since "$start")
  summary=$(grep -E "^$t: [0-9]+ checks" "$work/$t.log" | tail -n 1)
  if [ "$rc" = 0 ]; then
    pass "$t" "${summary#"$t: "} ($took)"
  elif [ "$rc" = 124 ]; then
    fail "$t" "timed out after 120 s" "$work/$t.log"
  else
    fail "$t" "exit $rc ${summary#"$t: "} ($took)" "$work/$t.log"
  fi
  if ! kill -0 "$sandbox_pid" 2>/dev/null; then
    fail sandbox "died during $t" "$work/sandbox.log"
    break
  fi
done

# run_through NAME SCRIPT [SKIP_REASON [BUILD]]: builds NAME.c (with BUILD,
# default build) and runs it through SCRIPT, which
# sets up what the test needs around it. SCRIPT exiting 3 means it cannot be
# set up on this machine (a SKIP, with the reason given as $3; the name goes
# into $skipped, so valgrind does not run it either).
skipped=" "
run_through() {
  local name=$1 script=$2 skip_reason=${3:-} builder=${4:-build} rc summary
  wanted "$name" || return 0
  if ! "$builder" "$name" "$here/$name.c"; then
    fail "$name" "does not compile" "$work/$name.build"
    return
  fi
  start=$(date +%s%N)
  bash "$here/$script" "$work/$name" >"$work/$name.log" 2>&1
  rc=$?
  summary=$(grep -E "^$name: [0-9]+ checks" "$work/$name.log" | tail -n 1)
  if [ "$rc" = 0 ]; then
    pass "$name" "${summary#"$name: "} ($(elapsed_since "$start"))"
  elif [ "$rc" = 3 ] && [ -n "$skip_reason" ]; then
    printf 'SKIP %-22s %s\n' "$name" "$skip_reason"
    skipped="$skipped$name "
  else
    fail "$name" "exit $rc ${summary#"$name: "}" "$work/$name.log"
  fi
}

# A resolver that never answers, inside a network namespace (needs root).
if ! wanted test_dns_stall; then
  :
elif [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
  printf 'SKIP %-22s %s\n' test_dns_stall "needs root, ip(8) and python3 for a network namespace"
else
  run_through test_dns_stall dns_stall.sh "cannot create a network namespace here"
  run_through test_deadline_floor dns_stall.sh "cannot create a network namespace here"
  # Loads the library with dlopen() as a host module does: not linked to it.
  build_for_dlopen() {
    # shellcheck disable=SC2086
    "$CC" $CFLAGS -I"$INCLUDE_DIR" -I"$here" "$2" -o "$work/$1" $EXTRA_LDFLAGS -ldl >"$work/$1.build" 2>&1
  }
  export HANDOFF_TEST_LIB=$LIB_DIR/libpolyai_handoff.so.1
  run_through test_unload dns_stall.sh "cannot create a network namespace here" build_for_dlopen
fi
# The egress keys between a client and a server namespace made for the test,
# joined by two veths (needs root): nginx with TLS and the sandbox in one,
# the test in the other.
if ! wanted test_egress_netns; then
  :
elif [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null 2>&1; then
  printf 'SKIP %-22s %s\n' test_egress_netns "needs root and ip(8) for network namespaces"
else
  export SANDBOX FIXTURES
  run_through test_egress_netns netns_front.sh "cannot create a network namespace here"
  # Every process it started is stopped (its sandbox once outlived it).
  if wanted test_egress_netns && pgrep -f "$work/tmp/handoff-netns" >/dev/null; then
    fail netns_front "left processes running: $(pgrep -af "$work/tmp/handoff-netns" | head -n 3 | tr '\n' ';')"
    pkill -f "$work/tmp/handoff-netns"
  fi
fi

# Real TLS: nginx with certificates made for this run, in front of the sandbox.
run_through test_tls tls_front.sh
run_through test_connections tls_front.sh
run_through test_warm tls_front.sh
run_through test_keep_warm tls_front.sh
run_through test_queue_warm tls_front.sh
# Real proxies (tinyproxy) in front of that nginx.
run_through test_egress egress_front.sh "tinyproxy is not installed"

# -------------------------------------------------------------------- CLI

cli_log=$work/cli.log
: >"$cli_log"
cli_checks=0
cli_failures=0
cli_ok() { cli_checks=$((cli_checks + 1)); }
cli_bad() {
  cli_checks=$((cli_checks + 1))
  cli_failures=$((cli_failures + 1))
  {
    echo "$*"
    echo "  stdout:"; sed 's/^/    /' "$work/out"
    echo "  stderr:"; sed 's/^/    /' "$work/err"
  } >>"$cli_log"
}
# run_cli EXPECTED_EXIT ARGS... -> $work/out, $work/err
run_cli() {
  local expected=$1 rc
  shift
  # shellcheck disable=SC2086
  timeout 60 $TEST_WRAPPER "$CLI" "$@" >"$work/out" 2>"$work/err"
  rc=$?
  if [ "$rc" = "$expected" ]; then cli_ok; else cli_bad "polyai-handoff $*: exit $rc, expected $expected"; fi
}
# expect_line FILE LINE: the file has exactly this line
expect_line() {
  if grep -qxF -- "$2" "$1"; then cli_ok; else cli_bad "$(basename "$1") lacks the line '$2'"; fi
}
expect_first_line() {
  if [ "$(head -n 1 "$1")" = "$2" ]; then cli_ok; else cli_bad "$(basename "$1") does not start with '$2'"; fi
}
expect_empty() {
  if [ ! -s "$1" ]; then cli_ok; else cli_bad "$(basename "$1") is not empty"; fi
}
expect_grep() {
  if grep -q -- "$2" "$1"; then cli_ok; else cli_bad "$(basename "$1") does not match '$2'"; fi
}

cli_build_failed=0
wanted cli || cli_build_failed=skipped
if [ "$cli_build_failed" = 0 ] && [ -z "$CLI" ]; then
  CLI=$work/polyai-handoff
  # shellcheck disable=SC2086
  if ! "$CC" -std=c99 -Wall -Wextra -Werror -I"$INCLUDE_DIR" "$root/cli/polyai-handoff.c" -o "$CLI" \
      $EXTRA_LDFLAGS -L"$LIB_DIR" -lpolyai_handoff -Wl,-rpath,"$LIB_DIR" >"$work/cli.build" 2>&1; then
    cli_build_failed=1
    fail cli "does not compile" "$work/cli.build"
  fi
fi

if [ "$cli_build_failed" = 0 ]; then
  printf '%s\n' sandbox-key >"$work/key"
  printf '%s\n' wrong-key >"$work/wrong-key"
  printf 'base_url = %s\naccount_id = acme\nproject_id = PROJECT-support\napi_key_file = %s\n' \
    "$HANDOFF_TEST_BASE_URL" "$work/key" >"$work/cli.ini"
  flags=(--base-url "$HANDOFF_TEST_BASE_URL" --account-id acme --project-id PROJECT-support --api-key-file "$work/key")
  cr=$(printf '\r')

  run_cli 0 --shared-id acme-call-123 "${flags[@]}"
  expect_first_line "$work/out" "POLYAI_HANDOFF_STATUS=ok"
  expect_line "$work/out" "POLYAI_CONVERSATION_ID=0bba04d7-38b3-4fd3-a1a8-329c34517fc1"
  expect_line "$work/out" "POLYAI_SHARED_ID=acme-call-123"
  expect_line "$work/out" "POLYAI_CUSTOMER_ID=12345"
  expect_line "$work/out" "POLYAI_CUSTOMER_TIER=gold"
  expect_line "$work/out" "POLYAI_CUSTOMER_ACCOUNT_NUMBER=9223372036854775807"
  expect_empty "$work/err"

  run_cli 0 --shared-id acme-call-123 "${flags[@]}" --format vars
  expect_line "$work/out" "POLYAI_CUSTOMER_BALANCE=1234.50"

  run_cli 0 --shared-id acme-call-123 "${flags[@]}" --format headers
  expect_first_line "$work/out" "X-PolyAI-Handoff-Status: ok$cr"
  expect_line "$work/out" "X-PolyAI-Conversation-Id: 0bba04d7-38b3-4fd3-a1a8-329c34517fc1$cr"
  expect_line "$work/out" "X-PolyAI-Shared-Id: acme-call-123$cr"
  expect_line "$work/out" "X-PolyAI-Customer-Id: 12345$cr"
  expect_line "$work/out" "X-PolyAI-Customer-Tier: gold$cr"

  run_cli 0 --shared-id acme-call-123 "${flags[@]}" --format entries
  expect_first_line "$work/out" "customer_id=12345"
  expect_line "$work/out" "customer.tier=gold"
  expect_line "$work/out" "customer.name=Zoë Ångström"
  expect_line "$work/out" "customer.account_number=9223372036854775807"
  expect_line "$work/out" "customer.balance=1234.50"
  expect_line "$work/out" "previous_calls.1=2026-11-15"
  expect_line "$work/out" "vip=true"
  expect_line "$work/out" "notes="
  if [ "$(wc -l <"$work/out")" -eq 11 ]; then cli_ok; else cli_bad "entries: expected 11 lines"; fi

  run_cli 0 --shared-id acme-call-123 "${flags[@]}" --format json
  expect_line "$work/out" '{"status":"ok","http_status":200,"conversation_id":"0bba04d7-38b3-4fd3-a1a8-329c34517fc1","shared_id":"acme-call-123","error":"","data":{"customer_id":"12345","handoff_reason":"successfully_identified","handoff_to":"billing","customer":{"tier":"gold","name":"Zoë Ångström","account_number":9223372036854775807,"balance":1234.50},"previous_calls":["2026-11-01","2026-11-15"],"vip":true,"notes":null}}'

  # JSON of a failure: error and nulls, still one valid object.
  run_cli 5 --shared-id no-such-call "${flags[@]}" --format json
  expect_line "$work/out" '{"status":"not_found","http_status":404,"conversation_id":null,"shared_id":null,"error":"Handoff state not found","data":{}}'
  if command -v python3 >/dev/null 2>&1; then
    run_cli 9 --shared-id fault-garbage "${flags[@]}" --format json
    if python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]=="protocol" and d["http_status"]==200 and isinstance(d["error"],str) and d["data"]=={}' <"$work/out" 2>>"$work/err"; then
      cli_ok
    else
      cli_bad "fault-garbage --format json is not the expected JSON"
    fi
  fi

  # By conversation id, from a config file plus the environment.
  POLYAI_HANDOFF_VARIABLE_PREFIX=PBX_ run_cli 0 --id c7a9e2f0-1b3d-4c5e-8f7a-9b0c1d2e3f4a --config "$work/cli.ini"
  expect_line "$work/out" "PBX_HANDOFF_TO=support"
  expect_line "$work/out" "PBX_QUEUE=tier2"
  # Flags override the environment, which overrides the file.
  POLYAI_HANDOFF_VARIABLE_PREFIX=PBX_ run_cli 0 --id c7a9e2f0-1b3d-4c5e-8f7a-9b0c1d2e3f4a --config "$work/cli.ini" --set variable_prefix=FLAG_
  expect_line "$work/out" "FLAG_QUEUE=tier2"
  # The key from the environment alone.
  POLYAI_HANDOFF_API_KEY=sandbox-key run_cli 0 --shared-id acme-call-123 --base-url "$HANDOFF_TEST_BASE_URL" \
    --account-id acme --project-id PROJECT-support --format entries
  expect_line "$work/out" "handoff_to=billing"

  # Failures: the status as exit code, the reason on stderr, output still there.
  run_cli 5 --shared-id no-such-call "${flags[@]}"
  expect_line "$work/err" "polyai-handoff: not_found: Handoff state not found"
  expect_first_line "$work/out" "POLYAI_HANDOFF_STATUS=not_found"
  run_cli 5 --shared-id no-such-call "${flags[@]}" --quiet --format headers
  expect_empty "$work/err"
  expect_first_line "$work/out" "X-PolyAI-Handoff-Status: not_found$cr"
  run_cli 6 --shared-id fault-500 "${flags[@]}"
  expect_line "$work/err" "polyai-handoff: server_error: Internal error in handoff store"
  run_cli 7 --shared-id fault-slow "${flags[@]}" --timeout-ms 300
  expect_first_line "$work/out" "POLYAI_HANDOFF_STATUS=timeout"
  run_cli 4 --shared-id acme-call-123 --base-url "$HANDOFF_TEST_BASE_URL" --account-id acme \
    --project-id PROJECT-support --api-key-file "$work/wrong-key"
  expect_line "$work/err" "polyai-handoff: forbidden: Invalid API key"
  run_cli 1 --shared-id acme-call-123 "${flags[@]}" --region mars
  expect_grep "$work/err" "^polyai-handoff: invalid_argument: .*region"
  expect_first_line "$work/out" "POLYAI_HANDOFF_STATUS=invalid_argument"
  run_cli 1 --shared-id acme-call-123 "${flags[@]}" --set no_such_key=1
  expect_grep "$work/err" "no_such_key"
  run_cli 1 --shared-id acme-call-123 --base-url "$HANDOFF_TEST_BASE_URL" --account-id acme
  expect_grep "$work/err" "project_id"
  run_cli 1 --shared-id "" "${flags[@]}"
  POLYAI_HANDOFF_BOGUS=1 run_cli 1 --shared-id acme-call-123 "${flags[@]}"

  # Usage errors: 64, usage on stderr, nothing on stdout.
  run_cli 64 --shared-id acme-call-123 "${flags[@]}" --bogus
  expect_grep "$work/err" "usage:"
  expect_empty "$work/out"
  run_cli 64 "${flags[@]}"
  run_cli 64 --shared-id a --id b "${flags[@]}"
  run_cli 64 --shared-id acme-call-123 "${flags[@]}" --format xml
  run_cli 64 --shared-id acme-call-123 "${flags[@]}" extra-argument
  run_cli 64 --shared-id acme-call-123 "${flags[@]}" --set novalue
  run_cli 64 --shared-id acme-call-123 "${flags[@]}" --timeout-ms
  run_cli 64 --shared-id acme-call-123 --base-url "$HANDOFF_TEST_BASE_URL" --account-id acme \
    --project-id PROJECT-support --api-key sandbox-key
  run_cli 64 --shared-id acme-call-123 --base-url "$HANDOFF_TEST_BASE_URL" --account-id acme \
    --project-id PROJECT-support --api-key=sandbox-key
  run_cli 64 --shared-id acme-call-123 --base-url "$HANDOFF_TEST_BASE_URL" --account-id acme \
    --project-id PROJECT-support --set api_key=sandbox-key
  if grep -q sandbox-key "$work/err"; then cli_bad "--set api_key echoes the key"; else cli_ok; fi

  # reserve-dni: the number, the attributes as the sandbox got them (built
  # with escaping), the exit code per status, JSON output, usage errors.
  run_cli 0 reserve-dni --shared-id cli-reserve-1 "${flags[@]}" --attr caller=+442079460000 \
    --attr 'customer.note=say "hi"},{"x":1'
  expect_first_line "$work/out" "POLYAI_HANDOFF_STATUS=ok"
  expect_grep "$work/out" '^POLYAI_DNI=+[0-9][0-9]*$'
  sandbox_get() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "$1"; }
  sandbox_get "$HANDOFF_TEST_BASE_URL/_sandbox/dni-reservations" >"$work/reservations" 2>&1
  expect_grep "$work/reservations" '"shared_id":"cli-reserve-1"'
  expect_grep "$work/reservations" '"caller":"+442079460000"'
  expect_grep "$work/reservations" 'say \\"hi\\"},{\\"x\\":1'
  run_cli 0 reserve-dni --shared-id cli-reserve-2 "${flags[@]}" --attributes-json '{"lang":"en"}' --format json
  expect_grep "$work/out" '^{"status":"ok","http_status":200,"dni":"+[0-9]*","error":""}$'
  run_cli 9 reserve-dni --shared-id dni-hostile-uri "${flags[@]}" --quiet
  expect_line "$work/out" "POLYAI_HANDOFF_STATUS=protocol"
  if grep -q evil "$work/out"; then cli_bad "reserve-dni printed a hostile dni"; else cli_ok; fi
  run_cli 1 reserve-dni --shared-id cli-reserve-3 "${flags[@]}" --attributes-json '[1]'
  expect_grep "$work/err" "must be a JSON object"
  run_cli 64 reserve-dni --shared-id x "${flags[@]}" --attr a=1 --attributes-json '{}'
  run_cli 64 reserve-dni --id x "${flags[@]}"
  run_cli 64 --shared-id x "${flags[@]}" --attr a=1
  run_cli 64 reserve-dni --shared-id x "${flags[@]}" --attr 'a..b=1'
  run_cli 64 reserve-dni --shared-id x "${flags[@]}" --set dni_api_key=secret-dni-9
  if grep -q secret-dni-9 "$work/err"; then cli_bad "--set dni_api_key echoes the key"; else cli_ok; fi

  run_cli 0 --help
  expect_grep "$work/out" "usage:"
  expect_grep "$work/out" "not_found"
  expect_grep "$work/out" "64"
  run_cli 0 --version
  expect_grep "$work/out" "1\.2\.0"

  if [ "$cli_failures" = 0 ]; then
    pass cli "$cli_checks checks"
  else
    fail cli "$cli_failures of $cli_checks checks failed" "$cli_log"
  fi
fi

# ------------------------------------------------------------ ABI baseline

# The 1.0 interface kept (abi-check.sh), and the check itself able to fail:
# against a baseline with one more symbol (as if it had been removed), and
# a 1.0 header whose enumerator has another value.
if ! wanted abi-baseline; then
  :
elif [ "${SKIP_EXPORTS:-0}" = 1 ]; then
  printf 'SKIP %-22s %s
' abi-baseline "SKIP_EXPORTS=1 (not the product build)"
elif ! command -v abidiff >/dev/null 2>&1; then
  fail abi-baseline "abidiff is not installed (abigail-tools)"
else
  LIB_DIR="$LIB_DIR" INCLUDE_DIR="$INCLUDE_DIR" "$here/abi-check.sh" >"$work/abi-check.log" 2>&1
  rc=$?
  mkdir -p "$work/removed" "$work/renumbered"
  sed 's|<elf-symbol name=.handoff_client_free.|<elf-symbol name='"'"'handoff_gone'"'"' version='"'"'HANDOFF_1.0'"'"' is-default-version='"'"'yes'"'"' type='"'"'func-type'"'"' binding='"'"'global-binding'"'"' visibility='"'"'protected-visibility'"'"' is-defined='"'"'yes'"'"'/>\n    &|' \
    "$here/baseline/libpolyai_handoff-1.0.abi" >"$work/removed/libpolyai_handoff-1.0.abi"
  cp "$here/baseline/polyai_handoff-1.0.h" "$work/removed/"
  cp "$here/baseline/libpolyai_handoff-1.0.abi" "$work/renumbered/"
  sed 's/HANDOFF_OK = 0,/HANDOFF_OK = 100,/' "$here/baseline/polyai_handoff-1.0.h" >"$work/renumbered/polyai_handoff-1.0.h"
  ABI_BASELINE_DIR=$work/removed LIB_DIR="$LIB_DIR" INCLUDE_DIR="$INCLUDE_DIR" "$here/abi-check.sh" >"$work/abi-removed.log" 2>&1
  removed_rc=$?
  ABI_BASELINE_DIR=$work/renumbered LIB_DIR="$LIB_DIR" INCLUDE_DIR="$INCLUDE_DIR" "$here/abi-check.sh" >"$work/abi-renumbered.log" 2>&1
  renumbered_rc=$?
  if [ "$rc" = 0 ] && [ "$removed_rc" != 0 ] && grep -q handoff_gone "$work/abi-removed.log" && [ "$renumbered_rc" != 0 ]; then
    pass abi-baseline "$(tail -n 1 "$work/abi-check.log"); a removed symbol and a renumbered enumerator are caught"
  else
    cat "$work/abi-removed.log" "$work/abi-renumbered.log" >>"$work/abi-check.log"
    fail abi-baseline "abi-check exit $rc (removed: $removed_rc, renumbered: $renumbered_rc; want 0, non-zero, non-zero)" "$work/abi-check.log"
  fi
fi

# ---------------------------------------------------------------- exports

if ! wanted exports; then
  :
elif [ "${SKIP_EXPORTS:-0}" = 1 ]; then
  printf 'SKIP %-22s %s\n' exports "SKIP_EXPORTS=1 (not the product build)"
elif LIB_DIR="$LIB_DIR" INCLUDE_DIR="$INCLUDE_DIR" "$here/exports.sh" >"$work/exports.log" 2>&1; then
  pass exports "$(tail -n 1 "$work/exports.log" | sed 's/^exports: //')"
else
  fail exports "the exports, soname or dependencies are wrong" "$work/exports.log"
fi

# --------------------------------------------------------------- valgrind

# --fair-sched: valgrind runs one thread at a time, and its default lock let
# a busy thread starve the others past their deadlines (test_threads, CI).
valgrind_cmd="valgrind --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$work/vg.%p.log"

# vg_check NAME EXPECTED_EXIT COMMAND...: runs COMMAND, which runs its test
# under $valgrind_cmd, and fails on any memcheck error (exit 99), a definite
# leak, or no valgrind log at all (valgrind never ran).
vg_check() {
  local name=$1 expected=$2 rc lost
  shift 2
  rm -f "$work"/vg.*.log
  start=$(date +%s%N)
  HANDOFF_TEST_ITERATIONS=5 HANDOFF_TEST_TIME_SCALE=20 timeout 600 "$@" >"$work/vg.out" 2>&1
  rc=$?
  cat "$work/vg.out" "$work"/vg.*.log >"$work/vg-$name.log" 2>/dev/null
  lost=$(grep -h 'definitely lost:' "$work"/vg.*.log 2>/dev/null | grep -v 'definitely lost: 0 bytes')
  if [ "$rc" = "$expected" ] && [ -z "$lost" ] && ls "$work"/vg.*.log >/dev/null 2>&1; then
    pass "valgrind $name" "no errors, no definite leaks ($(elapsed_since "$start"))"
  else
    fail "valgrind $name" "exit $rc (expected $expected)${lost:+, definitely lost}" "$work/vg-$name.log"
  fi
}

# vg NAME EXPECTED_EXIT COMMAND...: COMMAND itself under valgrind.
vg() {
  local name=$1 expected=$2
  shift 2
  # shellcheck disable=SC2086 # the command's words
  vg_check "$name" "$expected" $valgrind_cmd "$@"
}

if [ "$VALGRIND" = 1 ]; then
  if ! command -v valgrind >/dev/null 2>&1; then
    fail valgrind "VALGRIND=1 but valgrind is not installed"
  else
    for t in test_lookup test_threads test_fork test_proxy_env test_secrets test_queue test_reservation test_hedge; do
      [ -x "$work/$t" ] && vg "$t" 0 "$work/$t"
    done
    # TLS through OpenSSL and the shared trust store, behind nginx; kept-alive
    # connections the server closes.
    for t in test_tls test_connections test_warm; do
      [ -x "$work/$t" ] &&
        vg_check "$t" 0 env TEST_WRAPPER="$valgrind_cmd" bash "$here/tls_front.sh" "$work/$t"
    done
    # Sockets bound to an address or an interface, both address families.
    [ -x "$work/test_egress_netns" ] && case $skipped in *" test_egress_netns "*) false ;; esac &&
      vg_check test_egress_netns 0 env TEST_WRAPPER="$valgrind_cmd" bash "$here/netns_front.sh" "$work/test_egress_netns"
    # The soak keeps its full 10,000 lookups under valgrind.
    [ -x "$work/test_soak" ] && HANDOFF_TEST_SOAK=10000 vg test_soak 0 "$work/test_soak"
    if [ "$cli_build_failed" = 0 ]; then
      vg cli 0 "$CLI" --shared-id acme-call-123 "${flags[@]}" --format json
      vg cli-not-found 5 "$CLI" --shared-id no-such-call "${flags[@]}" --format headers --quiet
      vg cli-usage 64 "$CLI" --bogus
    fi
  fi
fi

echo "abi: $passed passed, $failed failed"
[ "$failed" = 0 ]

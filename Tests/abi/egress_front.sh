#!/usr/bin/env bash
# Runs test_egress (path in $1): starts three tinyproxy instances on loopback
# (open, with Basic authentication, and one that refuses every CONNECT),
# then the test through tls_front.sh (nginx with TLS in front of the
# sandbox). Exports each proxy's URL and log file, and the credentials
# file. Exit 3: tinyproxy is not installed (a SKIP).
set -u
binary=$1
here=$(cd "$(dirname "$0")" && pwd)
TINYPROXY=$(command -v tinyproxy || echo /usr/bin/tinyproxy)
[ -x "$TINYPROXY" ] || { echo "egress_front: tinyproxy is not installed" >&2; exit 3; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/handoff-egress.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
# shellcheck source=../../scripts/free-port.sh
. "$here/../../scripts/free-port.sh"

# start_proxy NAME EXTRA_CONFIG: a foreground tinyproxy on a free port; its
# port in $port. Retries on another port if one was taken meanwhile.
start_proxy() {
  local name=$1 extra=$2 attempt pid
  for attempt in 1 2 3 4 5; do
    port=$(pick_tcp_port) || return 1
    cat >"$dir/$name.conf" <<CONF
Port $port
Listen 127.0.0.1
Timeout 60
LogFile "$dir/$name.log"
LogLevel Connect
MaxClients 64
Allow 127.0.0.0/8
DisableViaHeader Yes
$extra
CONF
    : >"$dir/$name.log"
    "$TINYPROXY" -d -c "$dir/$name.conf" >"$dir/$name.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      tcp_port_in_use "$port" && { pids+=("$pid"); return 0; }
      sleep 0.05
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    echo "egress_front: $name did not listen on $port (attempt $attempt)" >&2
    cat "$dir/$name.out" >&2
  done
  return 1
}

start_proxy open "" || exit 2
export HANDOFF_TEST_PROXY_URL=http://127.0.0.1:$port HANDOFF_TEST_PROXY_LOG=$dir/open.log
start_proxy auth "BasicAuth handoff s3cret-proxy-pass" || exit 2
export HANDOFF_TEST_AUTH_PROXY_URL=http://127.0.0.1:$port HANDOFF_TEST_AUTH_PROXY_LOG=$dir/auth.log
# Only port 1 may be tunnelled to: every CONNECT the test makes is refused.
start_proxy refusing "ConnectPort 1" || exit 2
export HANDOFF_TEST_REFUSING_PROXY_URL=http://127.0.0.1:$port
printf 'handoff:s3cret-proxy-pass\n' >"$dir/proxy-auth"
chmod 600 "$dir/proxy-auth"
export HANDOFF_TEST_PROXY_AUTH_FILE=$dir/proxy-auth
bash "$here/tls_front.sh" "$binary"

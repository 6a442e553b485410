# Shared by e2e.sh and bench.sh: paths, free ports, and the processes they
# start (sandbox, Kamailio, SIPp), all on 127.0.0.1 and all stopped on exit.
# shellcheck shell=bash disable=SC2034

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LIB_DIR=${LIB_DIR:-$REPO/build/lib}
INCLUDE_DIR=${INCLUDE_DIR:-$REPO/include}
SANDBOX=${SANDBOX:-$REPO/build/bin/polyai-handoff-sandbox}
FIXTURES=${FIXTURES:-$REPO/Sources/Sandbox/fixtures.json}
BUILD_DIR=${KAMAILIO_BUILD_DIR:-$REPO/build/kamailio}
export LIB_DIR INCLUDE_DIR KAMAILIO_BUILD_DIR=$BUILD_DIR

KAMAILIO_MODULES=$(kamailio -I 2>/dev/null | sed -n 's/^ *Default paths to modules: *//p')
KAMAILIO_MODULES=${KAMAILIO_MODULES:-/usr/lib/x86_64-linux-gnu/kamailio/modules}

STARTED_PIDS=()

log() { echo "$(basename "$0" .sh): $*" >&2; }
die() { log "$*"; exit 2; }

# Stops what this script started, by pid, children first.
stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    # Kamailio's main process takes its workers down with it.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}

check_inputs() {
  [ -x "$SANDBOX" ] || die "SANDBOX=$SANDBOX is not an executable (make sandbox)"
  [ -f "$FIXTURES" ] || die "FIXTURES=$FIXTURES not found"
  [ -e "$LIB_DIR/libpolyai_handoff.so.1" ] || die "no libpolyai_handoff.so.1 in LIB_DIR=$LIB_DIR (make lib)"
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

port_in_use() { # proto port
  [ -n "$(ss -Hln"${1:0:1}" "sport = :$2" 2>/dev/null)" ]
}

# A free UDP port that no earlier call of this script handed out.
TAKEN_PORTS=" "
free_udp_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 20000))
    case $TAKEN_PORTS in *" $p "*) continue ;; esac
    port_in_use u "$p" && continue
    TAKEN_PORTS="$TAKEN_PORTS$p "
    echo "$p"
    return 0
  done
  die "no free UDP port"
}

wait_udp_port() { # port pid what
  for _ in $(seq 100); do
    port_in_use u "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# start_sandbox DIR [FIXTURES_FILE]: sets SANDBOX_URL and BLACKHOLE_URL.
start_sandbox() {
  local dir=$1 fixtures=${2:-$FIXTURES} pid
  rm -f "$dir/sandbox.port" "$dir/blackhole.port"
  "$SANDBOX" --fixtures "$fixtures" --port 0 --port-file "$dir/sandbox.port" \
    --blackhole-port-file "$dir/blackhole.port" >"$dir/sandbox.log" 2>&1 &
  pid=$!
  STARTED_PIDS+=("$pid")
  SANDBOX_PID=$pid
  for _ in $(seq 100); do
    if [ -s "$dir/sandbox.port" ] && [ -s "$dir/blackhole.port" ]; then
      SANDBOX_URL="http://127.0.0.1:$(head -n1 "$dir/sandbox.port")"
      BLACKHOLE_URL="http://127.0.0.1:$(head -n1 "$dir/blackhole.port")"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/sandbox.log" >&2
  die "the sandbox did not start"
}

# start_kamailio LOGFILE PORT CFG [-A define]...: Kamailio in the foreground
# (-DD), logging to LOGFILE, with our module's dir first in its module path.
start_kamailio() {
  local logfile=$1 port=$2 cfg=$3 pid
  shift 3
  LD_LIBRARY_PATH="$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    kamailio -f "$cfg" -DD -E -L "$BUILD_DIR/modules:$KAMAILIO_MODULES" \
    -Y "$(dirname "$logfile")" -w "$(dirname "$logfile")" -m "${KAMAILIO_SHM_MB:-256}" -M 16 \
    -A "LISTEN=udp:127.0.0.1:$port" "$@" >"$logfile" 2>&1 &
  pid=$!
  STARTED_PIDS+=("$pid")
  KAMAILIO_PID=$pid
  if ! wait_udp_port "$port" "$pid"; then
    tail -n 30 "$logfile" >&2
    die "kamailio did not start ($cfg)"
  fi
  # The socket is bound before the workers fork; give them a moment.
  sleep 0.5
  kill -0 "$pid" 2>/dev/null || { tail -n 30 "$logfile" >&2; die "kamailio exited ($cfg)"; }
}

# The library's settings for the module, in its own ini format.
write_polyai_conf() { # file base_url key_file [extra "key = value" lines...]
  local file=$1 url=$2 keyfile=$3
  shift 3
  {
    echo "base_url = $url"
    echo "account_id = acme"
    echo "project_id = PROJECT-support"
    echo "api_key_file = $keyfile"
    local line
    for line in "$@"; do echo "$line"; done
  } >"$file"
}

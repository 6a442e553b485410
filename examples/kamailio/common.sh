# Shared by e2e.sh and bench.sh: paths, free ports, and the processes they
# start (sandbox, Kamailio, SIPp), all on 127.0.0.1 and all stopped on exit.
# Every wait is bounded and waits for a state it can see (a port held by
# the process, a file written), never for a fixed time.
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

# shellcheck source=../../scripts/free-port.sh
. "$REPO/scripts/free-port.sh"

# A free UDP port (below the kernel's ephemeral range) that no earlier call
# of this script handed out. Another process may still bind it first: the
# starts below check that their own process holds it.
TAKEN_PORTS=" "
free_udp_port() {
  local p
  for _ in $(seq 200); do
    p=$(pick_udp_port) || break
    case $TAKEN_PORTS in *" $p "*) continue ;; esac
    TAKEN_PORTS="$TAKEN_PORTS$p "
    echo "$p"
    return 0
  done
  die "no free UDP port"
}

# udp_port_held_by PORT PID: PID (or a process that shares its socket, as
# Kamailio's workers do) has a UDP socket bound to PORT.
udp_port_held_by() {
  ss -Hlnup "sport = :$1" 2>/dev/null | grep -q "pid=$2,"
}

# poll_while_alive TRIES PID COMMAND...: runs COMMAND every 0.1 s until it
# succeeds; fails once PID has exited or after TRIES tries.
poll_while_alive() {
  local tries=$1 pid=$2
  shift 2
  for _ in $(seq "$tries"); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# wait_udp_port PORT PID: waits up to 10 s for PID to bind PORT; fails at
# once if PID exits (a port someone else took makes it exit).
wait_udp_port() { poll_while_alive 100 "$2" udp_port_held_by "$1" "$2"; }

# kamailio_up LOGFILE PID: Kamailio has forked every process it announced
# ("processes (at least): N", the main one included, logged before the first
# fork): its SIP workers are past child_init, where our module makes its
# client and a failure stops Kamailio. Below debug=2 (bench.cfg) that line is
# not logged: then its first forked process.
kamailio_up() {
  local want children
  children=$(pgrep -c -P "$2")
  [ "$children" -ge 1 ] || return 1
  want=$(sed -n 's/.*processes (at least): \([0-9]*\).*/\1/p' "$1" | head -n 1)
  [ -z "$want" ] || [ "$children" -ge $((want - 1)) ]
}

# wait_kamailio LOGFILE PORT PID: waits up to 20 s for Kamailio PID to hold
# PORT and be up (kamailio_up); fails at once if it exits.
wait_kamailio() {
  wait_udp_port "$2" "$3" && poll_while_alive 200 "$3" kamailio_up "$1" "$3"
}

# start_sandbox DIR [FIXTURES_FILE [SANDBOX_OPTION]...]: sets SANDBOX_URL,
# BLACKHOLE_URL and SANDBOX_PID.
start_sandbox() {
  local dir=$1 fixtures=${2:-$FIXTURES} pid
  shift $(($# < 2 ? $# : 2))
  rm -f "$dir/sandbox.port" "$dir/blackhole.port"
  "$SANDBOX" --fixtures "$fixtures" --port 0 --port-file "$dir/sandbox.port" \
    --blackhole-port-file "$dir/blackhole.port" "$@" >"$dir/sandbox.log" 2>&1 &
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
# (-DD), logging to LOGFILE, with our module's dir first in its module path,
# listening on udp:127.0.0.1:PORT. PORT may instead be the name of a variable
# (e.g. KAM_PORT): then a free port is picked into it, and if Kamailio cannot
# hold it (another process bound it first) the start is retried on a new one,
# three times in all.
start_kamailio() {
  local logfile=$1 port=$2 cfg=$3 var="" pid attempt
  shift 3
  case $port in *[!0-9]*) var=$port ;; esac
  for attempt in 1 2 3; do
    [ -z "$var" ] || { port=$(free_udp_port); printf -v "$var" %s "$port"; }
    LD_LIBRARY_PATH="$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
      kamailio -f "$cfg" -DD -E -L "$BUILD_DIR/modules:$KAMAILIO_MODULES" \
      -Y "$(dirname "$logfile")" -w "$(dirname "$logfile")" -m "${KAMAILIO_SHM_MB:-256}" -M 16 \
      -A "LISTEN=udp:127.0.0.1:$port" "$@" >"$logfile" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    KAMAILIO_PID=$pid
    wait_kamailio "$logfile" "$port" "$pid" && return 0
    [ -n "$var" ] && ! kill -0 "$pid" 2>/dev/null && grep -q "Address already in use" "$logfile" || break
    log "udp port $port was taken (attempt $attempt); starting again on another"
    wait "$pid" 2>/dev/null
  done
  tail -n 30 "$logfile" >&2
  die "kamailio did not start ($cfg)"
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

# Sourced by scripts that run nginx on loopback or in a network namespace of
# their own (Tests/abi/tls_front.sh, Tests/abi/netns_front.sh, bench/run.sh),
# after scripts/free-port.sh. Sets no shell options: it runs
# under its caller's, and checks every step itself.

# nginx_start NGINX DIR RENDER READY VAR...: picks a distinct free port into
# each VAR, calls RENDER (which writes DIR/nginx.conf from those ports, with
# "pid DIR/nginx.pid;" and "daemon off;"), starts NGINX in the foreground of a
# background job with its logs in DIR, and waits up to 10 s until it is up:
# nginx writes its pid file only once it has bound every listen socket, so a
# port another process took in the meantime (nginx then exits) is never
# mistaken for ours; then READY must succeed too. On failure it starts again
# on new ports, three times in all. Sets NGINX_PID as soon as nginx runs, for
# the caller's cleanup; on failure prints nginx's logs and returns 1.
# (The VARs are set with printf -v: they must not share a name with its locals.)
nginx_start() {
  local nginx=$1 dir=$2 render=$3 ready=$4 attempt var port taken
  shift 4
  for attempt in 1 2 3; do
    taken=" "
    for var in "$@"; do
      for _ in $(seq 1 20); do
        port=$(pick_tcp_port) || { echo "nginx_start: no free port" >&2; return 1; }
        case $taken in *" $port "*) continue ;; esac
        break
      done
      taken="$taken$port "
      printf -v "$var" %s "$port"
    done
    "$render" || return 1
    rm -f "$dir/nginx.pid"
    "$nginx" -c "$dir/nginx.conf" -p "$dir" -e "$dir/nginx-error.log" >"$dir/nginx.out" 2>&1 &
    NGINX_PID=$!
    for _ in $(seq 1 100); do
      if [ "$(cat "$dir/nginx.pid" 2>/dev/null)" = "$NGINX_PID" ] && "$ready"; then return 0; fi
      kill -0 "$NGINX_PID" 2>/dev/null || break
      sleep 0.1
    done
    echo "nginx_start: nginx did not start (attempt $attempt)" >&2
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=
  done
  cat "$dir/nginx-error.log" "$dir/nginx.out" >&2 2>/dev/null || true
  return 1
}

# nginx_stop: stops the nginx that nginx_start started (NGINX_PID), if any. A
# graceful stop (QUIT) waits for open requests, such as a stall proxied for
# 120 s: 5 s of it, then a fast one (TERM, which still stops the workers), and
# KILL only if that hangs too.
nginx_stop() {
  local signal
  [ -n "${NGINX_PID:-}" ] || return 0
  for signal in QUIT TERM KILL; do
    kill -"$signal" "$NGINX_PID" 2>/dev/null || break
    for _ in $(seq 1 50); do kill -0 "$NGINX_PID" 2>/dev/null || break 2; sleep 0.1; done
  done
  wait "$NGINX_PID" 2>/dev/null || true
  NGINX_PID=
}

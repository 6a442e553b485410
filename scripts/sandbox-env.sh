# Sourced by scripts and tests: starts the sandbox on a free loopback port and
# stops it when the calling shell exits. Needs SANDBOX_BIN and FIXTURES set.
SANDBOX_DIR=$(mktemp -d)
"$SANDBOX_BIN" --fixtures "$FIXTURES" --port 0 --port-file "$SANDBOX_DIR/port" \
  --blackhole-port-file "$SANDBOX_DIR/blackhole" >"$SANDBOX_DIR/log" 2>&1 &
SANDBOX_PID=$!
trap 'kill $SANDBOX_PID 2>/dev/null; wait $SANDBOX_PID 2>/dev/null; rm -rf "$SANDBOX_DIR"' EXIT
for _ in $(seq 1 300); do
  [ -s "$SANDBOX_DIR/port" ] && break
  kill -0 $SANDBOX_PID 2>/dev/null || { cat "$SANDBOX_DIR/log" >&2; echo "sandbox exited" >&2; exit 1; }
  sleep 0.1
done
[ -s "$SANDBOX_DIR/port" ] || { echo "sandbox did not start" >&2; exit 1; }
SANDBOX_PORT=$(cat "$SANDBOX_DIR/port")
SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"

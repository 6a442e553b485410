#!/usr/bin/env bash
# The main job: start the bundled sandbox, look up a real handoff through the
# C CLI (which goes through libpolyai_handoff.so), print what a PBX would get.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SANDBOX_BIN=$BUILD/bin/polyai-handoff-sandbox
FIXTURES=Sources/Sandbox/fixtures.json
. scripts/sandbox-env.sh

cat > "$SANDBOX_DIR/handoff.conf" <<CONF
# What a PBX would have in /etc/polyai-handoff.conf
base_url     = $SANDBOX_URL
account_id   = acme
project_id   = PROJECT-support
api_key_file = $SANDBOX_DIR/api_key
timeout_ms   = 1000
CONF
echo sandbox-key > "$SANDBOX_DIR/api_key"

echo "== sandbox on $SANDBOX_URL; looking up shared_id acme-call-123"
echo "== as SIP headers (for Kamailio append_hf / Asterisk PJSIP_HEADER):"
"$BUILD/bin/polyai-handoff" --config "$SANDBOX_DIR/handoff.conf" --shared-id acme-call-123 --format headers | tr -d '\r'
echo "== as channel variables:"
"$BUILD/bin/polyai-handoff" --config "$SANDBOX_DIR/handoff.conf" --shared-id acme-call-123 --format vars
echo "== an unknown call still tells the dialplan why (exit code 5 = not_found):"
set +e
"$BUILD/bin/polyai-handoff" --config "$SANDBOX_DIR/handoff.conf" --shared-id no-such-call --format vars
echo "exit code: $?"

#!/usr/bin/env bash
# Tests/deb/run.sh DEBS: the packages as an operator meets them.
#  1. lintian: no error, and no warning but the overridden ones the README
#     explains;
#  2. a new Debian 12 root (mmdebstrap, from the archive this host uses) in
#     which `apt-get install ./*.deb` installs them and what they depend on;
#  3. in it: the key's place (owner, group, modes), the CLI against the
#     packaged sandbox, a program built with the -dev package's pkg-config
#     file, Kamailio (as user kamailio) with the packaged module and example
#     config routing one SIPp call, and a purge.
# Needs root (chroot, mounts in a namespace of its own; skipped otherwise)
# and the Debian archive, as `make deps` does. Every process it starts is
# stopped by pid.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
debs=$(cd "${1:?usage: Tests/deb/run.sh DEBS_DIR}" && pwd)
# shellcheck source=../../examples/kamailio/common.sh
. "$repo/examples/kamailio/common.sh"

# `make test` runs this where it can: as root (CI is).
if [ "$(id -u)" != 0 ]; then echo "deb: skipped: needs root (chroot, mounts)"; exit 0; fi
for p in lintian mmdebstrap sip-tester; do
  dpkg -s "$p" >/dev/null 2>&1 || { echo "deb: needs the Debian package $p (make deps)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/polyai-deb.XXXXXX)
root=$work/root
passed=0 failed=0
check() { # description command...
  local what=$1
  shift
  if "$@" >>"$work/checks.log" 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what" >&2; fi
}
# KEEP=1 leaves the root and the logs for a look after a failure.
cleanup() {
  stop_started
  # --one-file-system: never into a mount left behind in the root.
  if [ "${KEEP:-0}" = 1 ]; then echo "deb: kept $work" >&2; else rm -rf --one-file-system "$work"; fi
}
trap cleanup EXIT

# --- 1. lintian
lintian --fail-on error,warning --pedantic "$debs"/*.deb >"$work/lintian.log" 2>&1 || true
check "lintian: no error or warning ($(grep -cE '^[EW]:' "$work/lintian.log") found)" \
  bash -c "! grep -E '^[EW]:' '$work/lintian.log' >&2"
grep -E '^[EW]:' "$work/lintian.log" >&2 || true

# --- 2. a new root with the packages installed by apt
echo "deb: a Debian $(cut -d. -f1 /etc/debian_version) root with $(ls "$debs"/*.deb | wc -l) packages (mmdebstrap)" >&2
mkdir -p "$work/in"
cp "$debs"/*.deb "$work/in/"
if ! timeout 1200 mmdebstrap --mode=root --variant=apt --aptopt='Acquire::Retries "3"' \
  --customize-hook="copy-in $(printf '%s ' "$work"/in/*.deb) /tmp" \
  --customize-hook='chroot "$1" sh -c "apt-get install -y -q /tmp/*.deb && rm /tmp/*.deb"' \
  "$(. /etc/os-release && echo "$VERSION_CODENAME")" "$root" >"$work/mmdebstrap.log" 2>&1; then
  tail -n 30 "$work/mmdebstrap.log" >&2
  echo "deb: 0 passed, 1 failed"
  exit 1
fi
passed=$((passed + 1))

# A command in the root: /proc and /dev mounted in a mount namespace of its
# own, so nothing stays mounted when it ends.
in_root_script='mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" && exec chroot "$0" "$@"'
in_root() { unshare --mount --propagation private -- bash -c "$in_root_script" "$root" "$@"; }
# start_in_root LOG command...: the same in the background, output to LOG.
# Started from this shell (not a subshell) and exec'd all the way, so $! is
# the command's own pid: the one to wait for, check and stop.
start_in_root() {
  local log=$1
  shift
  unshare --mount --propagation private -- bash -c "$in_root_script" "$root" "$@" >"$log" 2>&1 &
}
as_user() { local user=$1; shift; in_root setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"; }

for name in libpolyai-handoff1 libpolyai-handoff-dev polyai-handoff-tools kamailio-polyai-handoff-module; do
  check "$name installed" in_root dpkg-query -W -f='${Status}\n' "$name"
done
is_conffile() { in_root dpkg-query -W -f='${Conffiles}' polyai-handoff-tools | grep -q "^ $1 "; }
check "/etc/polyai-handoff.conf is a conffile" is_conffile /etc/polyai-handoff.conf
# Names as the root knows them (its kamailio group is not the host's).
owned() { [ "$(in_root stat -c %U:%G:%a "$1")" = "$2" ]; }
check "the key's folder: root:kamailio 0750" owned /etc/polyai-handoff root:kamailio:750
check "the key file: root:kamailio 0640" owned /etc/polyai-handoff/api_key root:kamailio:640
all_found() { ! in_root ldd "$@" | grep 'not found'; }
check "no Swift runtime needed (ldd)" all_found /usr/bin/polyai-handoff-sandbox /usr/bin/polyai-handoff
for page in man1/polyai-handoff.1 man1/polyai-handoff-sandbox.1 man3/libpolyai_handoff.3; do
  check "man page $page" test -f "$root/usr/share/man/$page.gz"
done

# --- 3. the packaged sandbox, the CLI, the configuration
start_in_root "$work/sandbox.log" polyai-handoff-sandbox --fixtures /usr/share/polyai-handoff/fixtures.json \
  --port 0 --port-file /tmp/sandbox.port
sandbox_pid=$!
STARTED_PIDS+=("$sandbox_pid")
poll_while_alive 100 "$sandbox_pid" test -s "$root/tmp/sandbox.port" || { cat "$work/sandbox.log" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$root/tmp/sandbox.port")"

# The operator's edits: the conffile and the key.
cat >>"$root/etc/polyai-handoff.conf" <<EOF
base_url = $url
account_id = acme
project_id = PROJECT-support
api_key_file = /etc/polyai-handoff/api_key
EOF
echo sandbox-key >"$root/etc/polyai-handoff/api_key"
cli() { in_root polyai-handoff --config /etc/polyai-handoff.conf --shared-id acme-call-123 "$@"; }
cli_finds_acme() { cli | grep -qx POLYAI_CUSTOMER_ID=12345; }
check "the CLI finds acme-call-123" cli_finds_acme
check "group kamailio reads the key" as_user kamailio polyai-handoff --config /etc/polyai-handoff.conf \
  --shared-id acme-call-123 --quiet
others_refused() {
  local rc=0
  as_user nobody polyai-handoff --config /etc/polyai-handoff.conf --shared-id acme-call-123 --quiet || rc=$?
  [ "$rc" = 1 ]
}
check "others cannot read it (exit 1, invalid_argument)" others_refused

# The -dev package: README's example built with its pkg-config file.
export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/pkgconfig
check "pkg-config polyai-handoff" pkg-config --exists polyai-handoff
# shellcheck disable=SC2046
check "examples/lookup.c builds against the -dev package" \
  cc -std=c99 -Wall -Werror "$repo/examples/lookup.c" $(pkg-config --cflags --libs polyai-handoff) -o "$root/tmp/lookup"
example_finds_acme() {
  in_root env POLYAI_HANDOFF_BASE_URL="$url" POLYAI_HANDOFF_ACCOUNT_ID=acme POLYAI_HANDOFF_PROJECT_ID=PROJECT-support \
    POLYAI_HANDOFF_API_KEY=sandbox-key /tmp/lookup acme-call-123 | grep -qx 'status: ok '
}
check "and looks up in the root" example_finds_acme

# --- Kamailio as the package runs it: user kamailio, the example config
mkdir -p "$root/tmp/kamailio"
# The root's kamailio user, not the host's (their uids differ).
in_root chown kamailio:kamailio /tmp/kamailio
# A port another process takes first makes SIPp exit: then another one.
uas_port="" uas_pid=""
for attempt in 1 2 3; do
  uas_port=$(free_udp_port)
  sipp -sf "$here/uas.xml" -i 127.0.0.1 -p "$uas_port" -m 1 -timeout 60 -timeout_error -nostdin \
    -trace_err -error_file "$work/uas.err" >"$work/uas.out" 2>&1 &
  uas_pid=$!
  STARTED_PIDS+=("$uas_pid")
  wait_udp_port "$uas_port" "$uas_pid" && break
done
check "the UAS listens" wait_udp_port "$uas_port" "$uas_pid"
kam_port="" kam_pid=""
for attempt in 1 2 3; do
  kam_port=$(free_udp_port)
  start_in_root "$work/kamailio.log" kamailio -f /usr/share/doc/kamailio-polyai-handoff-module/examples/kamailio.cfg \
    -DD -E -u kamailio -g kamailio -Y /tmp/kamailio -w /tmp/kamailio -m 64 -M 8 \
    -A "LISTEN=udp:127.0.0.1:$kam_port" -A "QUEUE_HOST=\"127.0.0.1:$uas_port\"" -A WORKERS=2
  kam_pid=$!
  STARTED_PIDS+=("$kam_pid")
  wait_kamailio "$work/kamailio.log" "$kam_port" "$kam_pid" && break
  kill -0 "$kam_pid" 2>/dev/null || ! grep -q "Address already in use" "$work/kamailio.log" || continue
  break
done
check "Kamailio starts with the packaged module and config" wait_kamailio "$work/kamailio.log" "$kam_port" "$kam_pid"
# By uid: the root's kamailio user is not the host's.
workers_are() { [ "$(ps -o uid= --ppid "$kam_pid" | tr -d ' ' | sort -u)" = "$(in_root id -u "$1")" ]; }
check "Kamailio's workers run as kamailio" workers_are kamailio
check "one SIPp call routed to billing with its X-PolyAI-* headers" \
  timeout 120 sipp -sf "$here/uac.xml" -i 127.0.0.1 "127.0.0.1:$kam_port" -m 1 -timeout 60 -timeout_error -nostdin
# It ends after the ACK (or its -timeout): 0 only if every ereg matched.
uas_rc=0
wait "$uas_pid" || uas_rc=$?
check "the UAS's checks passed" test "$uas_rc" = 0
[ "$uas_rc" = 0 ] || { cat "$work/uas.err" "$work/uas.out" >&2; tail -n 20 "$work/kamailio.log" >&2; }
stop_started

# --- purge: the conffile and the key this package made go
check "purge polyai-handoff-tools" in_root apt-get purge -y -q polyai-handoff-tools
check "the conffile is gone" test ! -e "$root/etc/polyai-handoff.conf"
check "the key file is gone" test ! -e "$root/etc/polyai-handoff/api_key"
check "the library stays" test -e "$root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libpolyai_handoff.so.1"

echo "deb: $passed passed, $failed failed"
[ "$failed" = 0 ]

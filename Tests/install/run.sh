#!/usr/bin/env bash
# `make install` into a scratch DESTDIR, then what an integrator does: build
# examples/lookup.c with pkg-config, run it against the sandbox, and dlopen the
# library by its soname; man finds the installed pages, and Tests/man/run.sh
# checks them and man/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
stage=$(mktemp -d)
passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $*"; fi; }

make -s install PREFIX=/usr DESTDIR="$stage" >/dev/null
lib=$stage/usr/lib
check test -f "$lib/libpolyai_handoff.so.1.2.0"
check test "$(readlink "$lib/libpolyai_handoff.so.1")" = libpolyai_handoff.so.1.2.0
check test "$(readlink "$lib/libpolyai_handoff.so")" = libpolyai_handoff.so.1
check test -f "$stage/usr/include/polyai_handoff.h"
check test -x "$stage/usr/bin/polyai-handoff"
check test -x "$stage/usr/bin/polyai-handoff-sandbox"
check test -f "$stage/usr/share/polyai-handoff/fixtures.json"
man=$stage/usr/share/man
for page in man1/polyai-handoff.1 man1/polyai-handoff-sandbox.1 man3/libpolyai_handoff.3; do
  check test -f "$man/$page.gz"
  name=${page#*/}
  check test "$(man -M "$man" -w "${name%.*}")" = "$man/$page.gz"
done
# The paths of PREFIX=/usr, not the source's /usr/local.
check grep -q '^\.It Pa /usr/include/polyai_handoff\.h$' <(zcat "$man/man3/libpolyai_handoff.3.gz")
check grep -q '^\.It Pa /usr/lib/pkgconfig/polyai-handoff\.pc$' <(zcat "$man/man3/libpolyai_handoff.3.gz")
check test "$(zcat "$man"/man*/*.gz | grep -c /usr/local)" = 0
check env CLI="$stage/usr/bin/polyai-handoff" SANDBOX="$stage/usr/bin/polyai-handoff-sandbox" \
  Tests/man/run.sh "$man"

export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage
flags=$(pkg-config --cflags --libs polyai-handoff)
check test "$(pkg-config --modversion polyai-handoff)" = "$(sed -n 's/^#define HANDOFF_VERSION "\(.*\)"/\1/p' include/polyai_handoff.h)"
cc -std=c99 -Wall -Werror examples/lookup.c $flags -o "$stage/lookup"
cc -std=c99 -Wall -Werror Tests/install/dlopen_check.c -ldl -o "$stage/dlopen_check"

SANDBOX_BIN=$stage/usr/bin/polyai-handoff-sandbox
FIXTURES=$stage/usr/share/polyai-handoff/fixtures.json
. scripts/sandbox-env.sh
trap 'kill $SANDBOX_PID 2>/dev/null; wait $SANDBOX_PID 2>/dev/null; rm -rf "$SANDBOX_DIR" "$stage"' EXIT
export POLYAI_HANDOFF_BASE_URL=$SANDBOX_URL POLYAI_HANDOFF_ACCOUNT_ID=acme \
  POLYAI_HANDOFF_PROJECT_ID=PROJECT-support POLYAI_HANDOFF_API_KEY=sandbox-key
out=$(LD_LIBRARY_PATH=$lib "$stage/lookup" acme-call-123)
echo "$out" | sed 's/^/  /'
check grep -qx 'status: ok ' <<<"$out"
check grep -qx 'customer.account_number = 9223372036854775807' <<<"$out"
check env LD_LIBRARY_PATH="$lib" "$stage/dlopen_check"
# The installed CLI finds the installed library through its rpath.
check env -u LD_LIBRARY_PATH "$stage/usr/bin/polyai-handoff" --version
echo "install: $passed passed, $failed failed"
[ "$failed" = 0 ]

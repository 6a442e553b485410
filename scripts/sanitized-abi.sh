#!/usr/bin/env bash
# sanitized-abi.sh address|thread: builds libpolyai_handoff with that
# sanitizer and runs the C ABI tests (Tests/abi/run.sh) against it, each test
# linked with the sanitizer's runtime first (the C tests themselves are not
# instrumented; the library's Swift code, the ABI edge included, is).
# Needs `make build` first (the sandbox).
set -euo pipefail
kind=${1:-}
case $kind in
  # Leaks are valgrind's job in run.sh; here, memory errors.
  address) short=asan options="ASAN_OPTIONS=detect_leaks=0:halt_on_error=1" ;;
  thread) short=tsan options="TSAN_OPTIONS=halt_on_error=1:report_signal_unsafe=0:suppressions=$(cd "$(dirname "$0")/.." && pwd)/Tests/sanitizers/tsan-abi.supp" ;;
  *) echo "usage: $0 address|thread" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
SWIFT=${SWIFT:-swift}
scratch=.build-$short-lib
$SWIFT build -c debug --sanitize="$kind" --product polyai_handoff --scratch-path "$scratch"
bin=$($SWIFT build -c debug --sanitize="$kind" --scratch-path "$scratch" --show-bin-path)
version=$(sed -n 's/^#define HANDOFF_VERSION "\(.*\)"/\1/p' include/polyai_handoff.h)
lib=$root/build/$short/lib
mkdir -p "$lib"
cp -f "$bin/libpolyai_handoff.so" "$lib/libpolyai_handoff.so.$version"
ln -sf "libpolyai_handoff.so.$version" "$lib/libpolyai_handoff.so.1"
ln -sf libpolyai_handoff.so.1 "$lib/libpolyai_handoff.so"
# The runtime that ships with the Swift toolchain the library was built with.
toolchain=$(dirname "$(dirname "$(command -v "$SWIFT")")")
runtime=$(find "$toolchain/lib/clang" -name "libclang_rt.$short-x86_64.so" | head -n 1)
[ -n "$runtime" ] || { echo "sanitized-abi: no libclang_rt.$short-x86_64.so under $toolchain/lib/clang" >&2; exit 1; }
# The toolchain's TSan runtime also intercepts libdispatch and needs it.
extra="$runtime -Wl,-rpath,$(dirname "$runtime")"
if [ "$kind" = thread ]; then
  swiftlib=$toolchain/lib/swift/linux
  extra="$extra -L$swiftlib -ldispatch -lBlocksRuntime -Wl,-rpath,$swiftlib"
fi
echo "== C ABI tests against the library built with -sanitize=$kind"
LIB_DIR=$lib SANDBOX=$root/build/bin/polyai-handoff-sandbox SKIP_EXPORTS=1 VALGRIND=0 \
  EXTRA_LDFLAGS="$extra" \
  TEST_WRAPPER="env $options HANDOFF_TEST_TIME_SCALE=5" \
  "$root/Tests/abi/run.sh"

#!/usr/bin/env bash
# sanitized-abi.sh address|thread: builds libpolyai_handoff with that
# sanitizer and runs the C ABI tests (Tests/abi/run.sh) against it, each test
# linked with the sanitizer's runtime first (the C tests themselves are not
# instrumented; the library's Swift code, the ABI edge included, is).
# Needs the sandbox built (make sandbox).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-}
case $kind in
  # Leaks are valgrind's job in run.sh; here, memory errors.
  address) short=asan options="ASAN_OPTIONS=detect_leaks=0:halt_on_error=1" ;;
  thread) short=tsan options="TSAN_OPTIONS=halt_on_error=1:report_signal_unsafe=0:suppressions=$root/Tests/sanitizers/tsan-abi.supp" ;;
  *) echo "usage: $0 address|thread" >&2; exit 2 ;;
esac
cd "$root"
SWIFT=${SWIFT:-swift}
lib=$root/build/$short/lib
# Staged like the product build (make lib), from its own scratch folder.
make --no-print-directory lib SWIFT="$SWIFT" LIB_OUT="$lib" \
  LIB_SWIFT_FLAGS="-c debug --sanitize=$kind --scratch-path .build-$short-lib"
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

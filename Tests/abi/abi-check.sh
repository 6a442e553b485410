#!/usr/bin/env bash
# abi-check.sh -- the library keeps the released 1.0 interface: abidiff
# (Debian's abigail-tools) against the committed baseline passes additions
# and fails on any removed or changed symbol, a symbol that changed version
# node, or another soname; and every enumerator of the 1.0 header keeps its
# value in today's header.
#
#   LIB_DIR=build/lib [INCLUDE_DIR=include] Tests/abi/abi-check.sh
#
# The baseline was made from the 1.0 release (commit 0a1ed94) built with
# the HANDOFF_1.0 node of Sources/PolyAIHandoff/exports.map:
#   abidw --no-corpus-path --no-elf-needed --out-file baseline/libpolyai_handoff-1.0.abi libpolyai_handoff.so.1
# and baseline/polyai_handoff-1.0.h is that release's header.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LIB_DIR=${LIB_DIR:-$root/build/lib}
INCLUDE_DIR=${INCLUDE_DIR:-$root/include}
CC=${CC:-cc}
# Another baseline folder, for the check of this check (run.sh).
baseline=${ABI_BASELINE_DIR:-$here/baseline}
lib=$LIB_DIR/libpolyai_handoff.so.1
command -v abidiff >/dev/null || { echo "abi-check: abidiff is not installed (abigail-tools)" >&2; exit 3; }
[ -e "$lib" ] || { echo "abi-check: no library at $lib" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

abidiff "$baseline/libpolyai_handoff-1.0.abi" "$lib" >"$work/abidiff.txt" 2>&1
rc=$?
cat "$work/abidiff.txt"
# Bit 1: abidiff failed; bit 8: an incompatible change. Bit 4 alone is any
# change, additions included: the summary lines then say which.
if [ $((rc & 1)) != 0 ] || [ $((rc & 8)) != 0 ]; then
  echo "abi-check: abidiff exit $rc (an error or an incompatible change)" >&2
  failed=1
fi
if grep -E "[1-9][0-9]* Removed|[1-9][0-9]* Changed|SONAME changed|symbol version" "$work/abidiff.txt" >/dev/null; then
  echo "abi-check: a 1.0 symbol was removed or changed" >&2
  failed=1
fi

# Enumerators: their values, compiled from each header.
sed -n 's/^[[:space:]]*\(HANDOFF_[A-Z0-9_]*\)[[:space:]]*[=,].*/\1/p; s/^[[:space:]]*\(HANDOFF_[A-Z0-9_]*\)[[:space:]]*\(\/\*.*\)\{0,1\}$/\1/p' \
  "$baseline/polyai_handoff-1.0.h" | sort -u >"$work/names"
[ -s "$work/names" ] || { echo "abi-check: no enumerators found in the 1.0 header" >&2; exit 1; }
values() { # HEADER -> NAME VALUE lines
  { echo "#include <stdio.h>"; echo "#include \"$1\""; echo "int main(void) {"
    while read -r name; do echo "  printf(\"$name %ld\\n\", (long)$name);"; done <"$work/names"
    echo "  return 0; }"; } >"$work/values.c"
  "$CC" -std=c99 -o "$work/values" "$work/values.c" && "$work/values"
}
values "$baseline/polyai_handoff-1.0.h" >"$work/then" || failed=1
values "$INCLUDE_DIR/polyai_handoff.h" >"$work/now" || failed=1
if ! diff "$work/then" "$work/now" >"$work/enum.diff"; then
  echo "abi-check: an enumerator of 1.0 changed value:" >&2
  cat "$work/enum.diff" >&2
  failed=1
fi
echo "abi-check: $(wc -l <"$work/names") enumerators of 1.0 unchanged; $(grep -c '\[A\]' "$work/abidiff.txt") symbols added"
exit $failed

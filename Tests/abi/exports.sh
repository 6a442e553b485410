#!/usr/bin/env bash
# exports.sh -- the library exports exactly the functions the header declares,
# carries its soname, and needs no Swift runtime at load time.
#
#   LIB_DIR=build/lib [INCLUDE_DIR=include] Tests/abi/exports.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LIB_DIR=${LIB_DIR:-$root/build/lib}
INCLUDE_DIR=${INCLUDE_DIR:-$root/include}
header=$INCLUDE_DIR/polyai_handoff.h
lib=$LIB_DIR/libpolyai_handoff.so
failed=0

fail() {
  echo "exports: $*" >&2
  failed=1
}

[ -f "$header" ] || { echo "exports: no header at $header" >&2; exit 1; }
[ -e "$lib" ] || { echo "exports: no library at $lib" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The header's function declarations: with comments and preprocessor lines
# gone, split into statements at ; { and }, drop typedefs (function pointer
# types), and take the first "name(" of each remaining statement.
awk '
  {
    line = $0; out = ""
    while (length(line) > 0) {
      if (in_comment) {
        i = index(line, "*/")
        if (i == 0) { line = ""; break }
        line = substr(line, i + 2); in_comment = 0
      } else {
        i = index(line, "/*")
        if (i == 0) { out = out line; line = ""; break }
        out = out substr(line, 1, i - 1); line = substr(line, i + 2); in_comment = 1
      }
    }
    if (continued) { continued = (out ~ /\\$/); next }
    if (out ~ /^[ \t]*#/) { continued = (out ~ /\\$/); next }
    print out
  }' "$header" |
  tr '\n' ' ' | tr ';{}' '\n\n\n' |
  grep -v -E '^[[:space:]]*(typedef|extern[[:space:]]+"C")' |
  sed -n 's/^[^(]*[^A-Za-z0-9_(]\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' |
  sort -u >"$work/declared"

nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' |
  grep -v -x -e _init -e _fini -e _edata -e _end -e __bss_start -e '' |
  sort -u >"$work/exported"

if [ ! -s "$work/declared" ]; then
  fail "found no function declarations in $header"
elif ! diff -u --label declared-in-header --label exported-by-library "$work/declared" "$work/exported" >"$work/diff"; then
  fail "the exports differ from the header (- header only, + library only):"
  sed 's/^/    /' "$work/diff" >&2
fi

# Every export must be in the handoff_ namespace, whatever the header says.
if grep -v '^handoff_' "$work/exported" >"$work/foreign"; then
  fail "exports outside the handoff_ prefix: $(tr '\n' ' ' <"$work/foreign")"
fi

major=$(sed -n 's/^#define HANDOFF_VERSION_MAJOR \([0-9][0-9]*\).*/\1/p' "$header")
# Every exported function carries a version node of this major release
# (HANDOFF_1.0, HANDOFF_1.1, ...): none is left unversioned.
unversioned=$(objdump -T "$lib" | awk '$NF ~ /^handoff_/ && $(NF-2) !~ /^HANDOFF_'"$major"'\.[0-9]+$/ { print $NF }')
[ -z "$unversioned" ] || fail "functions without a HANDOFF_$major.x version node: $unversioned"

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = "libpolyai_handoff.so.$major" ] ||
  fail "soname is '$soname', expected libpolyai_handoff.so.$major"
[ -e "$LIB_DIR/libpolyai_handoff.so.$major" ] ||
  fail "no $LIB_DIR/libpolyai_handoff.so.$major for the loader to find by soname"

if ! ldd "$lib" >"$work/ldd" 2>&1; then
  fail "ldd failed: $(cat "$work/ldd")"
elif grep -i -e swift -e 'not found' "$work/ldd" >"$work/bad"; then
  fail "unwanted or missing dependencies: $(tr '\n' ' ' <"$work/bad")"
fi

# What the README promises a host needs: libcurl, jansson, OpenSSL and the
# C/C++ runtimes; anything else is a new dependency to document first.
readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p' >"$work/needed"
if grep -v -E -x 'lib(curl|jansson)\.so\.4|lib(ssl|crypto)\.so\.[0-9]+|lib(c|m)\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux-[a-z0-9_-]+\.so\.[0-9]+' \
  "$work/needed" >"$work/extra"; then
  fail "needs libraries the README does not list: $(tr '\n' ' ' <"$work/extra")"
fi

if [ "$failed" = 0 ]; then
  echo "exports: $(wc -l <"$work/declared") functions, header and library agree; soname $soname; needs only $(tr '\n' ' ' <"$work/needed" | sed 's/ $//')"
fi
exit "$failed"

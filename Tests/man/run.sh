#!/usr/bin/env bash
# The man pages in man/ render without a warning and say what the code does:
# every flag and exit code of each command's --help, every function the
# header declares (with its prototype), every status and every configuration
# key the header documents, and no version number written into the source.
#
#   Tests/man/run.sh [MANDIR]
#
# With MANDIR (an installed share/man, from Tests/install/run.sh) the
# installed pages, man1/*.1.gz and man3/*.3.gz, are checked the same way, and
# must carry the header's version in their .Os line. CLI and SANDBOX name the
# binaries whose --help is read (default: build/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mandir=${1:-}
cli=${CLI:-$root/build/bin/polyai-handoff}
sandbox=${SANDBOX:-$root/build/bin/polyai-handoff-sandbox}
header=include/polyai_handoff.h
version=$(sed -n 's/^#define HANDOFF_VERSION "\(.*\)"/\1/p' "$header")
passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { if "$@"; then pass; else fail "$*"; fi; }

# What man-db and groff print on stderr rendering a page (plain or .gz):
# man's own run, as Debian's man shows it, and groff with every warning.
# mandoc's linter too where it is installed (its STYLE notes do not count).
render_warnings() {
  local page=$1
  LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null
  zcat -f "$page" | groff -ww -mandoc -Tutf8 -z 2>&1
  if command -v mandoc >/dev/null; then mandoc -Tlint -W warning "$page" 2>&1 || true; fi
}
# The page as plain ASCII on lines that never wrap, for grepping.
text() { zcat -f "$1" | groff -mandoc -Tascii -P-cbu -rLL=30000n 2>/dev/null; }
# The flags a --help prints: long ones, and short ones (the sandbox's -h).
flags() {
  { "$1" --help | grep -o -- '--[a-z][a-z-]*'
    "$1" --help | grep -oE -- '(^| )-[a-z](,| |$)' | tr -d ' ,'; } | sort -u
}

check test -x "$cli"
check test -x "$sandbox"
# The extraction finds them all (a broken one would check nothing).
check test "$(flags "$cli" | wc -l)" -ge 18
check test "$(flags "$sandbox" | wc -l)" -ge 9

# Every flag of a --help heads an item of the page's OPTIONS ("--port N",
# "-h, --help"): documented, not just mentioned.
has_flags() {  # page binary
  local page=$1 flag missing= options
  options=$(text "$page" | sed -n '/^OPTIONS/,/^[A-Z]/p')
  for flag in $(flags "$2"); do
    grep -qE -- "^     (-[a-z], )?${flag}(,| |$)" <<<"$options" || missing="$missing $flag"
  done
  [ -z "$missing" ] || { echo "  $page OPTIONS lacks:$missing"; return 1; }
}

check_pages() {  # the pages polyai-handoff.1, polyai-handoff-sandbox.1, libpolyai_handoff.3
  local cli_page=$1 sandbox_page=$2 lib_page=$3 page out
  for page in "$cli_page" "$sandbox_page" "$lib_page"; do
    check test -s "$page"
    out=$(render_warnings "$page")
    if [ -z "$out" ]; then pass; else fail "$page renders with warnings:"; sed 's/^/  /' <<<"$out"; fi
  done
  check has_flags "$cli_page" "$cli"
  check has_flags "$sandbox_page" "$sandbox"
  check exit_codes "$cli_page" "$cli"
  check exit_codes "$sandbox_page" "$sandbox"
  check python3 Tests/man/structure.py "$header" "$lib_page"
}

# Every exit code a --help lists is an item of the page's EXIT STATUS, with
# the name the help gives it ("  5 not_found ..." in polyai-handoff's), and
# the sandbox's "Exit status: 0 ..., 1 ..., 2 ...".
exit_codes() {  # page binary
  local page=$1 help section code name missing=
  help=$("$2" --help)
  section=$(text "$page" | sed -n '/^EXIT STATUS/,/^[A-Z]/p')
  while read -r code name; do
    grep -qE "^     $code +$name" <<<"$section" || missing="$missing $code($name)"
  done < <(sed -n '/^Exit codes/,/^$/p' <<<"$help" | sed -n 's/^ *\([0-9][0-9]*\) \([a-z_]*\) .*/\1 \2/p')
  for code in $(sed -n 's/^Exit status: //p' <<<"$help" | grep -oE '(^|, )[0-9]+' | tr -d ', '); do
    grep -qE "^     $code " <<<"$section" || missing="$missing $code"
  done
  [ -n "$(sed -n '/^Exit codes/p;/^Exit status/p' <<<"$help")" ] || { echo "  no exit codes in the --help"; return 1; }
  [ -z "$missing" ] || { echo "  $page EXIT STATUS lacks:$missing"; return 1; }
}

check_pages man/polyai-handoff.1 man/polyai-handoff-sandbox.1 man/libpolyai_handoff.3

# The version is added at install time, never written into the source.
if grep -nF -- "$version" man/*; then fail "man/ names the version $version"; else pass; fi
check grep -qx '\.Os polyai-handoff' man/polyai-handoff.1

if [ -n "$mandir" ]; then
  installed=("$mandir/man1/polyai-handoff.1.gz" "$mandir/man1/polyai-handoff-sandbox.1.gz" \
             "$mandir/man3/libpolyai_handoff.3.gz")
  for page in "${installed[@]}"; do
    check gzip -t "$page"
    # gzip -9n: no name, no time stamp (reproducible), best compression.
    check test "$(od -An -tx1 -N9 "$page" | tr -d ' \n')" = 1f8b08000000000002
    check test "$(zcat "$page" | grep '^\.Os')" = ".Os polyai-handoff $version"
  done
  check_pages "${installed[@]}"
fi

echo "man: $passed passed, $failed failed"
[ "$failed" = 0 ]

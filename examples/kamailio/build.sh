#!/usr/bin/env bash
# Builds the polyai_handoff Kamailio module against the source of the
# installed Kamailio, installing the Debian packages it needs first.
# Idempotent: a second run only checks and prints the module's path.
#
# Env: LIB_DIR      dir with libpolyai_handoff.so (default: <repo>/build/lib)
#      INCLUDE_DIR  dir with polyai_handoff.h  (default: <repo>/include)
#      KAMAILIO_BUILD_DIR  work dir (default: <repo>/build/kamailio)
# Out: $KAMAILIO_BUILD_DIR/modules/polyai_handoff.so; its path on stdout's last line.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LIB_DIR=${LIB_DIR:-$REPO/build/lib}
INCLUDE_DIR=${INCLUDE_DIR:-$REPO/include}
BUILD_DIR=${KAMAILIO_BUILD_DIR:-$REPO/build/kamailio}

PACKAGES="kamailio kamailio-utils-modules kamailio-extra-modules sip-tester jq
  dpkg-dev build-essential bison flex pkg-config xz-utils iproute2 curl"

log() { echo "kamailio-build: $*" >&2; }
die() { log "$*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

[ -f "$INCLUDE_DIR/polyai_handoff.h" ] || die "no polyai_handoff.h in INCLUDE_DIR=$INCLUDE_DIR"
[ -e "$LIB_DIR/libpolyai_handoff.so" ] || die "no libpolyai_handoff.so in LIB_DIR=$LIB_DIR (make lib)"

# --- Debian packages
missing=$(for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  log "installing: $(echo $missing)"
  as_root apt-get update -qq
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
fi

# --- Kamailio's source, same version as installed
version=$(dpkg-query -W -f='${Version}' kamailio)
upstream=${version#*:}
upstream=${upstream%-*}
SRC=$BUILD_DIR/src/kamailio-$upstream

# Adds a deb-src entry for the suite the installed kamailio comes from.
# grep reads to the end (no -q): under pipefail an early exit is a SIGPIPE failure.
has_src() { apt-cache showsrc kamailio 2>/dev/null | grep -x "Version: $version" >/dev/null; }
ensure_deb_src() {
  has_src && return 0
  as_root apt-get update -qq
  has_src && return 0
  # "500 http://deb.debian.org/debian bookworm/main amd64 Packages" under the installed version
  local line uri suite_comp suite comp keyring list
  line=$(apt-cache policy kamailio | awk -v v="$version" '
    $1 == "***" || $1 == v { inv = ($1 == "***" ? $2 : $1) == v; next }
    inv && !found && $2 ~ /^[a-z]+:\/\// { print $2, $3; found = 1 }')
  [ -n "$line" ] || die "cannot tell which archive kamailio $version comes from; add a deb-src line for it"
  uri=${line% *}
  suite_comp=${line#* }
  suite=${suite_comp%%/*}
  comp=${suite_comp#*/}
  keyring=$(grep -rhs -A8 "$uri" /etc/apt/sources.list.d/*.sources | sed -n 's/^Signed-By: *//p' | head -n1 || true)
  list=/etc/apt/sources.list.d/polyai-kamailio-src.sources
  log "adding deb-src $uri $suite $comp ($list)"
  {
    echo "Types: deb-src"
    echo "URIs: $uri"
    echo "Suites: $suite"
    echo "Components: $comp"
    [ -z "$keyring" ] || echo "Signed-By: $keyring"
  } | as_root tee "$list" >/dev/null
  as_root apt-get update -qq
  has_src || die "no source package for kamailio $version in $uri $suite"
}

if [ ! -f "$SRC/src/Makefile.modules" ]; then
  ensure_deb_src
  mkdir -p "$BUILD_DIR/src"
  tmp=$(mktemp -d "$BUILD_DIR/src/.fetch.XXXXXX")
  log "fetching kamailio $version source"
  (cd "$tmp" && apt-get source -qq "kamailio=$version" >&2 2>"$tmp/apt.err") \
    || { cat "$tmp/apt.err" >&2; rm -rf "$tmp"; die "apt-get source kamailio=$version failed"; }
  rm -rf "$SRC"
  mv "$tmp/kamailio-$upstream" "$SRC"
  rm -rf "$tmp"
fi

# --- the module
MOD=$SRC/src/modules/polyai_handoff
mkdir -p "$MOD"
# -p keeps mtimes, so make rebuilds only what changed.
cp -p "$HERE"/polyai_handoff/Makefile "$HERE"/polyai_handoff/*.c "$HERE"/polyai_handoff/*.h "$MOD"/
# A library built since is linked in again: the module's references take
# its symbol versions (HANDOFF_1.0, HANDOFF_1.1).
if [ "$LIB_DIR/libpolyai_handoff.so.1" -nt "$MOD/polyai_handoff.so" ]; then rm -f "$MOD/polyai_handoff.so"; fi
make -s -C "$MOD" POLYAI_INCLUDE_DIR="$INCLUDE_DIR" POLYAI_LIB_DIR="$LIB_DIR" >&2

mkdir -p "$BUILD_DIR/modules"
cmp -s "$MOD/polyai_handoff.so" "$BUILD_DIR/modules/polyai_handoff.so" \
  || cp -f "$MOD/polyai_handoff.so" "$BUILD_DIR/modules/polyai_handoff.so"
echo "$BUILD_DIR/modules/polyai_handoff.so"

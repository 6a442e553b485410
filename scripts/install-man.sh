#!/bin/sh
# Installs every page of man/ into MANDIR/manN as Debian ships them (gzip -9n:
# no name, no time stamp), with the version in .Os and the install's paths in
# place of the sources' /usr/local ones. Used by `make install`; a packaging
# script calls it the same way.
#
#   scripts/install-man.sh MANDIR PREFIX LIBDIR VERSION
set -eu
[ $# = 4 ] || { echo "usage: $0 MANDIR PREFIX LIBDIR VERSION" >&2; exit 64; }
mandir=$1 prefix=$2 libdir=$3 version=$4
root=$(cd "$(dirname "$0")/.." && pwd)
for page in "$root"/man/*.[1-8]; do
  section=${page##*.}
  out=$mandir/man$section/${page##*/}
  install -d "$mandir/man$section"
  sed -e "s|^\.Os polyai-handoff\$|.Os polyai-handoff $version|" \
      -e "s|/usr/local/lib|$libdir|g" -e "s|/usr/local|$prefix|g" "$page" >"$out.tmp"
  gzip -9n <"$out.tmp" >"$out.gz"
  chmod 0644 "$out.gz"
  rm -f "$out.tmp"
done

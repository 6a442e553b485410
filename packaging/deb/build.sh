#!/usr/bin/env bash
# packaging/deb/build.sh [OUT]: the four Debian packages, from a tree that
# `make build` built and examples/kamailio/build.sh built the module in.
# Staged the way debhelper stages (debian/<package>/), with Debian's own
# tools: dpkg-shlibdeps for the runtime dependencies, dpkg-gencontrol for
# the control files, dpkg-deb to build. Writes OUT/*.deb (default build/deb).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(realpath -m "${1:-$root/build/deb}")
cd "$root"

header=include/polyai_handoff.h
version=$(sed -n 's/^#define HANDOFF_VERSION "\(.*\)"/\1/p' "$header")
major=$(sed -n 's/^#define HANDOFF_VERSION_MAJOR \([0-9]*\)/\1/p' "$header")
debversion=$version-1
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=usr/lib/$multiarch
lib=build/lib/libpolyai_handoff.so.$version
module=${KAMAILIO_MODULE:-build/kamailio/modules/polyai_handoff.so}
for f in "$lib" build/bin/polyai-handoff-sandbox "$module"; do
  [ -f "$f" ] || { echo "deb: $f is missing (make build; examples/kamailio/build.sh)" >&2; exit 1; }
done

# The module depends on the upstream version it was built against, any
# Debian revision of it: kamailio (>= 5.6.3), kamailio (<< 5.6.4~).
kversion=$(dpkg-query -W -f='${Version}' kamailio)
kupstream=${kversion#*:}
kupstream=${kupstream%-*}
knext=$(echo "$kupstream" | awk -F. '{ $NF = $NF + 1; print }' OFS=.)
kdepends="kamailio (>= $kupstream), kamailio (<< $knext~)"

work=$out/src
rm -rf "$out"
mkdir -p "$work/debian"
sed -e "s|@KAMAILIO_DEPENDS@|$kdepends|" -e "s|@KAMAILIO_UPSTREAM@|$kupstream|" \
  -e "s|@ARCH@|$(dpkg-architecture -qDEB_HOST_ARCH)|" \
  "$here/control.in" >"$work/debian/control"
# Reproducible: the date and revision of the commit built, not of today.
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
sed -e "s|@DEBVERSION@|$debversion|" -e "s|@VERSION@|$version|" -e "s|@REVISION@|$revision|" \
  -e "s|@DATE@|$date|" "$here/changelog.in" >"$work/debian/changelog"
export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)

stage() { echo "$work/debian/$1"; }

# Every package: its copyright and changelog, as policy 12.5 and 12.7 ask,
# and the lintian overrides README.md explains.
add_docs() {
  local doc overrides
  doc=$(stage "$1")/usr/share/doc/$1
  overrides=$(stage "$1")/usr/share/lintian/overrides
  install -d "$doc" "$overrides"
  install -m 0644 "$here/lintian-overrides" "$overrides/$1"
  install -m 0644 "$here/copyright" "$doc/copyright"
  gzip -9n <"$work/debian/changelog" >"$doc/changelog.Debian.gz"
  chmod 0644 "$doc/changelog.Debian.gz"
}

# Shared objects as Debian ships them: 0644, without debugging symbols.
install_object() { # file destination
  install -m 0644 "$1" "$2"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$2"
}

# --- libpolyai-handoff1: the self-contained library
p=$(stage libpolyai-handoff1)
install -d "$p/$libdir" "$p/DEBIAN"
install_object "$lib" "$p/$libdir/libpolyai_handoff.so.$version"
ln -s "libpolyai_handoff.so.$version" "$p/$libdir/libpolyai_handoff.so.$major"
# Hosts built against this version use its functions: they need at least this version.
echo "libpolyai_handoff $major libpolyai-handoff$major (>= $version)" >"$p/DEBIAN/shlibs"
echo "activate-noawait ldconfig" >"$p/DEBIAN/triggers"
add_docs libpolyai-handoff1

# --- libpolyai-handoff-dev: header, link, pkg-config
p=$(stage libpolyai-handoff-dev)
install -d "$p/usr/include" "$p/$libdir/pkgconfig"
install -m 0644 "$header" "$p/usr/include/"
ln -s "libpolyai_handoff.so.$major" "$p/$libdir/libpolyai_handoff.so"
sed -e 's|@PREFIX@|/usr|' -e "s|@LIBDIR@|/$libdir|" -e "s|@VERSION@|$version|" \
  packaging/polyai-handoff.pc.in >"$p/$libdir/pkgconfig/polyai-handoff.pc"
chmod 0644 "$p/$libdir/pkgconfig/polyai-handoff.pc"
add_docs libpolyai-handoff-dev

# --- polyai-handoff-tools: CLI, sandbox, fixtures, man pages, the conffile
p=$(stage polyai-handoff-tools)
install -d "$p/usr/bin" "$p/usr/share/polyai-handoff" "$p/etc" "$p/DEBIAN"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
# The CLI again, with Debian's hardening flags and without the build tree's
# rpath: installed, it finds the library where ld.so looks.
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror $(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) \
  -Iinclude cli/polyai-handoff.c -o "$p/usr/bin/polyai-handoff" \
  $(dpkg-buildflags --get LDFLAGS) -L"$(stage libpolyai-handoff1)/$libdir" -l:libpolyai_handoff.so.$major
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$p/usr/bin/polyai-handoff"
install -m 0755 build/bin/polyai-handoff-sandbox "$p/usr/bin/"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$p/usr/bin/polyai-handoff-sandbox"
install -m 0644 Sources/Sandbox/fixtures.json "$p/usr/share/polyai-handoff/"
# The man pages as `make install` puts them, /usr paths in place. The
# library's overview page, libpolyai_handoff(3), ships here too: the runtime
# package must hold nothing that a libpolyai-handoff2 would hold as well.
scripts/install-man.sh "$p/usr/share/man" /usr "/$libdir" "$version"
install -m 0644 "$here/polyai-handoff.conf" "$p/etc/polyai-handoff.conf"
echo /etc/polyai-handoff.conf >"$p/DEBIAN/conffiles"
install -m 0755 "$here/polyai-handoff-tools.postinst" "$p/DEBIAN/postinst"
install -m 0755 "$here/polyai-handoff-tools.postrm" "$p/DEBIAN/postrm"
add_docs polyai-handoff-tools

# --- kamailio-polyai-handoff-module: the module and an example config
p=$(stage kamailio-polyai-handoff-module)
examples=$p/usr/share/doc/kamailio-polyai-handoff-module/examples
install -d "$p/$libdir/kamailio/modules" "$examples" "$p/DEBIAN"
install_object "$module" "$p/$libdir/kamailio/modules/polyai_handoff.so"
install -m 0644 examples/kamailio/kamailio.cfg "$examples/kamailio.cfg"
install -m 0644 examples/kamailio/README.md "$p/usr/share/doc/kamailio-polyai-handoff-module/README.md"
install -m 0755 "$here/kamailio-polyai-handoff-module.postinst" "$p/DEBIAN/postinst"
add_docs kamailio-polyai-handoff-module

# --- control files and packages
cd "$work"
for name in libpolyai-handoff1 libpolyai-handoff-dev polyai-handoff-tools kamailio-polyai-handoff-module; do
  p=debian/$name
  mkdir -p "$p/DEBIAN"
  mapfile -t objects < <(find "$p" -path "$p/DEBIAN" -prune -o -type f \( -name '*.so*' -o -perm -u+x \) -print |
    while read -r f; do file -b "$f" | grep -q '^ELF' && echo "$f"; done)
  : >"debian/$name.substvars"
  if [ "${#objects[@]}" -gt 0 ]; then
    # Our own library's shlibs come from its staged DEBIAN/shlibs.
    dpkg-shlibdeps -T"debian/$name.substvars" -l"debian/libpolyai-handoff1/$libdir" "${objects[@]}"
  fi
  dpkg-gencontrol -p"$name" -P"$p" -T"debian/$name.substvars" -v"$debversion"
  (cd "$p" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
    xargs -0 -r md5sum >DEBIAN/md5sums)
  chmod 0644 "$p/DEBIAN/control" "$p/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zxz --build "$p" "$out/" >/dev/null
done
ls "$out"/*.deb

#!/usr/bin/env bash
# Runs test_tls, test_connections, test_warm or test_keep_warm (already built, path in $1) against real TLS: makes a test CA
# and certificates with openssl, starts nginx on loopback as a TLS front for
# the sandbox (HANDOFF_TEST_BASE_URL), one port per certificate case, and
# passes the ports, the CA files and nginx's access log to the test.
set -u
binary=$1
here=$(cd "$(dirname "$0")" && pwd)
sandbox_port=${HANDOFF_TEST_BASE_URL##*:}
dir=$(mktemp -d "${TMPDIR:-/tmp}/handoff-tls.XXXXXX")
NGINX_PID=
# shellcheck source=../../scripts/free-port.sh
. "$here/../../scripts/free-port.sh"
# shellcheck source=../../scripts/nginx-start.sh
. "$here/../../scripts/nginx-start.sh"
cleanup() {
  nginx_stop
  rm -rf "$dir"
}
trap cleanup EXIT
chmod 755 "$dir"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "tls_front: nginx is not installed" >&2; exit 2; }
command -v openssl >/dev/null || { echo "tls_front: openssl is not installed" >&2; exit 2; }

# ------------------------------------------------------------ certificates
# shellcheck source=../../scripts/test-ca.sh
. "$here/../../scripts/test-ca.sh"
{
  test_ca_new "$dir" ca && test_ca_new "$dir" other-ca &&
  test_ca_leaf "$dir" ca trusted &&
  test_ca_leaf "$dir" ca wrong-host "DNS:api.example.invalid" &&
  test_ca_leaf "$dir" other-ca unknown-ca &&
  test_ca_leaf "$dir" ca expired "DNS:localhost,IP:127.0.0.1" -1
} >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; echo "tls_front: openssl failed" >&2; exit 2; }
chmod 644 "$dir"/*.key

# ------------------------------------------------------------------- nginx
accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
render_conf() {
  sed -e "s|@DIR@|$dir|g" -e "s|@SANDBOX_PORT@|$sandbox_port|" -e "s|@TRUSTED_PORT@|$trusted|" \
    -e "s|@SHORT_PORT@|$short|" -e "s|@WRONG_HOST_PORT@|$wrong_host|" \
    -e "s|@UNKNOWN_CA_PORT@|$unknown_ca|" -e "s|@EXPIRED_PORT@|$expired|" \
    -e "s|@IDLE_PORT@|$idle|" -e "s|@IDLE_HTTP_PORT@|$idle_http|" -e "s|@H2_PORT@|$h2|" -e "s|@H2_IDLE_PORT@|$h2_idle|" \
    "$here/tls/nginx.conf.in" >"$dir/nginx.conf"
}
# Ready when every port accepts: the test connects to each.
all_accept() {
  accepts "$trusted" && accepts "$short" && accepts "$wrong_host" && accepts "$unknown_ca" && accepts "$expired" &&
    accepts "$idle" && accepts "$idle_http" && accepts "$h2" && accepts "$h2_idle"
}
nginx_start "$NGINX" "$dir" render_conf all_accept trusted short wrong_host unknown_ca expired idle idle_http h2 h2_idle ||
  { echo "tls_front: nginx did not start" >&2; exit 2; }

export HANDOFF_TEST_TLS_CA=$dir/ca.crt
export HANDOFF_TEST_TLS_OTHER_CA=$dir/other-ca.crt
export HANDOFF_TEST_TLS_PORT=$trusted
export HANDOFF_TEST_TLS_H2_PORT=$h2
export HANDOFF_TEST_TLS_H2_IDLE_PORT=$h2_idle
export HANDOFF_TEST_TLS_SHORT_PORT=$short
export HANDOFF_TEST_TLS_WRONG_HOST_PORT=$wrong_host
export HANDOFF_TEST_TLS_UNKNOWN_CA_PORT=$unknown_ca
export HANDOFF_TEST_TLS_EXPIRED_PORT=$expired
export HANDOFF_TEST_TLS_IDLE_PORT=$idle
export HANDOFF_TEST_HTTP_IDLE_PORT=$idle_http
export HANDOFF_TEST_TLS_ACCESS_LOG=$dir/access.log
echo "tls_front: nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') on 127.0.0.1 ports $trusted $short $wrong_host $unknown_ca $expired -> sandbox :$sandbox_port"
# TEST_WRAPPER: a command to run the test under (valgrind, a sanitizer's runtime).
# shellcheck disable=SC2086
timeout 600 ${TEST_WRAPPER:-} "$binary"

#!/usr/bin/env bash
# Runs test_tls (already built, path in $1) against real TLS: makes a test CA
# and certificates with openssl, starts nginx on loopback as a TLS front for
# the sandbox (HANDOFF_TEST_BASE_URL), one port per certificate case, and
# passes the ports, the CA files and nginx's access log to the test.
set -u
binary=$1
here=$(cd "$(dirname "$0")" && pwd)
sandbox_port=${HANDOFF_TEST_BASE_URL##*:}
dir=$(mktemp -d "${TMPDIR:-/tmp}/handoff-tls.XXXXXX")
nginx_pid=
cleanup() {
  if [ -n "$nginx_pid" ]; then
    kill -QUIT "$nginx_pid" 2>/dev/null
    wait "$nginx_pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
chmod 755 "$dir"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "tls_front: nginx is not installed" >&2; exit 2; }
command -v openssl >/dev/null || { echo "tls_front: openssl is not installed" >&2; exit 2; }

# ------------------------------------------------------------ certificates
# ca_new NAME / leaf NAME CA SAN DAYS
ca_new() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$1.key" \
    -out "$dir/$1.crt" -days 2 -subj "/CN=polyai-handoff test $1" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$1.key" \
    -out "$dir/$1.csr" -subj "/CN=$1"
  printf '%s\n' "subjectAltName=$3" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$dir/$1.ext"
  openssl x509 -req -in "$dir/$1.csr" -CA "$dir/$2.crt" -CAkey "$dir/$2.key" -CAcreateserial \
    -out "$dir/$1.crt" -days "$4" -extfile "$dir/$1.ext"
}
{
  ca_new ca && ca_new other-ca &&
  leaf trusted ca "DNS:localhost,IP:127.0.0.1" 2 &&
  leaf wrong-host ca "DNS:api.example.invalid" 2 &&
  leaf unknown-ca other-ca "DNS:localhost,IP:127.0.0.1" 2 &&
  leaf expired ca "DNS:localhost,IP:127.0.0.1" -1
} >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; echo "tls_front: openssl failed" >&2; exit 2; }
chmod 644 "$dir"/*.key

# ------------------------------------------------------------------- nginx
# shellcheck source=../../scripts/free-port.sh
. "$here/../../scripts/free-port.sh"
accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=0
for attempt in 1 2 3; do
  trusted=$(pick_tcp_port) && short=$(pick_tcp_port) && wrong_host=$(pick_tcp_port) &&
    unknown_ca=$(pick_tcp_port) && expired=$(pick_tcp_port) || break
  [ "$(printf '%s\n' "$trusted" "$short" "$wrong_host" "$unknown_ca" "$expired" | sort -u | wc -l)" = 5 ] || continue
  sed -e "s|@DIR@|$dir|g" -e "s|@SANDBOX_PORT@|$sandbox_port|" -e "s|@TRUSTED_PORT@|$trusted|" \
    -e "s|@SHORT_PORT@|$short|" -e "s|@WRONG_HOST_PORT@|$wrong_host|" \
    -e "s|@UNKNOWN_CA_PORT@|$unknown_ca|" -e "s|@EXPIRED_PORT@|$expired|" \
    "$here/tls/nginx.conf.in" >"$dir/nginx.conf"
  "$NGINX" -c "$dir/nginx.conf" -p "$dir" -e "$dir/nginx-error.log" >"$dir/nginx.out" 2>&1 &
  nginx_pid=$!
  for _ in $(seq 1 100); do
    if accepts "$trusted" && accepts "$short" && accepts "$wrong_host" && accepts "$unknown_ca" && accepts "$expired"; then
      started=1
      break
    fi
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.05
  done
  [ "$started" = 1 ] && break
  kill -QUIT "$nginx_pid" 2>/dev/null
  wait "$nginx_pid" 2>/dev/null
  nginx_pid=
done
if [ "$started" != 1 ]; then
  cat "$dir/nginx-error.log" "$dir/nginx.out" >&2 2>/dev/null
  echo "tls_front: nginx did not start" >&2
  exit 2
fi

export HANDOFF_TEST_TLS_CA=$dir/ca.crt
export HANDOFF_TEST_TLS_OTHER_CA=$dir/other-ca.crt
export HANDOFF_TEST_TLS_PORT=$trusted
export HANDOFF_TEST_TLS_SHORT_PORT=$short
export HANDOFF_TEST_TLS_WRONG_HOST_PORT=$wrong_host
export HANDOFF_TEST_TLS_UNKNOWN_CA_PORT=$unknown_ca
export HANDOFF_TEST_TLS_EXPIRED_PORT=$expired
export HANDOFF_TEST_TLS_ACCESS_LOG=$dir/access.log
echo "tls_front: nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') on 127.0.0.1 ports $trusted $short $wrong_host $unknown_ca $expired -> sandbox :$sandbox_port"
# TEST_WRAPPER: a command to run the test under (valgrind, a sanitizer's runtime).
# shellcheck disable=SC2086
timeout 600 ${TEST_WRAPPER:-} "$binary"

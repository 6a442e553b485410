#!/usr/bin/env bash
# Runs test_egress_netns (already built, path in $1) between two network
# namespaces made here, joined by two veth pairs; nothing leaves them:
#
#   client namespace                         server namespace
#   hoa-PID 10.77.1.2/24 10.77.1.3/24   <->  hsa-PID 10.77.1.1/24
#           fd00:77:1::2/64 fd00:77:1::3/64          fd00:77:1::1/64
#   hob-PID 10.77.2.2/24 fd00:77:2::2/64 <-> hsb-PID 10.77.2.1/24 fd00:77:2::1/64
#
# The second addresses (10.77.1.3, fd00:77:1::3) are never the default
# source: one is secondary, the other deprecated. The client also routes
# 10.77.1.0/24 through hob at a worse metric, so a socket bound to that
# interface reaches the server's 10.77.1.1 through it. In the server
# namespace: the sandbox on its loopback, and nginx with TLS in front of it
# (a certificate for api.handoff.test from a CA made here) on 10.77.1.1 and
# fd00:77:1::1 (and 10.77.2.1, where a changed hosts entry points), logging
# each request's peer address. The test runs in the
# client namespace (under TEST_WRAPPER) and gets the addresses, names, port,
# CA file and access log in HANDOFF_TEST_NETNS_* variables.
# Needs root, ip(8) and ss(8) (iproute2), nginx, openssl; SANDBOX and
# FIXTURES from run.sh.
# Exit 3: no network namespace can be made here (a SKIP).
set -u
binary=$1
here=$(cd "$(dirname "$0")" && pwd)
SANDBOX=${SANDBOX:?set SANDBOX to the polyai-handoff-sandbox executable}
FIXTURES=${FIXTURES:-$here/../../Sources/Sandbox/fixtures.json}
client=hoff-ecli-$$
server=hoff-esrv-$$
if_a=hoa-$$ if_b=hob-$$ peer_a=hsa-$$ peer_b=hsb-$$
host=api.handoff.test
dir=$(mktemp -d "${TMPDIR:-/tmp}/handoff-netns.XXXXXX")
NGINX_PID=
sandbox_pid=
made=
# shellcheck source=../../scripts/free-port.sh
. "$here/../../scripts/free-port.sh"
# shellcheck source=../../scripts/nginx-start.sh
. "$here/../../scripts/nginx-start.sh"
# shellcheck source=../../scripts/test-ca.sh
. "$here/../../scripts/test-ca.sh"
cleanup() {
  nginx_stop
  if [ -n "$sandbox_pid" ]; then
    kill "$sandbox_pid" 2>/dev/null
    wait "$sandbox_pid" 2>/dev/null
  fi
  if [ -n "$made" ]; then
    ip -n "$client" link del "$if_a" 2>/dev/null
    ip -n "$client" link del "$if_b" 2>/dev/null
    ip netns del "$client" 2>/dev/null
    ip netns del "$server" 2>/dev/null
    rm -rf "/etc/netns/$client"
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$dir"
fail() { echo "netns_front: $*" >&2; exit 2; }

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || fail "nginx is not installed"
command -v openssl >/dev/null || fail "openssl is not installed"
[ -x "$SANDBOX" ] || fail "no sandbox at $SANDBOX"

# -------------------------------------------------------------- namespaces
made=1
ip netns add "$client" || exit 3
ip netns add "$server" || exit 3
# The test's resolver and hosts file: no name reaches a real DNS server (a
# query to 127.0.0.1:53 is refused at once), and api.handoff.test resolves
# only through the resolve key.
mkdir -p "/etc/netns/$client"
echo "nameserver 127.0.0.1" >"/etc/netns/$client/resolv.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$client/hosts"
in_client() { ip netns exec "$client" "$@"; }
in_server() { ip netns exec "$server" "$@"; }
# ns_sysctl NAMESPACE KEY VALUE: /proc/sys/net is the writer's namespace's
# (no sysctl(8): procps is not in every image).
ns_sysctl() { ip netns exec "$1" sh -c 'echo "$1" >"/proc/sys/$2"' - "$3" "$(echo "$2" | tr . /)"; }
{
  # Set before the veths exist, which take the defaults: no router
  # solicitations or duplicate address detection on the links, so the
  # client's packet counters count the test's traffic and little else.
  ns_sysctl "$client" net.ipv6.conf.default.router_solicitations 0 &&
  ns_sysctl "$client" net.ipv6.conf.default.accept_dad 0 &&
  ns_sysctl "$server" net.ipv6.conf.default.router_solicitations 0 &&
  ns_sysctl "$server" net.ipv6.conf.default.accept_dad 0 &&
  ip link add "$if_a" netns "$client" type veth peer name "$peer_a" netns "$server" &&
  ip link add "$if_b" netns "$client" type veth peer name "$peer_b" netns "$server" &&
  ip -n "$client" link set lo up && ip -n "$server" link set lo up &&
  ip -n "$client" addr add 10.77.1.2/24 dev "$if_a" &&
  ip -n "$client" addr add 10.77.1.3/24 dev "$if_a" &&
  ip -n "$client" addr add fd00:77:1::2/64 dev "$if_a" nodad &&
  ip -n "$client" addr add fd00:77:1::3/64 dev "$if_a" nodad preferred_lft 0 &&
  ip -n "$client" addr add 10.77.2.2/24 dev "$if_b" &&
  ip -n "$client" addr add fd00:77:2::2/64 dev "$if_b" nodad &&
  ip -n "$server" addr add 10.77.1.1/24 dev "$peer_a" &&
  ip -n "$server" addr add fd00:77:1::1/64 dev "$peer_a" nodad &&
  ip -n "$server" addr add 10.77.2.1/24 dev "$peer_b" &&
  ip -n "$server" addr add fd00:77:2::1/64 dev "$peer_b" nodad &&
  ip -n "$client" link set "$if_a" up && ip -n "$client" link set "$if_b" up &&
  ip -n "$server" link set "$peer_a" up && ip -n "$server" link set "$peer_b" up &&
  # The way to 10.77.1.0/24 through hob, for a socket bound to it (its
  # replies come back through hob, which strict reverse-path filtering
  # would drop).
  ip -n "$client" route add 10.77.1.0/24 dev "$if_b" metric 500 &&
  ns_sysctl "$client" net.ipv4.conf.all.rp_filter 0 && ns_sysctl "$client" "net.ipv4.conf.$if_b.rp_filter" 0
} || fail "could not set up the veths and addresses"
# Ready when each veth end is operationally up (the kernel says so up to a
# second after "link set up"; a neighbour solicitation sent before the other
# end is ready goes unanswered for a second) and no IPv6 address is
# tentative (nodad and accept_dad make them usable at once; a link-local one
# is, briefly, as its link comes up). At most 10 s.
links_ready() {
  local pair
  for pair in "$client $if_a" "$client $if_b" "$server $peer_a" "$server $peer_b"; do
    ip -o -n "${pair% *}" link show dev "${pair#* }" 2>/dev/null | grep -q 'state UP' || return 1
  done
  [ -z "$(ip -n "$client" -6 addr show tentative)$(ip -n "$server" -6 addr show tentative)" ]
}
for _ in $(seq 1 100); do
  links_ready && break
  sleep 0.1
done
links_ready || fail "the veths are not up, or IPv6 addresses still tentative, after 10 s"

# ----------------------------------------------------------------- sandbox
# Not through in_server: a shell function in the background is a subshell,
# and $! would be its pid, not the sandbox's (ip netns exec execs it, keeping
# the pid), so cleanup killed the subshell and left the sandbox running.
ip netns exec "$server" "$SANDBOX" --port 0 --port-file "$dir/sandbox-port" --fixtures "$FIXTURES" >"$dir/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 1 300); do
  grep -qx '[0-9][0-9]*' "$dir/sandbox-port" 2>/dev/null && break
  kill -0 "$sandbox_pid" 2>/dev/null || break
  sleep 0.1
done
grep -qx '[0-9][0-9]*' "$dir/sandbox-port" 2>/dev/null || { cat "$dir/sandbox.log" >&2; fail "the sandbox did not start within 30 s"; }
sandbox_port=$(cat "$dir/sandbox-port")

# -------------------------------------------------------------- TLS, nginx
{
  test_ca_new "$dir" ca && test_ca_leaf "$dir" ca api "DNS:$host"
} >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; fail "openssl failed"; }
chmod 644 "$dir"/*.key
# nginx_start runs this in the foreground of its job: exec all the way, so
# its pid is nginx's.
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$server" "$NGINX" >"$dir/nginx-in-server"
chmod 755 "$dir/nginx-in-server"
render_conf() {
  cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 64; }
http {
    # The peer of each request, and the user agent each client of the test
    # sends (its own), to tell whose request a line is.
    log_format peer '\$remote_addr \$server_addr \$server_port \$server_protocol \$status "\$http_user_agent"';
    access_log $dir/access.log peer;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 10.77.1.1:$api_port ssl http2;
        listen 10.77.2.1:$api_port ssl http2;
        listen [fd00:77:1::1]:$api_port ssl http2;
        ssl_certificate $dir/api.crt;
        ssl_certificate_key $dir/api.key;
        location / { proxy_pass http://127.0.0.1:$sandbox_port; }
    }
}
CONF
}
listening() {
  local sockets
  sockets=$(in_server ss -Htln 2>/dev/null)
  case $sockets in *"10.77.1.1:$api_port "*) ;; *) return 1 ;; esac
  case $sockets in *"10.77.2.1:$api_port "*) ;; *) return 1 ;; esac
  case $sockets in *"[fd00:77:1::1]:$api_port "*) ;; *) return 1 ;; esac
}
nginx_start "$dir/nginx-in-server" "$dir" render_conf listening api_port || fail "nginx did not start"
reaches() { in_client timeout 5 bash -c "exec 3<>/dev/tcp/$1/$api_port" 2>/dev/null; }
reaches 10.77.1.1 && reaches fd00:77:1::1 || fail "the client namespace cannot reach nginx on 10.77.1.1 and fd00:77:1::1"

export HANDOFF_TEST_NETNS_HOST=$host
export HANDOFF_TEST_NETNS_PORT=$api_port
export HANDOFF_TEST_NETNS_CA=$dir/ca.crt
export HANDOFF_TEST_NETNS_ACCESS_LOG=$dir/access.log
export HANDOFF_TEST_NETNS_SERVER_V4=10.77.1.1 HANDOFF_TEST_NETNS_SERVER_V6=fd00:77:1::1
export HANDOFF_TEST_NETNS_SERVER_V4_SECOND=10.77.2.1
# The client namespace's own hosts file (ip netns exec mounts it on
# /etc/hosts there): the test may point api.handoff.test at an address.
export HANDOFF_TEST_NETNS_HOSTS=/etc/netns/$client/hosts
export HANDOFF_TEST_NETNS_CLIENT_V4=10.77.1.2 HANDOFF_TEST_NETNS_CLIENT_V4_SECOND=10.77.1.3
export HANDOFF_TEST_NETNS_CLIENT_V6=fd00:77:1::2 HANDOFF_TEST_NETNS_CLIENT_V6_SECOND=fd00:77:1::3
export HANDOFF_TEST_NETNS_IF_A=$if_a HANDOFF_TEST_NETNS_IF_B=$if_b HANDOFF_TEST_NETNS_IF_B_V4=10.77.2.2
# Neither exists in the client namespace.
export HANDOFF_TEST_NETNS_MISSING_IF=hnx-$$ HANDOFF_TEST_NETNS_MISSING_V4=10.77.1.99
echo "netns_front: nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') in $server on 10.77.1.1 and [fd00:77:1::1] port $api_port -> sandbox :$sandbox_port; test in $client"
# shellcheck disable=SC2086 # TEST_WRAPPER's words: valgrind, a sanitizer's runtime
in_client timeout 600 ${TEST_WRAPPER:-} "$binary"

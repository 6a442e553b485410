#!/usr/bin/env bash
# Runs test_dns_stall (already built, path in $1) in a network namespace made
# here, whose resolv.conf names 127.0.0.1 and where a UDP socket on port 53
# takes every query and never answers. Nothing leaves the namespace.
set -u
binary=$1
ns=hoff-dns-$$
mkdir -p "/etc/netns/$ns"
echo "nameserver 127.0.0.1" >"/etc/netns/$ns/resolv.conf"
cleanup() {
  [ -n "${sink:-}" ] && kill "$sink" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "/etc/netns/$ns"
}
trap cleanup EXIT
ip netns add "$ns" || exit 3
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
while True:
    s.recvfrom(4096)
' &
sink=$!
# Only start once the sink is bound: before that, queries get an ICMP
# "port unreachable" and fail fast instead of stalling.
sink_bound() { ip netns exec "$ns" ss -Huln 2>/dev/null | grep -q '127.0.0.1:53 '; }
for _ in $(seq 1 200); do
  sink_bound && break
  kill -0 "$sink" 2>/dev/null || break
  sleep 0.05
done
sink_bound || { echo "dns_stall: the resolver sink did not bind 127.0.0.1:53 within 10 s" >&2; exit 2; }
# shellcheck disable=SC2086
ip netns exec "$ns" timeout 120 ${TEST_WRAPPER:-} "$binary"

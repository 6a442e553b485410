#!/bin/bash
# bench/wan/netns.sh -- the network of `make bench-wan`: three namespaces in
# a line, client -- router -- server, every forwarded packet sent to NFQUEUE
# in the router (bench/wan/delay.c holds it there). Needs root.
#
#   netns.sh up      create it (fails if any piece already exists)
#   netns.sh down    remove whatever of it exists; always safe to run
#
#   phwan-client  phwan-c0 10.201.1.2/24 ---- phwan-r0 10.201.1.1/24  phwan-router
#   phwan-router  phwan-r1 10.201.2.1/24 ---- phwan-s0 10.201.2.2/24  phwan-server
#
# Without the delay program running, forwarded packets are dropped (no
# --queue-bypass): a run can never silently measure a line without delay.
set -euo pipefail

WAN_QUEUE=${WAN_QUEUE:-201}
C=phwan-client R=phwan-router S=phwan-server

down() {
  local ns
  for ns in $C $R $S; do
    ip netns del "$ns" 2>/dev/null || true   # takes its veth ends with it
  done
  ip link del phwan-c0 2>/dev/null || true
  ip link del phwan-r1 2>/dev/null || true
}

up() {
  ip netns add $C
  ip netns add $R
  ip netns add $S
  ip link add phwan-c0 netns $C type veth peer name phwan-r0 netns $R
  ip link add phwan-r1 netns $R type veth peer name phwan-s0 netns $S

  ip -n $C addr add 10.201.1.2/24 dev phwan-c0
  ip -n $R addr add 10.201.1.1/24 dev phwan-r0
  ip -n $R addr add 10.201.2.1/24 dev phwan-r1
  ip -n $S addr add 10.201.2.2/24 dev phwan-s0
  local ns dev
  for ns in $C $R $S; do ip -n "$ns" link set lo up; done
  for dev in phwan-c0; do ip -n $C link set $dev up; done
  for dev in phwan-r0 phwan-r1; do ip -n $R link set $dev up; done
  ip -n $S link set phwan-s0 up
  ip -n $C route add default via 10.201.1.1
  ip -n $S route add default via 10.201.2.1

  ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
  ip netns exec $R iptables-legacy -A FORWARD -j NFQUEUE --queue-num "$WAN_QUEUE"
}

case "${1:-}" in
  up) trap 'down' ERR; up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

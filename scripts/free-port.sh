# Sourced by scripts that start loopback servers on ports of their own choice
# (nginx, Kamailio and SIPp cannot be told "port 0"): a TCP or UDP port that
# nothing uses now, per /proc/net. Another process can still take it before
# the caller's server binds it, so callers check that their own server holds
# it and retry the start on new ports if not (scripts/nginx-start.sh,
# examples/kamailio/common.sh).

# The kernel hands out ports for connect() and bind(port 0) from
# ip_local_port_range; ours come from below it, so no outgoing connection and
# no server bound to port 0 (the sandbox) ever takes one of them.
# (A machine whose range leaves no room either side gets 20000..49999.)
free_port_range() { # -> "LOW HIGH"
  local low=32768 high=60999
  read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  if [ "$low" -gt 12000 ]; then echo "10000 $((low - 1))"
  elif [ "$high" -lt 63000 ]; then echo "$((high + 1)) 65535"
  else echo "20000 49999"; fi
}

# port_in_use tcp|udp PORT: a socket of that protocol is bound to PORT (any
# address, any state: a connection's local port counts too).
port_in_use() {
  local hex files
  hex=$(printf '%04X' "$2")
  case $1 in
    tcp) files="/proc/net/tcp /proc/net/tcp6" ;;
    udp) files="/proc/net/udp /proc/net/udp6" ;;
    *) return 2 ;;
  esac
  # shellcheck disable=SC2086 # the two files
  awk -v p=":$hex" 'NR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' $files 2>/dev/null
}
tcp_port_in_use() { port_in_use tcp "$1"; }

# pick_port tcp|udp: prints a port below the kernel's ephemeral range that
# nothing uses now.
pick_port() {
  local p range low high
  range=$(free_port_range)
  low=${range% *}
  high=${range#* }
  for _ in $(seq 1 200); do
    p=$((low + (RANDOM * 32768 + RANDOM) % (high - low + 1)))
    port_in_use "$1" "$p" || { echo "$p"; return 0; }
  done
  return 1
}
pick_tcp_port() { pick_port tcp; }
pick_udp_port() { pick_port udp; }

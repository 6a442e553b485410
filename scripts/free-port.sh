# Sourced by scripts that start loopback servers on ports of their own choice
# (nginx cannot be told "port 0"): a free TCP port, per /proc/net/tcp{,6}.

# tcp_port_in_use PORT: something listens on PORT (any address).
tcp_port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# pick_tcp_port: prints a port in 20000..49999 that nothing listens on.
# Another process may take it before the caller binds it: callers retry.
pick_tcp_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 30000))
    tcp_port_in_use "$p" || { echo "$p"; return 0; }
  done
  return 1
}

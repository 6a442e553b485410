# Sourced by scripts that serve TLS on loopback (Tests/abi/tls_front.sh,
# bench/run.sh): a throwaway ECDSA P-256 CA and the server certificates it
# signs, made with openssl at run time, so no key or expiring certificate is
# kept in the repository. Sets no shell options: it runs under its caller's.
# Each step is chained with &&, so a failure is returned whether or not the
# caller runs with set -e (which a caller's `||` switches off anyway).

# test_ca_new DIR NAME: a CA certificate DIR/NAME.crt and its key DIR/NAME.key,
# valid 2 days.
test_ca_new() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$2.key" \
    -out "$1/$2.crt" -days 2 -subj "/CN=polyai-handoff test $2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# test_ca_leaf DIR CA NAME [SAN [DAYS]]: a server certificate DIR/NAME.crt
# and its key DIR/NAME.key, signed by the CA DIR/CA.crt (made by test_ca_new).
# SAN defaults to localhost and 127.0.0.1; DAYS to 2, and -1 makes one that
# has already expired.
test_ca_leaf() {
  local dir=$1 ca=$2 name=$3 san=${4:-DNS:localhost,IP:127.0.0.1} days=${5:-2}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$name.key" \
    -out "$dir/$name.csr" -subj "/CN=$name" &&
  printf '%s\n' "subjectAltName=$san" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$dir/$name.ext" &&
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" -CAcreateserial \
    -out "$dir/$name.crt" -days "$days" -extfile "$dir/$name.ext"
}

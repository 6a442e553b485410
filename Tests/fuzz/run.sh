#!/usr/bin/env bash
# Builds the libFuzzer target (with AddressSanitizer) over the response path
# (lookups' and reservations', and a reservation's attributes)
# and runs it for FUZZ_SECONDS (default 60) on the committed corpus. New
# inputs it finds go to a scratch folder, not into the repo.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t sources < <(find "$root/Sources/HandoffCore" -name '*.swift' | sort)
swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name HandoffFuzz -package-name polyai_handoff \
  -I "$root/Sources/CCurl" -I "$root/Sources/CJansson" -I "$root/Sources/COpenSSL" -I "$root/Sources/CHandoffSystem" \
  "${sources[@]}" "$here/FuzzResponse.swift" -lcurl -ljansson -lssl -lcrypto -o "$work/fuzz-response"
cp -r "$here/corpus" "$work/corpus"
"$work/fuzz-response" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$work/corpus" 2>"$work/log" || { tail -n 60 "$work/log"; echo "fuzz: 0 passed, 1 failed"; exit 1; }
grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/log" || true
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
echo "fuzz: ${runs:-?} inputs in ${seconds} s, no invariant broken"
echo "fuzz: 1 passed, 0 failed"

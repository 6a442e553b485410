#!/usr/bin/env bash
# scripts/loaded-runs.sh -- the suite's flake check: `make test` from a fresh
# clone of this repository's main, RUNS times in a row (default 5), with a
# busy-loop CPU hog running the whole time. Writes OUT/run-N.log and a line
# per run to OUT/summary.txt (default OUT: /tmp/handoff-loaded). Takes about
# 18 minutes a run on a 2-core machine. Not part of `make test`.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
out=${OUT:-/tmp/handoff-loaded}
clone=$out/clone
export PATH=/opt/swift/usr/bin:$PATH
mkdir -p "$out"
: >"$out/summary.txt"
( while :; do :; done ) &
hog=$!
trap 'kill "$hog" 2>/dev/null' EXIT
# Every run tests the same commit, even if main moves on meanwhile.
rev=${REV:-$(git -C "$repo" rev-parse main)}
echo "main at ${rev:0:7}, hog pid $hog" >>"$out/summary.txt"
for i in $(seq 1 "$runs"); do
  rm -rf "$clone" && git clone -q --branch main "$repo" "$clone" && git -C "$clone" checkout -q "$rev"
  start=$(date +%s)
  (cd "$clone" && timeout 3000 make test >"$out/run-$i.log" 2>&1)
  rc=$?
  echo "run $i: exit $rc, $(($(date +%s) - start)) s; $(grep -E '^(abi|e2e|install|fuzz): [0-9]+ passed' "$out/run-$i.log" | tr '\n' ' ')" >>"$out/summary.txt"
done
rm -rf "$clone"
echo done >>"$out/summary.txt"

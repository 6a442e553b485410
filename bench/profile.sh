#!/usr/bin/env bash
# bench/profile.sh -- where a lookup's time goes: lib against raw, 1 thread.
# Called by run.sh with BENCH_PROFILE=1 while its nginx is up:
#   profile.sh LOADGEN OUTDIR HTTP_URL HTTPS_URL CA_FILE API_KEY FIXTURE EXPECT_COUNT
# Writes to OUTDIR:
#   instructions.md  instructions per lookup (callgrind, exact and immune to
#                    a noisy machine), lib and raw, HTTP and TLS, with lib's
#                    heaviest inclusive functions;
#   callgrind.<mode>.<proto>.out  for callgrind_annotate / kcachegrind;
#   perf-<mode>-http.txt  perf cpu-clock samples by library and by symbol
#                    (when perf works here).
# Bounded: 1,050 lookups per callgrind run, 20,000 per perf run.
set -euo pipefail
[ $# -eq 8 ] || { echo "usage: $0 LOADGEN OUTDIR HTTP_URL HTTPS_URL CA API_KEY FIXTURE EXPECT_COUNT" >&2; exit 2; }
LOADGEN=$1 OUT=$2 HTTP_URL=$3 HTTPS_URL=$4 CA=$5 API_KEY=$6 FIXTURE=$7 EXPECT=$8
mkdir -p "$OUT"
log() { printf 'profile: %s\n' "$*" >&2; }

if [ "$(id -u)" = 0 ] && ! command -v valgrind >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null || true
fi
# Swift symbols read better demangled; plain c++filt-free fallback otherwise.
demangle() { if command -v swift-demangle >/dev/null; then swift-demangle --simplified; \
  elif command -v swift >/dev/null; then swift demangle --simplified; else cat; fi; }

WARMUP=50
LOOKUPS=1000
common=(--threads 1 --key "$API_KEY" --fixture "$FIXTURE" --expect-count "$EXPECT" --max-seconds 300)

{
  echo "# Instructions per lookup (callgrind)"
  echo
  echo "Inclusive instructions (Ir) of one lookup as the load generator makes it"
  echo "(lookup_lib: handoff_client_lookup, a walk of the pairs, handoff_result_free;"
  echo "lookup_raw: curl_easy_perform, json_loadb, the flatten of data), averaged over"
  echo "$((WARMUP + LOOKUPS)) lookups on 1 thread. Exact counts, not disturbed by other load."
  echo
  echo "| mode | protocol | instructions/lookup | × raw |"
  echo "|---|---|---:|---:|"
} > "$OUT/instructions.md"

if command -v valgrind >/dev/null; then
  declare -A IR
  for proto in http https; do
    url=$HTTP_URL; ca=()
    [ "$proto" = https ] && { url=$HTTPS_URL; ca=(--ca "$CA"); }
    for mode in raw lib; do
      f=$OUT/callgrind.$mode.$proto.out
      timeout 600 valgrind --tool=callgrind --toggle-collect="lookup_$mode" --callgrind-out-file="$f" \
        "$LOADGEN" --mode "$mode" --url "$url" "${ca[@]}" "${common[@]}" --lookups "$LOOKUPS" --warmup "$WARMUP" \
        > "$OUT/callgrind.$mode.$proto.json" 2> "$OUT/callgrind.$mode.$proto.log" \
        || { log "callgrind $mode $proto failed: see $OUT/callgrind.$mode.$proto.log"; continue; }
      total=$(sed -n 's/^summary: *//p' "$f" | awk '{ print $1 }')
      IR[$mode.$proto]=$(( total / (WARMUP + LOOKUPS) ))
      log "$mode $proto: ${IR[$mode.$proto]} instructions/lookup"
    done
    for mode in lib raw; do
      [ -n "${IR[$mode.$proto]:-}" ] || continue
      ratio=""
      [ -n "${IR[raw.$proto]:-}" ] && ratio=$(awk -v a="${IR[$mode.$proto]}" -v b="${IR[raw.$proto]}" 'BEGIN { printf "%.2f", a / b }')
      echo "| $mode | $proto | ${IR[$mode.$proto]} | $ratio |" >> "$OUT/instructions.md"
    done
  done
  if [ -s "$OUT/callgrind.lib.http.out" ]; then
    {
      echo
      echo "## lib over HTTP: heaviest functions, inclusive, per lookup"
      echo
      echo '```'
      callgrind_annotate --inclusive=yes --threshold=100 "$OUT/callgrind.lib.http.out" 2>/dev/null \
        | sed -n '/file:function/,$p' | sed -n '3,60p' \
        | awk -v n=$((WARMUP + LOOKUPS)) '{ ir = $1; gsub(",", "", ir); if (ir ~ /^[0-9]+$/) { $1 = sprintf("%9d", ir / n); } print }' \
        | demangle | sed -e 's| \[[^]]*\]$||' -e 's|/[^ ]*/Sources/||' | cut -c1-200
      echo '```'
    } >> "$OUT/instructions.md"
  fi
else
  echo "valgrind is not installed: no instruction counts." >> "$OUT/instructions.md"
fi

if command -v perf >/dev/null && perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
  for mode in lib raw; do
    data=$OUT/perf-$mode-http.data
    timeout 300 perf record -q -e cpu-clock -F 2000 -g -o "$data" \
      "$LOADGEN" --mode "$mode" --url "$HTTP_URL" "${common[@]}" --lookups 20000 --warmup "$WARMUP" \
      > "$OUT/perf-$mode-http.json" 2>/dev/null || { log "perf $mode failed"; continue; }
    {
      echo "# perf cpu-clock, $mode over HTTP, 1 thread, 20000 lookups"
      echo "## by library"
      perf report -i "$data" --stdio --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
      echo "## by symbol, self"
      perf report -i "$data" --stdio --no-children --sort dso,symbol -g none --percent-limit 0.7 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -40
      echo "## by symbol, inclusive"
      perf report -i "$data" --stdio --children --sort symbol -g none --percent-limit 3 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | grep -v '\[k\]' | head -40
    } | demangle | sed -E 's/[[:space:]]+(-[[:space:]]+-[[:space:]]*)?$//' | cut -c1-200 > "$OUT/perf-$mode-http.txt"
    rm -f "$data"
  done
  # Many threads: where lib's extra CPU goes when lookups run at once
  # (locks shared by every lookup of a client show up here).
  data=$OUT/perf-lib-http-16.data
  if timeout 300 perf record -q -e cpu-clock -F 2000 -g -o "$data" \
      "$LOADGEN" --mode lib --url "$HTTP_URL" "${common[@]}" --threads 16 --lookups 1500 \
      --warmup "$WARMUP" > "$OUT/perf-lib-http-16.json" 2>/dev/null; then
    {
      echo "# perf cpu-clock, lib over HTTP, 16 threads, 24000 lookups"
      echo "## by symbol, self"
      perf report -i "$data" --stdio --no-children --sort dso,symbol -g none --percent-limit 0.7 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -30
      echo "## callers of the symbols above 3%"
      perf report -i "$data" --stdio --no-children --sort symbol -G --percent-limit 3 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -120
    } | demangle | sed -E 's/[[:space:]]+(-[[:space:]]+-[[:space:]]*)?$//' | cut -c1-200 > "$OUT/perf-lib-http-16.txt"
  else
    log "perf lib 16 threads failed"
  fi
  rm -f "$data"
else
  log "perf cannot sample here: skipped"
fi
log "wrote $OUT"

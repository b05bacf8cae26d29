#!/usr/bin/env bash
# Soak: the exporter (every collector, configured as for SharedMinds, as the least-privilege role)
# against the reference database under the pgbench workload, scraped over and over while it
# collects. Prints RSS, open file descriptors and threads of the exporter after a warm-up and at the
# end, and the drift (goal: < 1 MiB RSS, 0 fds, 0 threads). Not a test: it prints figures.
#
#   bench/soak.sh BUILD_DIR PORT [SCRAPES] [SECONDS] [SCALE] [WARMUP] [WARMUP_SCRAPES]
#     defaults: 10000 scrapes, 3600 s in all, scale 0.01, 60 s warm-up within them (3900 lets the
#     statements collector fill its hour of per-entry history first, so that the drift is a leak
#     only), then 1000 scrapes back to back before the first reading: the HTTP workers' stacks and
#     the heap's free lists reach their working size on the first scrapes, which is growth that
#     stops, not a leak (docs/performance.md). The cluster lives in BUILD_DIR/soak-pg on PORT; the
#     exporter listens on PORT+1.
# Scrapes are spread evenly over SECONDS (at least one every 10 ms); the run lasts SECONDS. RSS is
# also read every 500 scrapes, and its lowest and highest readings printed: a leak climbs, a
# plateau does not.
set -euo pipefail
source "$(dirname "$0")/reference.sh"
require psql pgbench curl
build=${1:?usage: soak.sh BUILD_DIR PORT [SCRAPES] [SECONDS] [SCALE] [WARMUP] [WARMUP_SCRAPES]}
port=${2:?usage: soak.sh BUILD_DIR PORT [SCRAPES] [SECONDS] [SCALE] [WARMUP] [WARMUP_SCRAPES]}
scrapes=${3:-10000} seconds=${4:-3600} scale=${5:-0.01}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
dir=$build/soak-pg
listen=$((port + 1))

start_reference_cluster "$dir" "$port" "$scale"
"$root/scripts/refdb.sh" jobs --port "$port" --fast >/dev/null
start_workload "$port" 50 /dev/null
start_exporter "$build" "$root/config/sharedminds.toml" "$port" "$listen" "$build/soak-exporter.log"

usage() {
  local rss fds threads
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$bench_exporter_pid/status")
  threads=$(awk '/^Threads:/ { print $2 }' "/proc/$bench_exporter_pid/status")
  fds=$(ls "/proc/$bench_exporter_pid/fd" | wc -l)
  echo "$rss $fds $threads"
}
scrape() { curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$listen/metrics"; }

# Warm-up: every collector has run at least once (the slowest default interval is 5 minutes, so
# this is the first minute: caches, histograms and label sets reach their size).
for _ in $(seq 300); do scrape && break; sleep 0.2; done
warmup=${6:-$(( seconds < 60 ? seconds / 4 : 60 ))}
sleep "$warmup"
for _ in $(seq "${7:-1000}"); do scrape || true; done
read -r rss0 fds0 threads0 < <(usage)
rss_min=$rss0 rss_max=$rss0
start=$(date +%s.%N)
pause=$(awk -v s="$seconds" -v w="$warmup" -v n="$scrapes" 'BEGIN { p = (s - w) / n; if (p < 0.01) p = 0.01; printf "%.4f", p }')
failed=0
for i in $(seq "$scrapes"); do
  scrape || failed=$((failed + 1))
  if ((i % 500 == 0)); then
    read -r rss _ < <(usage)
    ((rss < rss_min)) && rss_min=$rss
    ((rss > rss_max)) && rss_max=$rss
  fi
  sleep "$pause"
done
now=$(date +%s.%N)
remaining=$(awk -v s="$seconds" -v w="$warmup" -v a="$start" -v b="$now" 'BEGIN { r = s - w - (b - a); print (r > 0 ? int(r) : 0) }')
sleep "$remaining"
read -r rss1 fds1 threads1 < <(usage)
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')

printf '%-10s %12s %8s %8s\n' "" "RSS (KiB)" "fds" "threads"
printf '%-10s %12s %8s %8s\n' "start" "$rss0" "$fds0" "$threads0"
printf '%-10s %12s %8s %8s\n' "end" "$rss1" "$fds1" "$threads1"
printf '%-10s %12s %8s %8s\n' "drift" "$((rss1 - rss0))" "$((fds1 - fds0))" "$((threads1 - threads0))"
echo "RSS every 500 scrapes: lowest $rss_min KiB, highest $rss_max KiB"
echo "scrapes: $scrapes ($failed failed) over ${elapsed} s of collection after a ${warmup} s warm-up"
echo "collector failures logged: $(grep -c 'collector failed' "$build/soak-exporter.log" || true)"

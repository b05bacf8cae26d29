#!/usr/bin/env bash
# What a slower commit does to each write-latency signal (issue 14 item 2, docs/latency.md "Write
# latency including commit"). pg_stat_statements times a write's executor only; the write probe
# times INSERT + COMMIT as the application does; pg_stat_wal times the WAL flushes every commit waits
# for. This benchmark runs the SharedMinds workload and the exporter (config/sharedminds.toml, write
# probe every 250 ms) on its own cluster with fsync on, measures a window, makes every commit slower
# with commit_delay (the WAL flush sleeps first, as a slow or remote disk would), measures a second
# window, heals, measures a third, and prints p95 of each signal per window (the change is against
# the mean of the windows before and after, so a drift of the workload cancels).
#
#   bench/commit_latency.sh BUILD_DIR PORT [--window S] [--delay US] [--rate TPS] [--scale S]
#     defaults: 60 s windows, commit_delay 20000 µs, 100 tps, scale 0.01. The cluster lives in
#     BUILD_DIR/commit-pg on PORT; the exporter listens on PORT+1. Not a test: it prints figures.
set -euo pipefail
source "$(dirname "$0")/reference.sh"
require psql pgbench curl python3
usage="usage: commit_latency.sh BUILD_DIR PORT [--window S] [--delay US] [--rate TPS] [--scale S]"
build=$(cd "${1:?$usage}" && pwd)
port=${2:?$usage}
shift 2
window=60 delay=20000 rate=100 scale=0.01
while [ $# -gt 0 ]; do
  case "$1" in
    --window) window=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$build/commit-pg work=$build/commit-latency listen=$((port + 1))
rm -rf "$work" && mkdir -p "$work"

start_reference_cluster "$dir" "$port" "$scale"
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
# The test clusters run with fsync off, which also turns commit_delay off: this one flushes for real.
set_commit() { psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "ALTER SYSTEM SET fsync = on" \
  -c "ALTER SYSTEM SET commit_siblings = 0" -c "ALTER SYSTEM SET commit_delay = $1" -c "SELECT pg_reload_conf()" >/dev/null; }
set_commit 0

cp "$root/config/sharedminds.toml" "$work/config.toml"
printf '\n[collectors.write_probe]\ninterval = "250ms"\n' >>"$work/config.toml"
start_exporter "$build" "$work/config.toml" "$port" "$listen" "$work/exporter.log"
start_workload "$port" "$rate" "$work/workload.log"

scrape() { curl -sf --max-time 5 -o "$work/$1.prom" "http://127.0.0.1:$listen/metrics"; }
for _ in $(seq 100); do scrape start && break; sleep 0.2; done
sleep 20  # warm-up: caches, the statements collector's first intervals
measure() { scrape "$1-from"; sleep "$window"; scrape "$1-to"; }
measure before
set_commit "$delay"
sleep 5
measure fault
set_commit 0
sleep 5
measure after

echo "commit_delay = $delay µs (fsync on), ${window} s windows, workload $rate tps"
python3 - "$work" <<'PY'
import re, sys
work = sys.argv[1]
line = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
label = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

def load(name):
    out = []
    for l in open(f"{work}/{name}.prom"):
        m = line.match(l.strip())
        if m:
            out.append((m.group(1), dict(label.findall(m.group(2) or "")), float(m.group(3))))
    return out

def buckets(samples, metric, keep):
    acc = {}
    for name, labels, v in samples:
        if name == metric + "_bucket" and keep(labels):
            le = float(labels["le"])
            acc[le] = acc.get(le, 0.0) + v
    return acc

def p95(window, metric, keep):
    a, b = buckets(load(window + "-from"), metric, keep), buckets(load(window + "-to"), metric, keep)
    delta = sorted((le, b[le] - a.get(le, 0.0)) for le in b)
    total = delta[-1][1] if delta else 0
    if total <= 0:
        return float("nan")
    rank, lower, below = 0.95 * total, 0.0, 0.0
    for le, count in delta:  # histogram_quantile's linear interpolation within the bucket
        if count >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = le, count
    return lower

def counter(samples, metric):
    return sum(v for name, _, v in samples if name == metric)

def wal_sync_mean(window):
    a, b = load(window + "-from"), load(window + "-to")
    syncs = counter(b, "pg_stat_wal_sync_total") - counter(a, "pg_stat_wal_sync_total")
    time = counter(b, "pg_stat_wal_sync_time_seconds_total") - counter(a, "pg_stat_wal_sync_time_seconds_total")
    return time / syncs if syncs > 0 else float("nan")

signals = [
    ("write probe p95 (INSERT + COMMIT)", lambda w: p95(w, "pg_write_probe_duration_seconds", lambda l: True)),
    ("pg_stat_statements INSERT p95 (executor)",
     lambda w: p95(w, "pg_stat_statements_duration_seconds", lambda l: l.get("command", "").upper() == "INSERT")),
    ("pg_stat_statements UPDATE p95 (executor)",
     lambda w: p95(w, "pg_stat_statements_duration_seconds", lambda l: l.get("command", "").upper() == "UPDATE")),
    ("WAL sync, mean per sync", wal_sync_mean),
]
print(f"{'signal':44} {'before':>10} {'fault':>10} {'after':>10} {'change':>8}")
for title, f in signals:
    before, fault, after = (f(w) * 1000 for w in ("before", "fault", "after"))
    base = (before + after) / 2
    change = f"{(fault / base - 1) * 100:+.0f}%" if base > 0 else "n/a"
    print(f"{title:44} {before:8.3f}ms {fault:8.3f}ms {after:8.3f}ms {change:>8}")
PY

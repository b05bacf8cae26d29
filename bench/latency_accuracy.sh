#!/usr/bin/env bash
# Accuracy benchmark of the pg_stat_statements latency histograms (issue 4 item 3, docs/latency.md).
# Starts its own cluster on port 25511, loads the reference DB, logs every statement of role `app`
# (auto_explain.log_min_duration=0: exec time; log_min_duration_statement=0: whole statement) to
# csvlog, runs the SharedMinds workload and the statements collector side by side, and prints true
# vs estimated p50/p95/p99 per command, class and overall.
#
#   bench/latency_accuracy.sh BUILD_DIR [--scale S] [--duration S] [--interval S] [--rate TPS]
#                             [--warmup S] [--read-ratio R] [--sensitivity CLASS | --repeat N]
#                             [--reset-minmax]
#
# PGE_TEST_PG=17 runs it on PostgreSQL 17 (scripts/pg17_root.sh). --reset-minmax (17 only) turns on
# the collector's reset_minmax, granting the exporter's role EXECUTE on the min/max-only reset; the
# 1 s trace is then not recorded (its replay assumes cumulative min/max).
#
# --warmup S (default 60): the workload runs this long before the first sample. The cluster has just
# been restarted (cold shared buffers) and autovacuum is analyzing the freshly loaded tables: without
# a warm-up the first window is 5-25 % slower than the second even with no fault at all.
#
# --repeat N (issue 18): N consecutive fresh windows of --duration each, then per group the worst and
# median error at p50/p95/p99 over them, and how much more the estimated p95 moved between windows
# than the true one. Variants never used for tuning run the same way: --rate, --scale, and
# --read-ratio R (workload.sh: a different class mix).
#
# --sensitivity CLASS (issue 4 item 3): after the first window, apply CLASS's fault (below) while the
# workload runs, measure a second window, remove the fault, measure a third; prints each class's
# estimated and true p95 without (the mean of windows 1 and 3: a steady drift of the workload cancels)
# and with the fault.
#
# The run also records a 1 s trace of pg_stat_statements and keeps it with the statement log
# (BUILD_DIR/latency_trace.txt and .csv); the estimator replayed over it at 1 s and at --interval is
# printed too, and `BUILD_DIR/bench/latency_accuracy --replay BUILD_DIR/latency_trace.txt --csvlog
# BUILD_DIR/latency_trace.csv [--every 1,5]` replays it again offline (no database).
set -euo pipefail
source "$(dirname "$0")/../scripts/require.sh"
require psql pgbench
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: latency_accuracy.sh BUILD_DIR [--scale S] [--duration S] [--interval S] [--rate TPS] [--warmup S] [--read-ratio R] [--sensitivity CLASS | --repeat N] [--reset-minmax]"
build=$(cd "${1:?$usage}" && pwd)
shift
scale=0.05 duration=90 interval=5 rate=300 port=25511 sensitivity="" warmup=60 repeat=1 read_ratio=()
reset_minmax=0
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --reset-minmax) reset_minmax=1; shift ;;
    --interval) interval=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --sensitivity) sensitivity=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --read-ratio) read_ratio=(--read-ratio "$2"); shift 2 ;;
    *) echo "unknown option $1" >&2; echo "$usage" >&2; exit 2 ;;
  esac
done
# Faults that slow one class and nothing else. analytics_insert: one more index on its table (the
# seed's risk: Phase 3 indexes make writes slower); only analytics_rollup also reads that table and
# filters on created_at, which the index does not serve. none: the control run, no change at all,
# which shows how much every class moves between the two windows by itself.
fault_sql() {
  case "$1" in
    analytics_insert) echo "CREATE INDEX IF NOT EXISTS pge_bench_fault_session ON analytics_events (session_id);" ;;
    none) echo "SELECT 1;" ;;
    *) echo "latency_accuracy.sh: no fault defined for class '$1' (known: analytics_insert, none)" >&2; exit 2 ;;
  esac
}
heal_sql() {
  case "$1" in
    analytics_insert) echo "DROP INDEX IF EXISTS pge_bench_fault_session;" ;;
    none) echo "SELECT 1;" ;;
  esac
}
fault_args=()
windows=$repeat
[ -z "$sensitivity" ] || [ "$repeat" = 1 ] || { echo "--sensitivity and --repeat exclude each other" >&2; exit 2; }
if [ -n "$sensitivity" ]; then
  psql_cmd="psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $port -U postgres -d sharedminds -c"
  fault_args=(--fault-cmd "$psql_cmd \"$(fault_sql "$sensitivity")\""
              --heal-cmd "$psql_cmd \"$(heal_sql "$sensitivity")\""
              --target-class "$sensitivity")
  windows=3
fi
dir=$build/bench_pg
"$root/scripts/pg_local.sh" start "$dir" "$port"
trap '"$root/scripts/pg_local.sh" stop "$dir"' EXIT
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
"$root/scripts/refdb.sh" load --port "$port" --scale "$scale" >/dev/null
# Exec-time basis (auto_explain measures exec only), everything of role app logged.
psql -X -q -d postgres <<SQL
ALTER SYSTEM SET logging_collector = on;
ALTER SYSTEM SET log_destination = 'csvlog';
ALTER SYSTEM SET log_filename = 'bench.log';
ALTER SYSTEM SET log_truncate_on_rotation = on;
ALTER SYSTEM SET pg_stat_statements.track_planning = off;
ALTER ROLE app SET auto_explain.log_min_duration = 0;
ALTER ROLE app SET log_min_duration_statement = 0;
SQL
"$root/scripts/pg_local.sh" restart "$dir"
csvlog=$("$root/scripts/pg_local.sh" datadir "$dir")/log/bench.csv
rm -f "$csvlog"
psql -X -q -d postgres -c "SELECT pg_rotate_logfile()" >/dev/null
trace_args=(--trace "$build/latency_trace.txt")
if [ "$reset_minmax" = 1 ]; then
  psql -X -q -d sharedminds -c "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint, boolean) TO pge_exporter"
  trace_args=(--reset-minmax on)
fi
"$root/scripts/workload.sh" --port "$port" --rate "$rate" "${read_ratio[@]}" --duration $(( warmup + windows * (${duration%.*} + ${interval%.*}) + 20 )) >/dev/null 2>&1 &
workload=$!
sleep $(( warmup > 3 ? warmup : 3 ))
"$build/bench/latency_accuracy" --dsn "host=127.0.0.1 port=$port dbname=sharedminds user=pge_exporter password=exporter" \
  --csvlog "$csvlog" --duration "$duration" --interval "$interval" "${trace_args[@]}" \
  --repeat "$repeat" "${fault_args[@]}"
kill "$workload" 2>/dev/null || true
wait "$workload" 2>/dev/null || true
cp "$csvlog" "$build/latency_trace.csv"

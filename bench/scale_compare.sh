#!/usr/bin/env bash
# Side-by-side scale benchmark: our exporter and Debian's prometheus-postgres-exporter (0.11.1, with
# bench/postgres_exporter_queries.yaml for the same tables, indexes, sizes and statements coverage)
# against one PostgreSQL 15 database of TABLES tables (bench/scale_fixture.sql: 3 indexes each, a
# 120-partition table, 5,000 pg_stat_statements entries), one exporter after the other, each scraped
# SCRAPES times every INTERVAL seconds with `Accept-Encoding: gzip` as Prometheus does.
#
#   bench/scale_compare.sh EXPORTER_BINARY PORT TABLES [SCRAPES] [INTERVAL] [LABEL]
#
# With PGE_BENCH_ONLY_OURS=1 postgres_exporter is left out (its runs take minutes at 10,000 tables).
#
# PORT is the cluster's port (kept in /tmp/pge-scale-PORT for re-runs, one database per size); the
# exporters listen on PORT+1 (ours) and PORT+2 (postgres_exporter). Prints one markdown row per
# exporter:
#   scrape  median / p95 / worst wall time of a gzip scrape (curl's time_total)
#   series  samples in the last scrape (non-comment lines)
#   RSS     peak resident set (VmHWM) at the end of the run
#   CPU     process CPU (utime+stime from /proc) per scrape: median and worst of the per-scrape
#           deltas; and the whole process's CPU per second over the window (collectors included)
#   DB      database time (pg_stat_statements exec + plan, top-level, of the exporter's own role)
#           per second of wall time over the window, and per collection cycle
#   floor   the same information read by psql with the cheapest queries (SELECT * from the
#           statistics views, pg_class, pg_index, pg_stat_statements): DB ms of one pass.
# The machine may be shared: CPU from /proc is less sensitive to contention than wall time.
set -euo pipefail
exe=$(readlink -f "$1") port=$2 tables=$3 scrapes=${4:-10} interval=${5:-15} label=${6:-ours}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=/tmp/pge-scale-$port
db=scale_$tables
ours_port=$((port + 1)) pe_port=$((port + 2))
tick=$(getconf CLK_TCK)
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"

if ! command -v prometheus-postgres-exporter >/dev/null; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends \
    prometheus-postgres-exporter >/dev/null
fi

"$root/scripts/pg_local.sh" start "$dir" "$port"
if [ "$(psql -X -At -d postgres -c "SHOW pg_stat_statements.max")" -lt 10000 ]; then
  psql -X -q -d postgres -c "ALTER SYSTEM SET pg_stat_statements.max = 10000"
  "$root/scripts/pg_local.sh" restart "$dir"
fi
for role in pge_bench_ours pge_bench_pe pge_bench_psql; do
  psql -X -q -d postgres -c "DO \$\$BEGIN CREATE ROLE $role LOGIN IN ROLE pg_monitor;
                             EXCEPTION WHEN duplicate_object THEN NULL; END\$\$"
done
if [ "$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" = 0 ]; then
  echo "scale_compare: creating $db ($tables tables)..." >&2
  psql -X -q -d postgres -c "CREATE DATABASE $db"
  psql -X -q -d "$db" -v tables="$tables" -v partitions=120 -v statements=5000 \
    -f "$root/bench/scale_fixture.sql" >/dev/null
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
db_ms() {
  psql -X -At -d "$db" -c "SELECT COALESCE(sum(total_exec_time + total_plan_time), 0)
    FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '$1'"
}
reset_role() {
  psql -X -At -d "$db" -c "SELECT pg_stat_statements_reset(oid) FROM pg_roles WHERE rolname = '$1'" >/dev/null
}
quantile() {  # quantile Q < numbers (nearest rank)
  sort -g | awk -v q="$1" '{v[NR] = $1} END {i = int(q * NR + 0.999999); if (i < 1) i = 1; print v[i]}'
}

# Ours is ready when every collector has either succeeded once or failed once.
wait_ours_ready() {
  for _ in $(seq 1 600); do
    body=$(curl -s "http://127.0.0.1:$ours_port/metrics" || true)
    if [ -n "$body" ] && echo "$body" | awk '
        /^pg_evolution_exporter_collector_last_success_timestamp_seconds\{/ {
          k = $1; sub(/^[a-z_]*/, "", k); n++; if ($NF + 0 == 0) pending[k] = 1 }
        /^pg_evolution_exporter_collector_errors_total\{/ {
          k = $1; sub(/^[a-z_]*/, "", k); if ($NF + 0 > 0) failed[k] = 1 }
        END {c = 0; for (p in pending) if (!(p in failed)) c++; exit !(n > 0 && c == 0)}'; then
      return 0
    fi
    sleep 1
  done
  echo "scale_compare: our exporter did not finish its first cycle" >&2
  return 1
}

wait_http() {
  for _ in $(seq 1 120); do curl -sf -o /dev/null "$1" && return 0; sleep 0.5; done
  echo "scale_compare: $1 not answering" >&2
  return 1
}

# measure NAME ROLE PID PORT: scrapes, then prints the row.
measure() {
  local name=$1 role=$2 pid=$3 p=$4 out="$dir/$1.scrape.gz"
  local times=() cpus=() size=0
  reset_role "$role"
  local db0 cpu0 t0
  db0=$(db_ms "$role"); cpu0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  for i in $(seq 1 "$scrapes"); do
    local start c_before c_after result
    start=$(date +%s.%N)
    c_before=$(cpu_ticks "$pid")
    result=$(curl -s -H 'Accept-Encoding: gzip' -o "$out" -w '%{time_total} %{size_download}' \
      "http://127.0.0.1:$p/metrics")
    c_after=$(cpu_ticks "$pid")
    times+=("${result% *}"); size=${result#* }
    cpus+=("$(echo "($c_after - $c_before) * 1000 / $tick" | bc -l)")
    [ "$i" -lt "$scrapes" ] && sleep "$(echo "x = $interval - ($(date +%s.%N) - $start); if (x < 0) 0 else x" | bc -l)"
  done
  local t1 cpu1 db1 window series rss
  t1=$(date +%s.%N); cpu1=$(cpu_ticks "$pid"); db1=$(db_ms "$role")
  window=$(echo "$t1 - $t0" | bc -l)
  series=$( (gzip -dc "$out" 2>/dev/null || cat "$out") | grep -vc '^#' || true)
  rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  printf '| %s | %d | %.3f / %.3f / %.3f | %d | %.0f | %d | %.0f / %.0f | %.3f | %.1f | %.0f |\n' \
    "$name" "$tables" \
    "$(printf '%s\n' "${times[@]}" | quantile 0.5)" "$(printf '%s\n' "${times[@]}" | quantile 0.95)" \
    "$(printf '%s\n' "${times[@]}" | quantile 1)" \
    "$series" "$(echo "$size / 1024" | bc -l)" "$rss" \
    "$(printf '%s\n' "${cpus[@]}" | quantile 0.5)" "$(printf '%s\n' "${cpus[@]}" | quantile 1)" \
    "$(echo "($cpu1 - $cpu0) / $tick / $window" | bc -l)" \
    "$(echo "($db1 - $db0) / $window" | bc -l)" \
    "$(echo "($db1 - $db0) * $interval / $window" | bc -l)"
}

floor_ms() {
  reset_role pge_bench_psql
  for _ in 1 2 3; do
    psql -X -q -U pge_bench_psql -d "$db" >/dev/null <<'SQL'
SELECT * FROM pg_stat_user_tables;
SELECT * FROM pg_statio_user_tables;
SELECT * FROM pg_stat_user_indexes;
SELECT * FROM pg_statio_user_indexes;
SELECT oid, relname, relnamespace, relkind, relpages, reltuples, relfrozenxid, relminmxid, reloptions, reltoastrelid FROM pg_class;
SELECT * FROM pg_index;
SELECT * FROM pg_stat_database;
SELECT * FROM pg_stat_statements;
SQL
  done
  echo "$(db_ms pge_bench_psql) / 3" | bc -l
}

echo "| exporter | tables | scrape s median / p95 / worst | series | gzip KiB | peak RSS MiB | CPU ms per scrape median / worst | CPU s per s (all) | DB ms per s | DB ms per ${interval} s |"
echo "|---|---|---|---|---|---|---|---|---|---|"

DATA_SOURCE_NAME="host=127.0.0.1 port=$port dbname=$db user=pge_bench_ours" \
  "$exe" --web.listen-address="127.0.0.1:$ours_port" --log.level=warn >"$dir/ours.log" 2>&1 &
pids+=($!); ours_pid=$!
wait_http "http://127.0.0.1:$ours_port/healthz"
wait_ours_ready
measure "$label" pge_bench_ours "$ours_pid" "$ours_port"
curl -s "http://127.0.0.1:$ours_port/metrics" \
  | awk '/^pg_evolution_exporter_collector_(duration_seconds|series)\{/' >"$dir/ours.collectors.txt"
kill "$ours_pid"; wait "$ours_pid" 2>/dev/null || true

if [ "${PGE_BENCH_ONLY_OURS:-0}" != 1 ]; then
  DATA_SOURCE_NAME="host=127.0.0.1 port=$port dbname=$db user=pge_bench_pe sslmode=disable" \
    prometheus-postgres-exporter --web.listen-address="127.0.0.1:$pe_port" --log.level=warn \
    --extend.query-path="$root/bench/postgres_exporter_queries.yaml" >"$dir/pe.log" 2>&1 &
  pids+=($!); pe_pid=$!
  wait_http "http://127.0.0.1:$pe_port/metrics"
  measure postgres_exporter pge_bench_pe "$pe_pid" "$pe_port"
  kill "$pe_pid"; wait "$pe_pid" 2>/dev/null || true
fi

printf 'psql floor (same information, cheapest queries, one pass): %.0f DB ms\n' "$(floor_ms)"
echo "our collectors (duration s, series): $dir/ours.collectors.txt"

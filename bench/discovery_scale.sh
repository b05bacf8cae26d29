#!/usr/bin/env bash
# Many databases, one exporter: DATABASES databases of TABLES tables each on one PostgreSQL 15
# cluster, watched by one exporter through database discovery (target.discover_databases) with the
# default collectors, each database scraped through /probe?target=cluster/DATABASE every INTERVAL
# seconds, as a Prometheus with one job per database would.
#
#   bench/discovery_scale.sh EXPORTER_BINARY PORT [DATABASES] [TABLES] [ROUNDS] [INTERVAL]
#   (defaults: 50 databases, 1,000 tables, 5 rounds, 15 s)
#
# The fixture is bench/scale_fixture.sql (3 indexes per table, a 12-partition table) loaded once
# into a template database; the others are copies of it (CREATE DATABASE ... TEMPLATE, STRATEGY
# FILE_COPY: files copied, no per-table DDL), kept in /tmp/pge-discovery-PORT for re-runs. The
# template itself is no target: discovery leaves templates out. The exporter listens on PORT+1.
# Prints, over the measured window (after every target's collectors have run once):
#   targets     databases discovered and up at the end
#   RSS         peak resident set (VmHWM) of the exporter at the end
#   CPU         exporter CPU seconds per second of wall time (collectors and scrapes)
#   DB          database time (pg_stat_statements exec + plan, of the exporter's role, every
#               database) per second of wall time, and per target per INTERVAL
#   scrape      wall time of one target's gzip /probe scrape: median / p95 / worst over all
#               targets and rounds; series per target (median); one full /metrics scrape
#   load        the machine's load average at the start and the end (the machine may be shared)
# The wait for the first cycle gives up after PGE_BENCH_READY_TIMEOUT seconds (1800) and measures
# anyway, saying how many collectors have never succeeded.
set -euo pipefail
exe=$(readlink -f "$1") port=$2 databases=${3:-50} tables=${4:-1000} rounds=${5:-5} interval=${6:-15}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=/tmp/pge-discovery-$port
template=disc_tpl_$tables
prefix=disc_${tables}_
role=pge_bench_disc
exporter_port=$((port + 1))
tick=$(getconf CLK_TCK)
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
sql() { psql -X -At -v ON_ERROR_STOP=1 -d postgres -c "$1"; }

"$root/scripts/pg_local.sh" start "$dir" "$port"
# One connection per database, the listing's, and psql's.
if [ "$(sql "SHOW max_connections")" -lt $((databases + 20)) ]; then
  sql "ALTER SYSTEM SET max_connections = $((databases + 20))" >/dev/null
  "$root/scripts/pg_local.sh" restart "$dir"
fi
sql "DO \$\$BEGIN CREATE ROLE $role LOGIN IN ROLE pg_monitor;
     EXCEPTION WHEN duplicate_object THEN NULL; END\$\$" >/dev/null
sql "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null  # read from postgres

if [ "$(sql "SELECT count(*) FROM pg_database WHERE datname = '$template'")" = 0 ]; then
  echo "discovery_scale: loading $template ($tables tables)..." >&2
  t0=$(date +%s)
  sql "CREATE DATABASE $template" >/dev/null
  psql -X -q -d "$template" -v tables="$tables" -v partitions=12 -v statements=0 \
    -f "$root/bench/scale_fixture.sql" >/dev/null
  sql "ALTER DATABASE $template IS_TEMPLATE true" >/dev/null
  echo "discovery_scale: loaded in $(($(date +%s) - t0)) s" >&2
fi
t0=$(date +%s)
for i in $(seq -w 1 "$databases"); do
  name=$prefix$i
  if [ "$(sql "SELECT count(*) FROM pg_database WHERE datname = '$name'")" = 0 ]; then
    sql "CREATE DATABASE $name TEMPLATE $template STRATEGY FILE_COPY" >/dev/null
  fi
done
echo "discovery_scale: $databases databases ready in $(($(date +%s) - t0)) s" >&2

cat >"$dir/discovery.toml" <<TOML
[[target]]
name = "cluster"
dsn = "host=127.0.0.1 port=$port dbname=postgres user=$role"
discover_databases = true
include_databases = ["^$prefix"]
TOML

pid=""
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
db_ms() {
  sql "SELECT COALESCE(sum(total_exec_time + total_plan_time), 0)
       FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '$role'"
}
quantile() {  # quantile Q < numbers (nearest rank)
  sort -g | awk -v q="$1" '{v[NR] = $1} END {i = int(q * NR + 0.999999); if (i < 1) i = 1; print v[i]}'
}
load_average() { cut -d' ' -f1-3 /proc/loadavg; }

# Ready when every database is a target and each of its collectors has succeeded or failed once
# (on an overloaded machine some targets may be reconnecting at any moment: "targets up" below).
wait_ready() {
  for _ in $(seq 1 "${PGE_BENCH_READY_TIMEOUT:-1800}"); do
    if curl -s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$exporter_port/metrics" | gzip -dc |
      awk -v want="$databases" '
        /^pg_up\{/ {up++}
        /^pg_evolution_exporter_collector_last_success_timestamp_seconds\{/ {
          k = $1; sub(/^[a-z_]*/, "", k); n++; if ($NF + 0 == 0) pending[k] = 1 }
        /^pg_evolution_exporter_collector_errors_total\{/ {
          k = $1; sub(/^[a-z_]*/, "", k); if ($NF + 0 > 0) failed[k] = 1 }
        END {c = 0; for (p in pending) if (!(p in failed)) c++; exit !(up == want && n > 0 && c == 0)}'; then
      return 0
    fi
    sleep 1
  done
  echo "discovery_scale: not every collector of every database has run after" \
    "${PGE_BENCH_READY_TIMEOUT:-1800} s (the machine is saturated): measuring anyway" >&2
}

load_start=$(load_average)
started=$(date +%s)
"$exe" --config.file="$dir/discovery.toml" --web.listen-address="127.0.0.1:$exporter_port" \
  --log.level=warn >"$dir/exporter.log" 2>&1 &
pid=$!
wait_ready
echo "discovery_scale: measuring after $(($(date +%s) - started)) s" >&2

sql "SELECT pg_stat_statements_reset(oid) FROM pg_roles WHERE rolname = '$role'" >/dev/null
db0=$(db_ms); cpu0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
: >"$dir/probe_times" ; : >"$dir/probe_series"
for round in $(seq 1 "$rounds"); do
  start=$(date +%s.%N)
  for i in $(seq -w 1 "$databases"); do
    curl -s -H 'Accept-Encoding: gzip' -o "$dir/probe.gz" -w '%{time_total}\n' \
      "http://127.0.0.1:$exporter_port/probe?target=cluster/$prefix$i" >>"$dir/probe_times"
    [ "$round" -lt "$rounds" ] || gzip -dc "$dir/probe.gz" | grep -vc '^#' >>"$dir/probe_series"
  done
  [ "$round" -lt "$rounds" ] && sleep "$(echo "x = $interval - ($(date +%s.%N) - $start); if (x < 0) 0 else x" | bc -l)"
done
t1=$(date +%s.%N); cpu1=$(cpu_ticks "$pid"); db1=$(db_ms)
full=$(curl -s -H 'Accept-Encoding: gzip' -o "$dir/metrics.gz" -w '%{time_total}' \
  "http://127.0.0.1:$exporter_port/metrics")
window=$(echo "$t1 - $t0" | bc -l)
up=$(gzip -dc "$dir/metrics.gz" | grep -c '^pg_up{.* 1$' || true)
rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")

echo "| databases × tables | targets up | peak RSS MiB | CPU s per s | DB ms per s | DB ms per target per ${interval} s | probe scrape s median / p95 / worst | series per target | full /metrics s | load average start → end |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '| %d × %d | %d | %d | %.3f | %.1f | %.0f | %.4f / %.4f / %.4f | %d | %.3f | %s → %s |\n' \
  "$databases" "$tables" "$up" "$rss" \
  "$(echo "($cpu1 - $cpu0) / $tick / $window" | bc -l)" \
  "$(echo "($db1 - $db0) / $window" | bc -l)" \
  "$(echo "($db1 - $db0) * $interval / $window / $databases" | bc -l)" \
  "$(quantile 0.5 <"$dir/probe_times")" "$(quantile 0.95 <"$dir/probe_times")" \
  "$(quantile 1 <"$dir/probe_times")" "$(quantile 0.5 <"$dir/probe_series")" \
  "$full" "$load_start" "$(load_average)"
gzip -dc "$dir/metrics.gz" | awk '/^pg_evolution_exporter_collector_last_success_timestamp_seconds\{/ {
  n++; if ($NF + 0 == 0) p++ } END {print "collector runs (target x collector):", n, "never succeeded:", p + 0}'

#!/usr/bin/env bash
# SharedMinds workload: pgbench with one custom script per query class (scripts/workload/*.sql),
# run as role `app` in -M simple mode so pg_stat_statements separates it from the exporter.
#
#   workload.sh --port P [--host H] [--clients N] [--rate TPS] [--duration S] [--read-ratio R]
#               [--progress S]
#
#   --clients N     pgbench clients (default 4)
#   --rate TPS      total transactions per second, pgbench -R (default 100; 0 = unthrottled)
#   --duration S    seconds; 0 or absent = run until killed (SIGINT/SIGTERM)
#   --read-ratio R  share of read transactions, 0..1 (default: the study's mix, about 0.73).
#                   Weights within reads and within writes keep their proportions.
#   --progress S    pgbench progress report every S seconds (default off)
#
# Weights are the latency study's query mix (docs/latency.md). Entity counts come from
# ops.refdb_params (written by refdb.sh load) and are passed to pgbench with -D.
set -euo pipefail
source "$(dirname "$0")/require.sh"
require pgbench

here=$(cd "$(dirname "$0")" && pwd)
port="" host=127.0.0.1 clients=4 rate=100 duration=0 read_ratio="" progress=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --read-ratio) read_ratio=$2; shift 2 ;;
    --progress) progress=$2; shift 2 ;;
    *) echo "workload.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$port" ] || { echo "usage: workload.sh --port P [--clients N] [--rate TPS] [--duration S] [--read-ratio R]" >&2; exit 2; }

# class weight kind
mix="
guardrail_lookup 300 r
calendar_range 180 r
count_by_source 100 r
projections_pending 80 r
dashboard_agg 80 r
analytics_rollup 4 r
itinerary_scan 1 r
analytics_insert 150 w
context_insert 40 w
roadmap_update 50 w
roadmap_tx 20 w
projection_cleanup 15 w
"

export PGPASSWORD=app
params=$(psql -X -At -F '=' -h "$host" -p "$port" -U app -d sharedminds \
  -c "/* q:workload_setup */ SELECT name, value::bigint FROM ops.refdb_params WHERE name <> 'scale' ORDER BY name") \
  || { echo "workload.sh: cannot read ops.refdb_params (is the reference DB loaded?)" >&2; exit 1; }

args=(-h "$host" -p "$port" -U app -n -M simple -c "$clients" -j "$(( clients < 2 ? clients : 2 ))")
for p in $params; do args+=(-D "$p"); done
[ "$rate" != 0 ] && args+=(-R "$rate")
# pgbench without -T/-t runs 10 transactions per client: "until killed" is a ten-year -T.
if [ "$duration" = 0 ]; then args+=(-T 315360000); else args+=(-T "$duration"); fi
[ "$progress" != 0 ] && args+=(-P "$progress")

# Scale the weights so that reads get read_ratio of all transactions (integers, total ~ 1000).
while read -r cls w kind; do
  [ -n "$cls" ] || continue
  if [ -n "$read_ratio" ]; then
    w=$(awk -v w="$w" -v k="$kind" -v r="$read_ratio" -v mix="$mix" 'BEGIN {
          n = split(mix, f, /[ \n]+/); rs = 0; ws = 0
          for (i = 1; i + 2 <= n; i += 3) { if (f[i+2] == "r") rs += f[i+1]; else if (f[i+2] == "w") ws += f[i+1] }
          if (r < 0 || r > 1) { print "bad"; exit }
          v = (k == "r") ? w * r * 1000 / rs : w * (1 - r) * 1000 / ws
          printf "%d", v + 0.5 }')
    [ "$w" = bad ] && { echo "workload.sh: --read-ratio must be in 0..1" >&2; exit 2; }
  fi
  [ "$w" -gt 0 ] && args+=(-f "$here/workload/$cls.sql@$w")
done <<<"$mix"

echo "workload: pgbench ${args[*]} sharedminds" >&2
exec pgbench "${args[@]}" sharedminds

# Sourced by the benchmarks that run against the reference database (tests/fixtures/schema.sql and
# data.sql): one place that starts the cluster, the workload and the exporter and stops them when
# the benchmark exits (soak.sh, commit_latency.sh), and one that loads a kept database at a scale
# (migration_cost.sh, storage_cost.sh).
bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$bench_root/scripts/require.sh"

bench_cluster="" bench_workload_pid="" bench_exporter_pid=""
stop_reference_stack() {
  [ -n "$bench_exporter_pid" ] && kill "$bench_exporter_pid" 2>/dev/null || true
  [ -n "$bench_workload_pid" ] && kill "$bench_workload_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -z "$bench_cluster" ] || "$bench_root/scripts/pg_local.sh" stop "$bench_cluster"
}

# start_reference_cluster DIR PORT SCALE: a cluster in DIR on PORT with the SharedMinds database
# loaded at SCALE by scripts/refdb.sh, which also makes the exporter's and the probe's roles.
start_reference_cluster() {
  bench_cluster=$1
  trap stop_reference_stack EXIT
  "$bench_root/scripts/pg_local.sh" start "$1" "$2"
  "$bench_root/scripts/refdb.sh" load --port "$2" --scale "$3" >/dev/null
}

# start_workload PORT RATE LOG: the SharedMinds workload at RATE transactions per second.
start_workload() {
  "$bench_root/scripts/workload.sh" --port "$1" --rate "$2" --clients 2 >"$3" 2>&1 &
  bench_workload_pid=$!
}

# start_exporter BUILD_DIR CONFIG PORT LISTEN_PORT LOG: the exporter with CONFIG (which reads
# SHAREDMINDS_DSN and SHAREDMINDS_PROBE_DSN) against the cluster at PORT, as the least-privilege roles.
start_exporter() {
  export SHAREDMINDS_DSN="host=127.0.0.1 port=$3 dbname=sharedminds user=pge_exporter password=exporter"
  export SHAREDMINDS_PROBE_DSN="host=127.0.0.1 port=$3 dbname=sharedminds user=pge_probe_writer password=probe"
  "$1/pg_evolution_exporter" --config.file="$2" --web.listen-address="127.0.0.1:$4" --log.level=warn 2>"$5" &
  bench_exporter_pid=$!
}

# load_kept_database PORT SCALE: the database pge_bench_s<SCALE> on the cluster at PORT, loaded the
# first time and kept for re-runs (delete it by hand); sets bench_db to its name.
load_kept_database() {
  bench_db="pge_bench_s${2//./_}"
  local exists t0
  exists=$(psql -X -At -h 127.0.0.1 -p "$1" -U postgres -d postgres \
    -c "SELECT count(*) FROM pg_database WHERE datname = '$bench_db'")
  [ "$exists" = 0 ] || return 0
  t0=$(date +%s)
  local q=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$bench_db")
  psql -X -q -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "CREATE DATABASE $bench_db"
  "${q[@]}" -f "$bench_root/tests/fixtures/schema.sql" >/dev/null
  "${q[@]}" -v scale="$2" -f "$bench_root/tests/fixtures/data.sql" >/dev/null
  "${q[@]}" -c "CALL ops.refresh_dashboard_statistics()" -c "VACUUM ANALYZE"
  echo "loaded $bench_db at scale $2 in $(($(date +%s) - t0)) s"
}

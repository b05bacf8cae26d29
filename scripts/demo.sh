#!/usr/bin/env bash
# One-command demo: PostgreSQL with the SharedMinds reference database, its pg_cron jobs and
# workload, the exporter, Prometheus (with our rules) and Alertmanager, all on 127.0.0.1.
#
#   scripts/demo.sh [--scale S] [--duration S] [--no-exporter] [--no-build] [--skip-deps]
#
#   --scale S       reference data scale (default 0.1: 100k context_events, loads in seconds)
#   --duration S    stop everything by itself after S seconds (smoke tests); default: until Ctrl-C
#   --no-exporter   do not build or start the exporter (database, workload, Prometheus only)
#   --no-build      start the existing $PGE_BUILD_DIR/pg_evolution_exporter (default build/) without cmake
#   --skip-deps     do not run scripts/install-deps.sh
#
# Ports: PostgreSQL 15432, exporter 10187, Prometheus 9090, Alertmanager 9093. State in .demo/.
# Ctrl-C / SIGTERM stops everything this script started (each in its own process group) and the
# PostgreSQL cluster. Works as root (the server then runs as `postgres`) and as an ordinary user.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${PGE_BUILD_DIR:-$root/build}   # the same build directory as scripts/test.sh
scale=0.1 duration=0 exporter=1 deps=1 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --no-exporter) exporter=0; shift ;;
    --skip-deps) deps=0; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

PG_PORT=15432 EXPORTER_ADDR=127.0.0.1:10187 PROM_ADDR=127.0.0.1:9090 AM_ADDR=127.0.0.1:9093
demo=$root/.demo
log=$demo/logs
mkdir -p "$log" "$demo/prometheus" "$demo/alertmanager"
chmod 755 "$demo"

say() { echo "demo: $*"; }
die() { echo "demo: $*" >&2; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

# --- cleanup: every background component runs under setsid, so its pid is its process group ----
pids=() names=() pg_started=0 cleaning=0
cleanup() {
  [ "$cleaning" = 1 ] && return
  cleaning=1
  trap '' INT TERM
  local i pid alive
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM -- "-${pids[$i]}" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  [ "$pg_started" = 1 ] && "$root/scripts/pg_local.sh" stop "$pgdir" || true
  say "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_bg() {  # name logfile cmd...
  local name=$1 logfile=$2; shift 2
  setsid "$@" >"$logfile" 2>&1 </dev/null &
  pids+=("$!"); names+=("$name")
}

wait_http() {  # url seconds
  for _ in $(seq 1 $(( $2 * 5 ))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# --- dependencies and build ----------------------------------------------------------------------
[ "$deps" = 1 ] && { say "installing Debian packages (scripts/install-deps.sh)"; "$root/scripts/install-deps.sh"; }
source "$root/scripts/require.sh"
require curl setsid psql pgbench promtool prometheus prometheus-alertmanager
if [ "$exporter" = 1 ] && [ "$build" = 1 ]; then
  require cmake
  # Only the exporter: the tests and benchmarks are scripts/test.sh's business.
  say "building the exporter (log: $log/build.log)"
  (cmake -S "$root" -B "$builddir" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    cmake --build "$builddir" -j"$(nproc)" --target pg_evolution_exporter) >"$log/build.log" 2>&1 \
    || { tail -n 30 "$log/build.log" >&2; die "build failed"; }
fi
[ "$exporter" = 0 ] || [ -x "$builddir/pg_evolution_exporter" ] || die "$builddir/pg_evolution_exporter does not exist"

for addr in "127.0.0.1:$PG_PORT" "$PROM_ADDR" "$AM_ADDR" $([ "$exporter" = 1 ] && echo "$EXPORTER_ADDR"); do
  port_busy "$addr" && die "$addr is already in use (another demo running?)"
done

# --- PostgreSQL, reference database, jobs, workload ---------------------------------------------
pgdir=$demo/pg
# The server runs as `postgres` (created by the postgresql-15 package), which must be able to
# reach its data directory.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$demo"; then
  pgdir=/tmp/pge-demo-pg
  echo "demo: $demo is not traversable by user postgres; PostgreSQL data goes to $pgdir"
fi
say "starting PostgreSQL on 127.0.0.1:$PG_PORT ($pgdir)"
pg_started=1
"$root/scripts/pg_local.sh" start "$pgdir" "$PG_PORT"
"$root/scripts/refdb.sh" load --port "$PG_PORT" --scale "$scale"
"$root/scripts/refdb.sh" jobs --port "$PG_PORT" --fast
start_bg workload "$log/workload.log" "$root/scripts/workload.sh" --port "$PG_PORT" --progress 60

# --- exporter ------------------------------------------------------------------------------------
if [ "$exporter" = 1 ]; then
  # config/sharedminds.toml takes its DSNs from the environment (no password in the file).
  export SHAREDMINDS_DSN="host=127.0.0.1 port=$PG_PORT dbname=sharedminds user=pge_exporter password=exporter"
  export SHAREDMINDS_PROBE_DSN="host=127.0.0.1 port=$PG_PORT dbname=sharedminds user=pge_probe_writer password=probe"
  start_bg exporter "$log/exporter.log" "$builddir/pg_evolution_exporter" \
    --config.file="$root/config/sharedminds.toml" --web.listen-address="$EXPORTER_ADDR"
fi

# --- Alertmanager --------------------------------------------------------------------------------
am_config=$root/alerts/alertmanager.yml
if [ ! -f "$am_config" ]; then
  am_config=$demo/alertmanager.yml
  cat >"$am_config" <<'YML'
# Generated by scripts/demo.sh (alerts/alertmanager.yml does not exist): alerts are kept, not sent.
route:
  receiver: demo-null
  group_by: [alertname]
receivers:
  - name: demo-null
YML
fi
start_bg alertmanager "$log/alertmanager.log" prometheus-alertmanager --config.file="$am_config" \
  --storage.path="$demo/alertmanager" --web.listen-address="$AM_ADDR" --cluster.listen-address=

# --- Prometheus ----------------------------------------------------------------------------------
{
  echo "# Generated by scripts/demo.sh"
  echo "global:"
  echo "  scrape_interval: 15s"
  echo "  evaluation_interval: 15s"
  if compgen -G "$root/alerts/*.rules.yml" >/dev/null; then
    echo "rule_files:"
    echo "  - $root/alerts/*.rules.yml"
  fi
  echo "alerting:"
  echo "  alertmanagers:"
  echo "    - static_configs:"
  echo "        - targets: ['$AM_ADDR']"
  echo "scrape_configs:"
  echo "  - job_name: pg_evolution_exporter"
  echo "    static_configs:"
  echo "      - targets: ['$EXPORTER_ADDR']"
  echo "  - job_name: prometheus"
  echo "    static_configs:"
  echo "      - targets: ['$PROM_ADDR']"
} >"$demo/prometheus.yml"
promtool check config "$demo/prometheus.yml" >"$log/promtool.log" 2>&1 \
  || { cat "$log/promtool.log" >&2; die "Prometheus config or rules invalid"; }
start_bg prometheus "$log/prometheus.log" prometheus --config.file="$demo/prometheus.yml" \
  --storage.tsdb.path="$demo/prometheus" --web.listen-address="$PROM_ADDR"

wait_http "http://$PROM_ADDR/-/ready" 30 || die "Prometheus did not become ready (see $log/prometheus.log)"
wait_http "http://$AM_ADDR/-/ready" 30 || die "Alertmanager did not become ready (see $log/alertmanager.log)"
if [ "$exporter" = 1 ]; then
  wait_http "http://$EXPORTER_ADDR/metrics" 30 || die "exporter did not answer (see $log/exporter.log)"
fi

cat <<TXT

  SharedMinds demo is running (scale $scale).
    PostgreSQL    postgresql://app:app@127.0.0.1:$PG_PORT/sharedminds  (exporter role: pge_exporter/exporter)
$([ "$exporter" = 1 ] && echo "    Exporter      http://$EXPORTER_ADDR/metrics" || echo "    Exporter      (not started: --no-exporter)")
    Prometheus    http://$PROM_ADDR
    Alertmanager  http://$AM_ADDR
  Logs in $log. Faults: scripts/faults.sh --port $PG_PORT <fault>|heal|status
  $([ "$duration" != 0 ] && echo "Stopping by itself after $duration s." || echo "Ctrl-C stops everything.")

TXT

# --- run until Ctrl-C / TERM / --duration; a component that dies ends the demo with an error -----
start=$SECONDS
while :; do
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null || { tail -n 20 "$log/${names[$i]}.log" >&2; die "${names[$i]} exited unexpectedly"; }
  done
  [ "$duration" != 0 ] && [ $(( SECONDS - start )) -ge "$duration" ] && break
  sleep 1
done
exit 0

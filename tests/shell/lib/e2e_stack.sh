# Sourced by the end-to-end tests in tests/shell: PostgreSQL with the reference database, the exporter
# with every collector every 2 s, Prometheus scraping it, and helpers to wait on Prometheus. The
# caller sets `root`, `work`, `pgdir`, `exporter` (and `exporter_addr`, `prom_addr` for Prometheus)
# and calls `e2e_cleanup` on exit (it stops what e2e_start_bg started and the cluster). A caller
# that sets `exporter_log` gets the exporter's log there in JSON, for
# tests/logs/check_exporter_logs.py.

e2e_pids=()
e2e_fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "$work"/*.log ${exporter_log:+"$exporter_log"}; do [ -f "$log" ] && { echo "--- $log (tail)" >&2; tail -n 20 "$log" >&2; }; done
  exit 1
}
e2e_start_bg() {  # logfile cmd...: runs cmd in the background, stopped by e2e_cleanup
  local logfile=$1
  shift
  "$@" >"$logfile" 2>&1 &
  e2e_pids+=($!)
}
e2e_cleanup() {
  local pid
  for pid in "${e2e_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${e2e_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$root/scripts/pg_local.sh" stop "$pgdir" || true
}

# e2e_begin: checks that the exporter is built, stops everything started here on exit, and starts
# from an empty $work (with $work/tsdb for Prometheus).
e2e_begin() {
  [ -x "$exporter" ] || e2e_fail "$exporter not built"
  trap e2e_cleanup EXIT
  trap 'exit 1' INT TERM
  rm -rf "$work" && mkdir -p "$work/tsdb"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: retry once a second
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ $SECONDS -lt $deadline ] || e2e_fail "timed out after waiting for: $what"
    sleep 1
  done
}

# PromQL query against $prom_addr -> JSON result on stdout; fails on an HTTP error or a status other
# than success.
promql() {
  curl -sfG "http://$prom_addr/api/v1/query" --data-urlencode "query=$1" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); r["status"] == "success" or sys.exit(1); print(json.dumps(r["data"]["result"]))'
}
has_result() { [ "$(promql "$1" 2>/dev/null || echo '[]')" != "[]" ]; }

# e2e_start_refdb PORT: the cluster in $pgdir with the reference database at scale 0.01.
e2e_start_refdb() {
  "$root/scripts/pg_local.sh" start "$pgdir" "$1"
  "$root/scripts/refdb.sh" load --port "$1" --scale 0.01 >"$work/refdb.log" 2>&1 || e2e_fail "refdb.sh load failed"
}

# e2e_start_exporter PG_PORT ADDR: the SharedMinds config's target section (write probe included),
# every registered collector every 2 s; returns once /metrics reports pg_up 1 and every collector ran.
e2e_start_exporter() {
  local pg_port=$1 addr=$2
  {
    sed -n '/^\[\[target\]\]/,/^# Per-collector settings/p' "$root/config/sharedminds.toml" \
      | sed '/^# Per-collector settings/d'
    "$exporter" --help | sed -n 's/^ *--collector\.\([a-z_]*\).*/\1/p' | while read -r name; do
      printf '\n[collectors.%s]\ninterval = "2s"\ntimeout = "2s"\n' "$name"
    done
  } >"$work/exporter.toml"
  export SHAREDMINDS_DSN="host=127.0.0.1 port=$pg_port dbname=sharedminds user=pge_exporter password=exporter"
  export SHAREDMINDS_PROBE_DSN="host=127.0.0.1 port=$pg_port dbname=sharedminds user=pge_probe_writer password=probe"
  "$exporter" --config.check --config.file="$work/exporter.toml" >"$work/config-check.log" 2>&1 \
    || e2e_fail "generated exporter config rejected (see $work/config-check.log)"
  local -a run=("$exporter" --config.file="$work/exporter.toml" --web.listen-address="$addr")
  if [ -n "${exporter_log:-}" ]; then
    "${run[@]}" --log.format=json >"$work/exporter.log" 2>"$exporter_log" &
    e2e_pids+=($!)
  else
    e2e_start_bg "$work/exporter.log" "${run[@]}"
  fi
  wait_for 30 "exporter /metrics with pg_up 1" \
    sh -c "curl -sf http://$addr/metrics | grep -q '^pg_up{target=\"sharedminds\"} 1'"
  sleep 5  # every collector has run at least once
}

# e2e_start_prometheus JOB [--alertmanager ADDR] RULE_FILE...: Prometheus on $prom_addr, its data in
# $work/tsdb, scraping the exporter on $exporter_addr as job JOB and evaluating RULE_FILEs every 2 s
# (sending alerts to the Alertmanager at ADDR, resent every 2 s); returns once the target is up.
e2e_start_prometheus() {
  local job=$1 alerting="" resend=()
  shift
  if [ "$1" = --alertmanager ]; then
    alerting="alerting: {alertmanagers: [{static_configs: [{targets: ['$2']}]}]}"
    resend=(--rules.alert.resend-delay=2s)
    shift 2
  fi
  cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
$(printf '  - %s\n' "$@")
$alerting
scrape_configs:
  - job_name: $job
    static_configs:
      - targets: ['$exporter_addr']
YML
  promtool check config "$work/prometheus.yml" >"$work/check-config.log" 2>&1 || e2e_fail "promtool check config"
  e2e_start_bg "$work/prometheus.log" prometheus --config.file="$work/prometheus.yml" \
    --storage.tsdb.path="$work/tsdb" --web.listen-address="$prom_addr" "${resend[@]}"
  wait_for 30 "Prometheus ready" curl -sf "http://$prom_addr/-/ready" -o /dev/null
  wait_for 30 "scrape target up" has_result "up{job=\"$job\"} == 1"
}

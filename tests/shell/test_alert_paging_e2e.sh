#!/usr/bin/env bash
# Paging delivered end to end: PostgreSQL (reference DB, workload) -> pg_evolution_exporter ->
# Prometheus (alerts/pg_evolution.rules.yml) -> Alertmanager (alerts/alertmanager.yml: its routes and
# inhibitions, receivers pointed at a local webhook) -> a webhook receiver (python3 http.server) that
# records every notification. Faults are injected on the reference database with scripts/faults.sh:
#   1. a writer stops dual-writing (stop-backfill)   -> PromotedColumnDualWriteBroken, warning, /ticket
#   2. rows land in the DEFAULT partition             -> PartitionDefaultHasRows, warning, /ticket
#   3. the guardrail lookup loses its indexes         -> PostgresQueryLatencyRegression{class=
#      (slow-lookup), its p95 goes far past +20%         "guardrail_lookup"}: warning to /ticket, then,
#                                                        sustained, critical to /page
# Each notification must arrive with the alert's labels (alertname, severity, target, and the object:
# relname/column, class), and, after the fault is healed, a resolved notification must follow.
# Time is compressed: every `for:` minute of the rules is a second here (15m -> 15s, 1h -> 60s), the
# latency baseline is 3 minutes instead of a day ago, rate windows are 30s; Alertmanager waits 1 s
# per group. The promtool tests (alerts/tests) cover the real durations.
# Ports: PGE_TEST_PORT + 40..44. Everything started here is stopped on exit.
# Usage: test_alert_paging_e2e.sh BUILD_DIR
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: test_alert_paging_e2e.sh BUILD_DIR}" && pwd)
base=$(( ${PGE_TEST_PORT:-25432} + 40 ))
pg_port=$base exporter_addr=127.0.0.1:$((base + 1)) prom_addr=127.0.0.1:$((base + 2))
am_addr=127.0.0.1:$((base + 3)) hook_addr=127.0.0.1:$((base + 4))
work="$build/e2e-paging"
pgdir="$build/e2e-paging-pg"
exporter="$build/pg_evolution_exporter"
notifications="$work/notifications.jsonl"

source "$root/scripts/require.sh"
source "$root/tests/shell/lib/e2e_stack.sh"
fail() { e2e_fail "$@"; }
require prometheus promtool prometheus-alertmanager curl psql python3
require_python_module yaml
e2e_begin
mkdir -p "$work/am"

echo "== PostgreSQL on $pg_port with the reference database, workload"
e2e_start_refdb "$pg_port"
e2e_start_bg "$work/workload.log" "$root/scripts/workload.sh" --port "$pg_port" --rate 40
echo "== exporter on $exporter_addr"
e2e_start_exporter "$pg_port" "$exporter_addr"

echo "== webhook receiver on $hook_addr"
# (A script file: a background command's stdin is /dev/null, so it cannot read a here-document.)
cat >"$work/webhook.py" <<'PY'
import http.server, json, sys
host, port = sys.argv[1].split(":")
out = open(sys.argv[2], "a")

class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        out.write(json.dumps({"path": self.path, "body": body}) + "\n")
        out.flush()
        self.send_response(200)
        self.end_headers()

http.server.HTTPServer((host, int(port)), Hook).serve_forever()
PY
e2e_start_bg "$work/webhook.log" python3 -u "$work/webhook.py" "$hook_addr" "$notifications"
wait_for 10 "webhook receiver listening" curl -s -o /dev/null "http://$hook_addr/"

echo "== Alertmanager on $am_addr (alerts/alertmanager.yml, receivers -> $hook_addr)"
python3 - "$root/alerts/alertmanager.yml" "$work/alertmanager.yml" "$hook_addr" <<'PY'
import sys, yaml
src, dst, hook = sys.argv[1:]
config = yaml.safe_load(open(src))
def shorten(route, top=False):
    if top or "group_wait" in route:
        route.update(group_wait="1s", group_interval="2s")
    for child in route.get("routes", []):
        shorten(child)
shorten(config["route"], top=True)
for receiver in config["receivers"]:
    for hook_config in receiver.get("webhook_configs", []):
        hook_config["url"] = f"http://{hook}/{receiver['name']}"
yaml.safe_dump(config, open(dst, "w"))
PY
e2e_start_bg "$work/alertmanager.log" prometheus-alertmanager --config.file="$work/alertmanager.yml" \
  --storage.path="$work/am" --web.listen-address="$am_addr" --cluster.listen-address=
wait_for 30 "Alertmanager ready" curl -sf "http://$am_addr/-/ready" -o /dev/null

echo "== Prometheus on $prom_addr (rules with compressed time)"
sed -E -e 's/^( +for:) ([0-9]+)m$/\1 \2s/; s/^( +for:) ([0-9]+)h$/\1 \2m/' \
    -e 's/\[1h\] offset 1d/[1m] offset 3m/g; s/\[5m\]/[30s]/g' \
    "$root/alerts/pg_evolution.rules.yml" >"$work/rules.yml"
e2e_start_prometheus pg_evolution_exporter --alertmanager "$am_addr" "$work/rules.yml"
faults() { "$root/scripts/faults.sh" --port "$pg_port" "$@" >>"$work/faults.log" 2>&1 || fail "faults.sh $*"; }
touch "$notifications"

# notified PATH STATUS LABELS_JSON: a notification on PATH (/page, /ticket) holds an alert with
# STATUS (firing, resolved) whose labels include LABELS_JSON.
notified() {
  python3 - "$notifications" "$@" <<'PY'
import json, sys
path, status, want = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
for line in open(sys.argv[1]):
    n = json.loads(line)
    if n["path"] != path:
        continue
    for a in n["body"]["alerts"]:
        if a["status"] == status and all(a["labels"].get(k) == v for k, v in want.items()):
            sys.exit(0)
sys.exit(1)
PY
}
firing_in_prometheus() {  # alertname severity: firing now (not pending)
  has_result "ALERTS{alertname=\"$1\",severity=\"$2\",alertstate=\"firing\"}"
}
expect() {  # SECONDS PATH STATUS LABELS_JSON
  wait_for "$1" "notification $3 on $2 with $4" notified "$2" "$3" "$4"
  echo "  $2 $3: $4"
}

echo "== quiet before any fault: no notification of the alerts under test"
sleep 20
for name in PromotedColumnDualWriteBroken PartitionDefaultHasRows PostgresQueryLatencyRegression; do
  if grep -q "\"alertname\": \"$name\"" "$notifications"; then fail "$name notified before its fault"; fi
done

dual='{"alertname": "PromotedColumnDualWriteBroken", "severity": "warning", "target": "sharedminds", "relname": "context_events", "column": "source_type"}'
echo "== fault 1: a writer stops dual-writing"
faults stop-backfill 200
expect 90 /ticket firing "$dual"
faults heal
faults backfill  # the rows written meanwhile get their column: nothing is missing any more
expect 90 /ticket resolved "$dual"

default='{"alertname": "PartitionDefaultHasRows", "severity": "warning", "target": "sharedminds", "relname": "analytics_events"}'
echo "== fault 2: rows land in the DEFAULT partition"
faults default-rows 50
expect 90 /ticket firing "$default"
faults heal
expect 90 /ticket resolved "$default"

echo "== fault 3: the guardrail lookup loses its indexes"
# The baseline is the p95 of 3 minutes ago: wait until there is one for the class.
wait_for 240 "a latency baseline for guardrail_lookup" \
  has_result 'class:pg_stat_statements_duration_seconds:p95_rate5m_baseline1d{class="guardrail_lookup"}'
slow_warning='{"alertname": "PostgresQueryLatencyRegression", "severity": "warning", "target": "sharedminds", "class": "guardrail_lookup", "command": "select"}'
slow_critical='{"alertname": "PostgresQueryLatencyRegression", "severity": "critical", "target": "sharedminds", "class": "guardrail_lookup", "command": "select"}'
faults slow-lookup
expect 90 /ticket firing "$slow_warning"
expect 120 /page firing "$slow_critical"
firing_in_prometheus PostgresQueryLatencyRegression critical || fail "the page fired but the alert is not firing any more before healing"
faults heal
expect 120 /page resolved "$slow_critical"
echo "PASS"

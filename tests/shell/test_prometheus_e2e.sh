#!/usr/bin/env bash
# End to end with a real Prometheus: PostgreSQL (reference DB) -> pg_evolution_exporter -> Prometheus
# loading alerts/pg_evolution.rules.yml. Checks:
#   1. `promtool check metrics` accepts the exporter's /metrics
#   2. the target is up in Prometheus and pg_up == 1
#   3. recording rules produce values (transaction rate; statement p95 under a short workload)
#   4. every alert and recording-rule expression and every Grafana panel/variable query evaluates
#      without error through the query API
#   5. PostgresInvalidIndex is not firing, then fires after a failed CREATE UNIQUE INDEX
#      CONCURRENTLY (scripts/faults.sh invalidate-index)
# The rules are loaded with every `for:` cut to 10s so that step 5 takes seconds, not 10 minutes;
# the `for:` durations themselves are covered by the promtool unit tests (alerts/tests).
# Everything started here is stopped on exit.
# Usage: test_prometheus_e2e.sh BUILD_DIR
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: test_prometheus_e2e.sh BUILD_DIR}" && pwd)
base=$(( ${PGE_TEST_PORT:-25432} + 60 ))
pg_port=$base prom_addr=127.0.0.1:$((base + 1)) exporter_addr=127.0.0.1:$((base + 2))
work="$build/e2e-prometheus"
pgdir="$build/e2e-pg"
exporter="$build/pg_evolution_exporter"
# Its log, in JSON, joins the others that tests/logs/check_exporter_logs.py parses after the run.
exporter_log="$build/exporter-logs/shell_prometheus_e2e.json"
mkdir -p "$build/exporter-logs"

source "$root/scripts/require.sh"
source "$root/tests/shell/lib/e2e_stack.sh"
fail() { e2e_fail "$@"; }
require prometheus promtool curl psql
require_python_module yaml
[ -x "$root/scripts/refdb.sh" ] || fail "scripts/refdb.sh missing"
e2e_begin

echo "== PostgreSQL on $pg_port with the reference database"
e2e_start_refdb "$pg_port"
echo "== exporter on $exporter_addr (every collector every 2s)"
e2e_start_exporter "$pg_port" "$exporter_addr"

echo "== promtool check metrics"
curl -sf "http://$exporter_addr/metrics" >"$work/metrics.txt"
promtool check metrics <"$work/metrics.txt" >"$work/check-metrics.log" 2>&1 \
  || { cat "$work/check-metrics.log" >&2; fail "promtool check metrics rejected /metrics"; }

echo "== Prometheus on $prom_addr"
sed -E 's/^( +for:) .*/\1 10s/' "$root/alerts/pg_evolution.rules.yml" >"$work/rules.yml"
e2e_start_prometheus pg_evolution_exporter "$work/rules.yml"
has_result 'pg_up{target="sharedminds"} == 1' || fail "pg_up is not 1"

echo "== recording rules"
wait_for 30 "datname:pg_stat_database_xact:rate5m" has_result 'datname:pg_stat_database_xact:rate5m > 0'
e2e_start_bg "$work/workload.log" "$root/scripts/workload.sh" --port "$pg_port" --rate 50 --duration 20
wait_for 60 "a statement p95 by class under the workload" \
  has_result 'class:pg_stat_statements_duration_seconds:p95_rate5m > 0'

echo "== every alert, recording rule and dashboard expression evaluates"
python3 - "$root" "$prom_addr" <<'PY' || fail "some expressions do not evaluate"
import glob, json, re, sys, urllib.parse, urllib.request, yaml

root, addr = sys.argv[1:]
exprs = [(r.get("alert") or r.get("record"), r["expr"])
         for g in yaml.safe_load(open(f"{root}/alerts/pg_evolution.rules.yml"))["groups"] for r in g["rules"]]
variables = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}
for path in sorted(glob.glob(f"{root}/grafana/*.json")):
    board = json.load(open(path))
    for v in board["templating"]["list"]:
        variables.setdefault("$" + v["name"], ".*")
        if v.get("type") == "query":
            exprs.append((f"{path} variable {v['name']}",
                          re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", v["query"]["query"])))
    exprs += [(f"{path} '{p['title']}'", t["expr"]) for p in board["panels"] for t in p.get("targets", [])]
bad = 0
for where, expr in exprs:
    for var in sorted(variables, key=len, reverse=True):
        expr = expr.replace(var, variables[var])
    url = f"http://{addr}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        status = json.load(urllib.request.urlopen(url, timeout=10))["status"]
    except Exception as e:  # HTTP 400/422 carry the parse or execution error
        status = getattr(e, "read", lambda: str(e).encode())().decode()
    if status != "success":
        bad += 1
        print(f"  {where}: {status}\n    {expr}")
print(f"  {len(exprs) - bad}/{len(exprs)} expressions evaluate")
sys.exit(1 if bad else 0)
PY

echo "== PostgresInvalidIndex: silent, then firing after a failed CREATE UNIQUE INDEX CONCURRENTLY"
firing() {
  curl -sf "http://$prom_addr/api/v1/alerts" | python3 -c '
import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
sys.exit(not any(a["labels"].get("alertname") == "PostgresInvalidIndex" and a["state"] == "firing"
                 and a["labels"].get("indexrelname") == "idx_context_events_created_by_uniq" for a in alerts))'
}
sleep 12  # longer than the shortened for: so a wrongly matching expression would already fire
if firing; then fail "PostgresInvalidIndex fires before the fault"; fi
"$root/scripts/faults.sh" --port "$pg_port" invalidate-index >"$work/fault.log" 2>&1 || fail "faults.sh invalidate-index"
wait_for 60 "PostgresInvalidIndex firing for idx_context_events_created_by_uniq" firing
curl -sf "http://$prom_addr/api/v1/alerts" | python3 -c '
import json, sys
for a in json.load(sys.stdin)["data"]["alerts"]:
    if a["labels"]["alertname"] == "PostgresInvalidIndex":
        print("  firing:", a["annotations"]["summary"], "severity=" + a["labels"]["severity"])'
echo "PASS"

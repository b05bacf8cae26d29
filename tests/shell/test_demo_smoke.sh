#!/usr/bin/env bash
# Smoke test of the README's first command: the demo starts PostgreSQL with the reference database,
# the workload and jobs, the exporter, Prometheus and Alertmanager; /metrics and Prometheus' API
# answer; and when it stops (--duration) nothing it started is left running.
set -euo pipefail
source "$(dirname "$0")/../../scripts/require.sh"
require curl pgrep setsid
build=${1:?usage: test_demo_smoke.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
log=$build/demo_smoke.log
fail() { echo "FAIL: $*" >&2; tail -n 40 "$log" >&2 || true; exit 1; }

PGE_BUILD_DIR=$build setsid "$root/scripts/demo.sh" --skip-deps --no-build --scale 0.01 --duration 60 >"$log" 2>&1 &
demo=$!
trap 'kill -TERM -- -$demo 2>/dev/null || true' EXIT

metric() { curl -sf http://127.0.0.1:10187/metrics | grep -E "^$1[ {]" | head -n1 | awk '{print $NF}'; }
for _ in $(seq 90); do [ "$(metric 'pg_up\{target="sharedminds"\}')" = 1 ] && break; sleep 1; done
[ "$(metric 'pg_up\{target="sharedminds"\}')" = 1 ] || fail "exporter never reported pg_up 1"
echo "ok: exporter serves pg_up 1 for target sharedminds"
for _ in $(seq 30); do [ -n "$(metric pg_stat_user_tables_n_live_tup)" ] && break; sleep 1; done
[ -n "$(metric pg_stat_user_tables_n_live_tup)" ] || fail "no table metrics"
echo "ok: table metrics present"

query() { curl -sf "http://127.0.0.1:9090/api/v1/query" --data-urlencode "query=$1"; }
for _ in $(seq 45); do query 'up{job="pg_evolution_exporter"} == 1' | grep -q '"value"' && break; sleep 1; done
query 'up{job="pg_evolution_exporter"} == 1' | grep -q '"value"' || fail "Prometheus never scraped the exporter"
query 'pg_up' | grep -q '"value"' || fail "Prometheus has no pg_up"
echo "ok: Prometheus scrapes the exporter"
curl -sf http://127.0.0.1:9093/-/ready >/dev/null || fail "Alertmanager not ready"
echo "ok: Alertmanager ready"

wait "$demo" || fail "demo exited with an error"
trap - EXIT
sleep 1
for port in 15432 10187 9090 9093; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "port $port still open after the demo stopped"; fi
done
if pgrep -f "$root/.demo" >/dev/null; then fail "processes of the demo still running: $(pgrep -af "$root/.demo")"; fi
echo "ok: the demo stopped everything it started"
# The demo's exporter log joins those that tests/logs/check_exporter_logs.py parses after the run.
mkdir -p "$build/exporter-logs"
cp "$root/.demo/logs/exporter.log" "$build/exporter-logs/shell_demo_smoke.logfmt"

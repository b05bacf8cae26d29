#!/usr/bin/env bash
# The postgres-mixin works unchanged against pg_evolution_exporter: PostgreSQL (reference DB, under
# the SharedMinds workload) -> exporter -> a real Prometheus loading
# alerts/postgres_exporter_compat.rules.yml and the mixin's alerts (tests/fixtures/postgres_mixin/,
# verbatim from prometheus-community/postgres_exporter). Checks:
#   1. `promtool check rules` accepts the mixin fixture and the compat rules
#   2. every mixin alert rule evaluates in Prometheus without error (rule health "ok")
#   3. every mixin expression returns at least one series through the query API:
#      - each alert expression with `bool` added to each of its comparison operators, so that it
#        yields a 0/1 sample for every series it compares instead of only those over the
#        threshold: "returns data" then means every series it needs exists and matches;
#      - each overview dashboard panel expression and variable selector, variables substituted as
#        the fixture's header says (Grafana with every variable at "All").
#      The test names every expression that returns nothing. EXPECTED_EMPTY below lists those that
#      cannot return data against this exporter, with the reason: on 15 it is empty; on 17
#      (PGE_TEST_PG=17) it holds the panels of counters that 17 no longer has (docs/versions.md).
# The reference database has no replication: a physical replication slot (inactive) is created, if
# the cluster kept from a previous run has none, so that the slot alert has a slot to look at.
# Everything started here is stopped on exit.
# Usage: test_postgres_mixin.sh BUILD_DIR
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: test_postgres_mixin.sh BUILD_DIR}" && pwd)
base=$((${PGE_TEST_PORT:-25432} + 70))
pg_port=$base prom_addr=127.0.0.1:$((base + 1)) exporter_addr=127.0.0.1:$((base + 2))
work="$build/e2e-postgres-mixin"
pgdir="$build/e2e-postgres-mixin-pg"
exporter="$build/pg_evolution_exporter"
exporter_log="$build/exporter-logs/shell_postgres_mixin.json"
fixtures="$root/tests/fixtures/postgres_mixin"
compat="$root/alerts/postgres_exporter_compat.rules.yml"
mkdir -p "$build/exporter-logs"

source "$root/scripts/require.sh"
source "$root/tests/shell/lib/e2e_stack.sh"
fail() { e2e_fail "$@"; }
require prometheus promtool curl psql
require_python_module yaml
e2e_begin

echo "== promtool check rules"
promtool check rules "$fixtures/alerts.yml" "$compat" >"$work/check-rules.log" 2>&1 \
  || { cat "$work/check-rules.log" >&2; fail "promtool check rules"; }

echo "== PostgreSQL on $pg_port with the reference database and one replication slot"
e2e_start_refdb "$pg_port"
psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d sharedminds -v ON_ERROR_STOP=1 \
  -c "SELECT pg_create_physical_replication_slot('pge_mixin_standby') WHERE NOT EXISTS
        (SELECT FROM pg_replication_slots WHERE slot_name = 'pge_mixin_standby')" >"$work/slot.log" 2>&1 \
  || fail "could not create the replication slot"
echo "== exporter on $exporter_addr (every collector every 2s)"
e2e_start_exporter "$pg_port" "$exporter_addr"

echo "== Prometheus on $prom_addr with the compat rules and the mixin's alerts"
e2e_start_prometheus postgres "$compat" "$fixtures/alerts.yml"
e2e_start_bg "$work/workload.log" "$root/scripts/workload.sh" --port "$pg_port" --rate 50 --duration 60
# rate() and irate() need two samples of each recorded series.
wait_for 60 "two evaluations of the compat rules" \
  has_result 'count_over_time(pg_stat_database_xact_commit[1m]) >= 2'

echo "== every mixin expression returns data"
python3 - "$fixtures" "$prom_addr" <<'PY' || fail "some postgres-mixin expressions return no data"
import json, os, re, sys, time, urllib.parse, urllib.request, yaml

fixtures, addr = sys.argv[1:]
# Expressions that cannot return data against this exporter, by name, with the reason.
EXPECTED_EMPTY = {}
if os.environ.get("PGE_TEST_PG", "15") == "17":
    gone = "PostgreSQL 17 dropped pg_stat_bgwriter.buffers_backend* (backend writes are in pg_stat_io)"
    EXPECTED_EMPTY = {"panel 'Buffers' buffers_backend": gone, "panel 'Buffers' buffers_backend_fsync": gone}


def api(path, **params):
    url = f"http://{addr}/api/v1/{path}?" + urllib.parse.urlencode(params)
    try:
        return json.load(urllib.request.urlopen(url, timeout=10))
    except urllib.error.HTTPError as e:  # 400/422 carry the parse or execution error
        return json.load(e)


def with_bool(expr):
    """Adds `bool` to every comparison operator outside label matchers and strings."""
    out, i, braces = [], 0, 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            end = i + 1
            while expr[end] != c:
                end += 2 if expr[end] == "\\" else 1
            out.append(expr[i:end + 1])
            i = end + 1
            continue
        braces += (c == "{") - (c == "}")
        op = re.match(r"==|!=|>=|<=|>|<", expr[i:]) if braces == 0 else None
        if op:
            out.append(op.group(0) + " bool")
            i += len(op.group(0))
            continue
        out.append(c)
        i += 1
    return "".join(out)


alerts = [r for g in yaml.safe_load(open(f"{fixtures}/alerts.yml"))["groups"] for r in g["rules"]]
board = yaml.safe_load(open(f"{fixtures}/overview_dashboard.yml"))
substitute = {"$__rate_interval": "1m"}
for v in board["variables"]:
    substitute["$" + v["name"]] = v["all_value"]


def grafana(expr):
    for var in sorted(substitute, key=len, reverse=True):
        expr = expr.replace(var, substitute[var])
    return expr


checks = [(f"alert {r['alert']}", with_bool(r["expr"])) for r in alerts]
checks += [(f"panel '{p['panel']}' {p['legend']}".rstrip(), grafana(p["expr"])) for p in board["panels"]]
checks += [(f"variable {v['name']}", grafana(re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", v["query"])))
           for v in board["variables"]]

# 2. The mixin's own rules, as Prometheus evaluates them ("unknown" until their first evaluation).
deadline = time.time() + 30
while True:
    rules = {r["name"]: r for g in api("rules")["data"]["groups"] for r in g["rules"]}
    health = {r["alert"]: rules.get(r["alert"], {}) for r in alerts}
    if all(h.get("health") in ("ok", "err") for h in health.values()) or time.time() > deadline:
        break
    time.sleep(1)
unhealthy = [(name, h.get("health"), h.get("lastError")) for name, h in health.items() if h.get("health") != "ok"]
for name, state, error in unhealthy:
    print(f"  rule {name}: health {state}: {error}")


# 3. Each expression, retried for a while: counters need samples before rate() has one.
def empty(expr):
    answer = api("query", query=expr)
    if answer["status"] != "success":
        return answer.get("error", "error")
    return None if answer["data"]["result"] else "no series"


deadline = time.time() + 60
while True:
    missing = {where: (expr, why) for where, expr in checks if (why := empty(expr))}
    if not set(missing) - set(EXPECTED_EMPTY) or time.time() > deadline:
        break
    time.sleep(2)
for where, (expr, why) in missing.items():
    reason = EXPECTED_EMPTY.get(where)
    print(f"  {where}: {why}" + (f" (expected: {reason})" if reason else "") + f"\n    {' '.join(expr.split())}")
stale = set(EXPECTED_EMPTY) - set(missing)
for where in stale:
    print(f"  {where} is listed as expected empty but returns data: take it off the list")
print(f"  {len(checks) - len(missing)}/{len(checks)} mixin expressions return data "
      f"({len(alerts)} alerts, {len(board['panels'])} panel queries, {len(board['variables'])} variables); "
      f"{len(alerts) - len(unhealthy)}/{len(alerts)} mixin rules healthy")
sys.exit(1 if unhealthy or stale or set(missing) - set(EXPECTED_EMPTY) else 0)
PY
echo "PASS"

#!/usr/bin/env bash
# Static checks of alerts/ and grafana/ (no database needed):
#   - promtool check rules + promtool test rules alerts/tests/*.yml
#   - every alert has a promtool test where it fires and one where it does not; every recording rule
#     is checked by a promql_expr_test or used by a tested alert; every alert has a severity of
#     page|ticket and summary/description/runbook annotations, and its runbook anchor exists
#   - amtool check-config alerts/alertmanager.yml and its routing
#   - the Grafana dashboards are valid JSON, are what grafana/build_dashboards.py writes, and select
#     their datasource through a variable (no hard-coded uid)
#   - every metric name used by the rules and the dashboards is documented in docs/metrics.md
# Usage: test_alert_rules.sh BUILD_DIR
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: test_alert_rules.sh BUILD_DIR}
work="$build/test_alert_rules"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

source "$root/scripts/require.sh"
require promtool amtool
require_python_module yaml

echo "== promtool check rules"
promtool check rules "$root/alerts/pg_evolution.rules.yml" "$root/alerts/postgres_exporter_compat.rules.yml"

echo "== promtool test rules"
(cd "$root/alerts/tests" && promtool test rules ./*.yml)

echo "== alertmanager config"
amtool check-config "$root/alerts/alertmanager.yml"
route() { amtool config routes test --config.file="$root/alerts/alertmanager.yml" "$@"; }
[ "$(route alertname=PostgresDown severity=page target=sm)" = page ] || fail "page alerts must route to the page receiver"
[ "$(route alertname=PostgresInvalidIndex severity=ticket target=sm)" = ticket ] || fail "ticket alerts must route to the ticket receiver"

echo "== grafana dashboards"
for f in "$root"/grafana/*.json; do
  python3 -m json.tool "$f" >/dev/null || fail "$f is not valid JSON"
done
# The committed JSON must be what the generator writes (nobody edited one side only).
cp -r "$root/grafana" "$work/grafana"
python3 "$work/grafana/build_dashboards.py" >/dev/null
for f in "$root"/grafana/*.json; do
  cmp -s "$f" "$work/grafana/$(basename "$f")" || fail "$(basename "$f") differs from grafana/build_dashboards.py output: run it"
done

echo "== rule coverage, annotations and metric names"
python3 - "$root" <<'PY'
import glob, json, re, sys, yaml

root = sys.argv[1]
errors = []
rules = [r for g in yaml.safe_load(open(f"{root}/alerts/pg_evolution.rules.yml"))["groups"] for r in g["rules"]]
alerts = [r for r in rules if "alert" in r]
records = {r["record"] for r in rules if "record" in r}
docs_alerts = open(f"{root}/docs/alerts.md").read() if glob.glob(f"{root}/docs/alerts.md") else ""

# --- tests: each alert fires somewhere and stays silent somewhere ---------------------------------
fires, silent, tested_exprs = set(), set(), []
for path in glob.glob(f"{root}/alerts/tests/*.yml"):
    for test in yaml.safe_load(open(path))["tests"]:
        for a in test.get("alert_rule_test", []):
            (fires if a.get("exp_alerts") else silent).add(a["alertname"])
        tested_exprs += [e["expr"] for e in test.get("promql_expr_test", [])]
for a in alerts:
    name = a["alert"]
    if name not in fires:
        errors.append(f"alert {name}: no promtool test where it fires")
    if name not in silent:
        errors.append(f"alert {name}: no promtool test where it stays silent")
    if a.get("labels", {}).get("severity") not in ("page", "ticket"):
        errors.append(f"alert {name}: severity must be page or ticket")
    for key in ("summary", "description", "runbook"):
        if not a.get("annotations", {}).get(key):
            errors.append(f"alert {name}: missing annotation {key}")
    anchor = a.get("annotations", {}).get("runbook", "").partition("#")[2]
    if anchor and not re.search(rf"^#+ {re.escape(name)}\s*$", docs_alerts, re.M):
        errors.append(f"alert {name}: docs/alerts.md has no heading '{name}' for runbook #{anchor}")
    if anchor != name.lower():
        errors.append(f"alert {name}: runbook anchor should be #{name.lower()}")
used_by_alerts = " ".join(a["expr"] for a in alerts) + " " + " ".join(tested_exprs)
for rec in sorted(records):
    if not re.search(rf"(?<![\w:]){re.escape(rec)}(?![\w:])", used_by_alerts):
        errors.append(f"recording rule {rec}: neither tested by a promql_expr_test nor used by an alert")

# --- metric names ---------------------------------------------------------------------------------
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
            "offset", "bool", "inf", "nan", "atan2"}
PROMETHEUS_OWN = {"up", "ALERTS", "ALERTS_FOR_STATE"}

def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)            # label values
    e = re.sub(r"\{[^}]*\}", "", e)                          # matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                         # ranges and subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"(?<![\w.:$])([a-zA-Z_:][\w:]*)(?!\w)(\s*\()?", e):
        name, call = m.group(1), m.group(2)
        if call or name in KEYWORDS or name in PROMETHEUS_OWN or ":" in name:
            continue
        names.add(name)
    return names

documented = set(re.findall(r"`([a-zA-Z_:][\w:]*)`", open(f"{root}/docs/metrics.md").read()))

def documented_name(name):
    if name in documented:
        return True
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base != name and base in documented

uses = []  # (where, expr)
uses += [(f"rule {r.get('alert') or r.get('record')}", r["expr"]) for r in rules]
# The postgres_exporter names are republished from series we really export.
compat = [r for g in yaml.safe_load(open(f"{root}/alerts/postgres_exporter_compat.rules.yml"))["groups"] for r in g["rules"]]
uses += [(f"compat rule {r['record']}", r["expr"]) for r in compat]
for path in sorted(glob.glob(f"{root}/grafana/*.json")):
    board = json.load(open(path))
    text = json.dumps(board)
    if re.search(r'"datasource":\s*\{[^}]*"uid":\s*"(?!\$\{?datasource)', text):
        errors.append(f"{path}: a panel has a hard-coded datasource uid")
    if not any(v.get("type") == "datasource" and v.get("query") == "prometheus"
               for v in board["templating"]["list"]):
        errors.append(f"{path}: no datasource template variable of type prometheus")
    for p in board["panels"]:
        for t in p.get("targets", []):
            uses.append((f"{path.rsplit('/', 1)[1]} panel '{p['title']}'", t["expr"]))
    for v in board["templating"]["list"]:
        if v.get("type") == "query":
            selector = re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", v["definition"])
            uses.append((f"{path.rsplit('/', 1)[1]} variable {v['name']}", selector))
missing = {}
for where, expr in uses:
    for name in metric_names(expr):
        if not documented_name(name):
            missing.setdefault(name, []).append(where)
for name, wheres in sorted(missing.items()):
    errors.append(f"metric {name} is not in docs/metrics.md (used by {', '.join(sorted(set(wheres))[:3])})")

for e in errors:
    print("  " + e)
print(f"{len(alerts)} alerts, {len(records)} recording rules, {len(uses)} expressions checked")
sys.exit(1 if errors else 0)
PY
echo "PASS"

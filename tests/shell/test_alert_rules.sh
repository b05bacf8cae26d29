#!/usr/bin/env bash
# Static checks of alerts/ and grafana/ (no database needed):
#   - promtool check rules + promtool test rules alerts/tests/*.yml
#   - every alert (each severity of it) has a promtool test where it fires and one where it does not;
#     every recording rule is checked by a promql_expr_test or used by a tested alert; every alert
#     has a severity of critical|warning and summary/description/runbook annotations, and its runbook
#     anchor exists
#   - the "Alert thresholds" table of docs/phase3.md matches the rules (condition, for, severity),
#     and every metric that docs/phase3.md names as a stage gate is on a dashboard panel
#   - amtool check-config alerts/alertmanager.yml, its routing and its inhibitions
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
[ "$(route alertname=PostgresDown severity=critical target=sm)" = page ] || fail "critical alerts must route to the page receiver"
[ "$(route alertname=PostgresInvalidIndex severity=warning target=sm)" = ticket ] || fail "warning alerts must route to the ticket receiver"
python3 - "$root/alerts/alertmanager.yml" <<'PY'
import sys, yaml
inhibit = yaml.safe_load(open(sys.argv[1]))["inhibit_rules"]
# The paging twin of a degradation silences its warning for the same object.
assert any(r.get("source_matchers") == ['severity="critical"'] and r.get("target_matchers") == ['severity="warning"']
           and "alertname" in r.get("equal", []) for r in inhibit), "no critical-inhibits-warning rule"
PY

echo "== grafana dashboards"
for f in "$root"/grafana/*.json; do
  python3 -m json.tool "$f" >/dev/null || fail "$f is not valid JSON"
done
# The committed JSON must be what the generator writes (nobody edited one side only).
cp -r "$root/grafana" "$root/alerts" "$work/"  # the generator reads alert thresholds from the rules
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
fires, silent, tested_exprs = set(), set(), []  # fires: (alertname, severity)
for path in glob.glob(f"{root}/alerts/tests/*.yml"):
    for test in yaml.safe_load(open(path))["tests"]:
        for a in test.get("alert_rule_test", []):
            if not a.get("exp_alerts"):
                silent.add(a["alertname"])
            for e in a.get("exp_alerts") or []:
                fires.add((a["alertname"], e.get("exp_labels", {}).get("severity")))
        tested_exprs += [e["expr"] for e in test.get("promql_expr_test", [])]
for a in alerts:
    name = a["alert"]
    severity = a.get("labels", {}).get("severity")
    if (name, severity) not in fires:
        errors.append(f"alert {name} ({severity}): no promtool test where it fires")
    if name not in silent:
        errors.append(f"alert {name}: no promtool test where it stays silent")
    if severity not in ("critical", "warning"):
        errors.append(f"alert {name}: severity must be critical or warning")
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

# --- docs/phase3.md: the threshold table is the rules ----------------------------------------------
phase3 = open(f"{root}/docs/phase3.md").read()
squash = lambda text: re.sub(r"\s+", " ", text).strip()
table = phase3.partition("## Alert thresholds")[2]
rows = [[c.strip() for c in line.strip().strip("|").split("|")]
        for line in table.splitlines() if line.startswith("| `")]
if not rows:
    errors.append("docs/phase3.md: no '## Alert thresholds' table")
documented_alerts = set()
for name, condition, for_, severity, *_ in rows:
    name, condition = name.strip("`"), condition.strip("`")
    documented_alerts.add(name)
    matching = [a for a in alerts if a["alert"] == name and a.get("labels", {}).get("severity") == severity]
    if not matching:
        errors.append(f"docs/phase3.md: no rule {name} with severity {severity}")
        continue
    rule = matching[0]
    if squash(condition) not in squash(rule["expr"]):
        errors.append(f"docs/phase3.md: {name} ({severity}) fires when '{condition}', the rule says '{squash(rule['expr'])}'")
    if for_ != rule.get("for", "—"):
        errors.append(f"docs/phase3.md: {name} ({severity}) for {for_}, the rule says {rule.get('for', '—')}")
migration_alerts = {r["alert"] for g in yaml.safe_load(open(f"{root}/alerts/pg_evolution.rules.yml"))["groups"]
                    if g["name"] == "pg_evolution.migration" for r in g["rules"] if "alert" in r}
for name in sorted(migration_alerts - documented_alerts):
    errors.append(f"docs/phase3.md: alert {name} of the migration group has no row in 'Alert thresholds'")

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
            selector = re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", v["query"]["query"])
            uses.append((f"{path.rsplit('/', 1)[1]} variable {v['name']}", selector))
missing = {}
for where, expr in uses:
    for name in metric_names(expr):
        if not documented_name(name):
            missing.setdefault(name, []).append(where)
for name, wheres in sorted(missing.items()):
    errors.append(f"metric {name} is not in docs/metrics.md (used by {', '.join(sorted(set(wheres))[:3])})")

# Every metric docs/phase3.md names as a stage gate is on a dashboard panel.
on_panels = set()
for where, expr in uses:
    if " panel " in where:
        on_panels |= {re.sub(r"_(bucket|sum|count)$", "", n) for n in metric_names(expr)} | metric_names(expr)
gates = {n for n in re.findall(r"`(pg_[a-z0-9_]+)", phase3) if documented_name(n)}
for name in sorted(gates - on_panels):
    errors.append(f"stage-gate metric {name} (docs/phase3.md) is on no dashboard panel")

for e in errors:
    print("  " + e)
print(f"{len(alerts)} alerts, {len(records)} recording rules, {len(uses)} expressions checked")
sys.exit(1 if errors else 0)
PY
echo "PASS"

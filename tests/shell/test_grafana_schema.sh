#!/usr/bin/env bash
# The Grafana dashboards as Grafana reads them: each grafana/*.json is type-checked (tsc) against the
# dashboard types of Grafana's published schema package @grafana/schema, at the versions pinned in
# grafana/schema-check/package-lock.json (installed from the npm registry into the build directory,
# once). Catches what Grafana rejects or silently drops on import: a variable with `current: {}`, a
# link without keepTime/includeVars, a misspelt field, a threshold mode or mapping type that does
# not exist. A deliberately broken copy must fail the same check (the check can fail).
# Usage: test_grafana_schema.sh BUILD_DIR
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: test_grafana_schema.sh BUILD_DIR}" && pwd)
work="$build/grafana-schema"
fail() { echo "FAIL: $*" >&2; exit 1; }

source "$root/scripts/require.sh"
require node npm python3

mkdir -p "$work"
# Reinstall only when the pinned versions change.
if ! cmp -s "$root/grafana/schema-check/package-lock.json" "$work/package-lock.json" \
   || [ ! -x "$work/node_modules/.bin/tsc" ]; then
  echo "== npm ci (@grafana/schema, typescript as pinned in grafana/schema-check/package-lock.json)"
  rm -rf "$work/node_modules"
  cp "$root/grafana/schema-check/package.json" "$root/grafana/schema-check/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) || fail "npm ci failed"
fi
rm -rf "$work/check" && mkdir -p "$work/check"
cp "$root/grafana/schema-check/tsconfig.json" "$root/grafana/schema-check/dashboard_type.ts" "$work/check/"
ln -s ../node_modules "$work/check/node_modules"

# dashboard.json -> check/dashboard.ts holding the JSON as a literal of type ExportedDashboard
# (a literal, not an import, so that TypeScript checks excess properties and literal values).
as_typescript() {
  { echo "import type { ExportedDashboard } from './dashboard_type';"
    printf 'export const dashboard: ExportedDashboard = '
    cat "$1"
    echo ";"; } >"$2"
}
tsc() { (cd "$work/check" && ./node_modules/.bin/tsc -p tsconfig.json); }

echo "== tsc: grafana/*.json against @grafana/schema $(node -p "require('$work/node_modules/@grafana/schema/package.json').version")"
n=0
for f in "$root"/grafana/*.json; do
  as_typescript "$f" "$work/check/$(basename "$f" .json).ts"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no dashboards in grafana/"
tsc || fail "a dashboard does not match Grafana's dashboard schema (errors above)"
echo "  $n dashboards type-check"

echo "== the check rejects a broken dashboard"
rm -f "$work/check"/pg_evolution_*.ts
first=$(ls "$root"/grafana/*.json | head -n1)
python3 - "$first" "$work/broken.json" <<'PY'
import json, sys
board = json.load(open(sys.argv[1]))
board["templating"]["list"][1]["current"] = {}       # what Grafana's schema rejects
del board["links"][0]["keepTime"]
json.dump(board, open(sys.argv[2], "w"))
PY
as_typescript "$work/broken.json" "$work/check/broken.ts"
if out=$(tsc 2>&1); then fail "tsc accepted a dashboard with current: {} and a link without keepTime"; fi
grep -q "missing the following properties .*: text, value" <<<"$out" || fail "expected an error for current: {}, got: $out"
grep -q "keepTime" <<<"$out" || fail "expected a keepTime error, got: $out"
echo "PASS"

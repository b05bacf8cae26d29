#!/usr/bin/env bash
# Loads the reference database at a scale into its own database of a local cluster (kept for
# re-runs, shared with migration_cost.sh) and runs storage_cost on it.
#   bench/storage_cost.sh BUILD_DIR PORT [SCALE] [CYCLES]     (scale 1 = 1M context_events)
set -euo pipefail
source "$(dirname "$0")/../scripts/require.sh"
require psql
build=$1 port=$2 scale=${3:-1} cycles=${4:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
db="pge_bench_s${scale//./_}"
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
if [ "$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" = 0 ]; then
  psql -X -q -d postgres -c "CREATE DATABASE $db"
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$root/tests/fixtures/schema.sql" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -v scale="$scale" -f "$root/tests/fixtures/data.sql" >/dev/null
  psql -X -q -d "$db" -c "CALL ops.refresh_dashboard_statistics()" -c "VACUUM ANALYZE"
fi
"$build/bench/storage_cost" "host=127.0.0.1 port=$port dbname=$db user=pge_exporter password=exporter" \
  "host=127.0.0.1 port=$port dbname=$db user=postgres" "$cycles"

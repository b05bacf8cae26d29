#!/usr/bin/env bash
# Loads the reference database at a scale into its own database of a local cluster (kept for
# re-runs, shared with migration_cost.sh) and runs storage_cost on it.
#   bench/storage_cost.sh BUILD_DIR PORT [SCALE] [CYCLES]     (scale 1 = 1M context_events)
set -euo pipefail
source "$(dirname "$0")/reference.sh"
require psql
build=$1 port=$2 scale=${3:-1} cycles=${4:-5}
export PGOPTIONS="-c client_min_messages=warning"
load_kept_database "$port" "$scale"
db=$bench_db
"$build/bench/storage_cost" "host=127.0.0.1 port=$port dbname=$db user=pge_exporter password=exporter" \
  "host=127.0.0.1 port=$port dbname=$db user=postgres" "$cycles"

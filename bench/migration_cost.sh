#!/usr/bin/env bash
# Loads the reference database at a scale into its own database of a local cluster and runs
# migration_cost on it, without and with an index on context_events(created_at).
#   bench/migration_cost.sh BUILD_DIR PORT [SCALE [COPIES]]
# SCALE 1 = 1M context_events (10 = the issue's 10M, but loading it takes well over half an hour on
# 2 cores). COPIES N > 1 instead measures promoted_columns on bench_xN.context_events: N copies of
# the loaded context_events (ids renewed, created_at shifted back by 180 days per copy) without the
# JSONB/GIN indexes, which cost load time but no full-check time; the other collectors still read
# the loaded database. The database pge_bench_s<SCALE> is kept for re-runs (delete it by hand).
set -euo pipefail
source "$(dirname "$0")/reference.sh"
require psql
build=$1 port=$2 scale=${3:-1} copies=${4:-1}
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
load_kept_database "$port" "$scale"
db=$bench_db
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
schema=public
if [ "$copies" -gt 1 ]; then
  schema="bench_x$copies"
  if [ "$(psql -X -At -d "$db" -c "SELECT to_regclass('$schema.context_events') IS NULL")" = t ]; then
    t0=$(date +%s)
    q <<SQL
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
CREATE SCHEMA $schema;
GRANT USAGE ON SCHEMA $schema TO pge_exporter;
CREATE TABLE $schema.context_events (LIKE public.context_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO $schema.context_events
SELECT gen_random_uuid(), context_id, created_by, title, start_at, end_at, metadata,
       created_at - k * interval '180 days', updated_at, source_type, source_roadmap_item_id,
       source_itinerary_item_id
  FROM public.context_events, generate_series(0, $copies - 1) k;
ALTER TABLE $schema.context_events ADD PRIMARY KEY (id);
ALTER TABLE $schema.context_events ADD CONSTRAINT ${schema}_fk_source_roadmap_item
  FOREIGN KEY (source_roadmap_item_id) REFERENCES public.roadmap_items (id) NOT VALID;
GRANT SELECT ON $schema.context_events TO pge_exporter;
VACUUM ANALYZE $schema.context_events;
SQL
    echo "made $schema.context_events ($copies copies) in $(( $(date +%s) - t0 )) s"
  fi
fi
exporter="host=127.0.0.1 port=$port dbname=$db user=pge_exporter password=exporter"
admin="host=127.0.0.1 port=$port dbname=$db user=postgres"
q -c "DROP INDEX IF EXISTS $schema.context_events_created_at_idx"
"$build/bench/migration_cost" "$exporter" "$admin" 5 "$schema"
q -c "CREATE INDEX context_events_created_at_idx ON $schema.context_events (created_at)"
"$build/bench/migration_cost" "$exporter" "$admin" 5 "$schema"

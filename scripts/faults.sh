#!/usr/bin/env bash
# Faults on demand in the SharedMinds reference database (for demos and tests).
#
#   faults.sh --port P [--host H] <fault> [arg]
#
#   drop-index [NAME]   drop an index the workload uses (default idx_calendar_events_user_start_at)
#   slow-lookup         drop every index the guardrail lookup (seed Proposal 1, pattern 1) can use:
#                       it falls back to a sequential scan of context_events (query class
#                       guardrail_lookup many times slower)
#   invalidate-index    a failed CREATE UNIQUE INDEX CONCURRENTLY on duplicated values leaves the
#                       invalid index idx_context_events_created_by_uniq (pg_index.indisvalid = false)
#   stop-backfill [N]   the app stops dual-writing: a trigger nulls the promoted columns of new
#                       context_events, and N (default 500) such rows are inserted right away
#   bloat [TABLE]       autovacuum off on TABLE (default calendar_events), then every row updated twice
#                       with a non-HOT update: 2/3 of the heap and of each index is dead
#   partition-runway    drop analytics_events' future partitions (only this month remains)
#   default-rows [N]    insert N (default 100) analytics_events two years ahead: they land in
#                       analytics_events_default
#   refresh-fail        drop dashboard_statistics' unique index: REFRESH ... CONCURRENTLY (and so
#                       ops.refresh_dashboard_statistics) fails until healed
#   backfill            finish the column promotion (the seed's backfill UPDATEs); not a fault
#   heal                undo all of the above except backfill: drop invalid indexes and the
#                       stop-backfill trigger, VACUUM FULL tables with autovacuum disabled by
#                       `bloat`, recreate partitions, delete DEFAULT rows, re-run schema.sql
#                       (recreates dropped indexes), refresh dashboard_statistics
#   status              one line per fault: is it in effect?
set -euo pipefail
source "$(dirname "$0")/require.sh"
require psql

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
port="" host=127.0.0.1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
fault=${args[0]:-}
arg=${args[1]:-}
[ -n "$port" ] && [ -n "$fault" ] || { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

export PGHOST=$host PGPORT=$port PGUSER=${PGUSER:-postgres} PGOPTIONS="-c client_min_messages=warning"
sql() { psql -X -q -v ON_ERROR_STOP=1 -d sharedminds "$@"; }
ident() { [[ "$1" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "faults.sh: bad name '$1'" >&2; exit 2; }; }

case "$fault" in
  drop-index)
    idx=${arg:-idx_calendar_events_user_start_at}; ident "$idx"
    sql -c "DROP INDEX CONCURRENTLY IF EXISTS public.$idx"
    echo "faults: dropped index $idx" ;;

  slow-lookup)
    for idx in idx_context_events_metadata_roadmap_item idx_context_events_context_created_by \
               idx_context_events_context_start_covering idx_context_events_created_by_created_at \
               idx_context_events_metadata_source idx_context_events_metadata_gin idx_context_events_metadata_path_gin; do
      sql -c "DROP INDEX CONCURRENTLY IF EXISTS public.$idx"
    done
    echo "faults: the guardrail lookup has no index left: $(sql -At -c "EXPLAIN SELECT id FROM context_events
      WHERE context_id = md5('ctx:1')::uuid AND created_by = md5('user:1')::uuid
        AND metadata->>'source' = 'guardrails' AND metadata->>'roadmap_item_id' = md5('ri:1')" | head -n1)" ;;

  invalidate-index)
    sql -c "DROP INDEX IF EXISTS idx_context_events_created_by_uniq"
    # Expected to fail (created_by repeats): CONCURRENTLY leaves the index behind, invalid.
    if sql -c "CREATE UNIQUE INDEX CONCURRENTLY idx_context_events_created_by_uniq
                 ON context_events (created_by)" 2>/dev/null; then
      echo "faults: unexpected: the unique index built (no duplicates?)" >&2; exit 1
    fi
    echo "faults: invalid index idx_context_events_created_by_uniq left behind"
    sql -At -c "SELECT '  indisvalid=' || indisvalid FROM pg_index
                 WHERE indexrelid = 'idx_context_events_created_by_uniq'::regclass" ;;

  stop-backfill)
    n=${arg:-500}; [[ "$n" =~ ^[0-9]+$ ]] || { echo "faults.sh: N must be a number" >&2; exit 2; }
    sql <<SQL
CREATE OR REPLACE FUNCTION ops.fault_stop_backfill() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  -- Simulates an app release that writes metadata JSON only (dual-write lost).
  NEW.source_type := NULL;
  NEW.source_roadmap_item_id := NULL;
  NEW.source_itinerary_item_id := NULL;
  RETURN NEW;
END;
\$\$;
CREATE OR REPLACE TRIGGER pge_fault_stop_backfill BEFORE INSERT ON context_events
  FOR EACH ROW EXECUTE FUNCTION ops.fault_stop_backfill();
INSERT INTO context_events (context_id, created_by, title, start_at, end_at, metadata)
SELECT context_id, created_by, title, now() + (start_at - created_at), now() + (end_at - created_at), metadata
  FROM context_events
 WHERE source_type IS NOT NULL AND source_type = metadata ->> 'source'
 ORDER BY created_at DESC LIMIT $n;
SQL
    echo "faults: dual-write stopped (trigger pge_fault_stop_backfill), $n rows inserted with NULL columns" ;;

  bloat)
    tbl=${arg:-calendar_events}; ident "$tbl"
    col=$(sql -At -c "SELECT a.attname FROM pg_attribute a
                        WHERE a.attrelid = 'public.$tbl'::regclass AND a.attname IN ('end_at', 'updated_at', 'created_at')
                        ORDER BY a.attname = 'end_at' DESC, a.attname = 'updated_at' DESC LIMIT 1")
    [ -n "$col" ] || { echo "faults.sh: $tbl has no timestamp column to update" >&2; exit 1; }
    sql -c "ALTER TABLE public.$tbl SET (autovacuum_enabled = false)"
    before=$(sql -At -c "SELECT pg_size_pretty(pg_total_relation_size('public.$tbl'))")
    # Two full passes; on calendar_events end_at is in an index (INCLUDE), so no update is HOT.
    sql -c "UPDATE public.$tbl SET $col = $col + interval '1 second'" \
        -c "UPDATE public.$tbl SET $col = $col - interval '1 second'"
    after=$(sql -At -c "SELECT pg_size_pretty(pg_total_relation_size('public.$tbl'))")
    echo "faults: $tbl bloated (autovacuum off), total size $before -> $after" ;;

  partition-runway)
    sql -At <<'SQL'
DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass::text AS part
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'public.analytics_events'::regclass
       AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
       -- lower bound of "FOR VALUES FROM ('...') TO ('...')"
       AND substring(pg_get_expr(c.relpartbound, c.oid) FROM $re$FROM \('([^']+)'\)$re$)::timestamptz > now()
  LOOP
    EXECUTE format('DROP TABLE %s', r.part);
    RAISE WARNING 'dropped future partition %', r.part;
  END LOOP;
END
$$;
SQL
    echo "faults: future partitions of analytics_events dropped" ;;

  default-rows)
    n=${arg:-100}; [[ "$n" =~ ^[0-9]+$ ]] || { echo "faults.sh: N must be a number" >&2; exit 2; }
    sql -c "INSERT INTO analytics_events (user_id, event_type, properties, created_at)
            SELECT ref_uuid('user', 1 + i % 50), 'clock_skew', '{\"client\": \"ios\"}',
                   now() + interval '2 years' + i * interval '1 minute'
              FROM generate_series(1, $n) i"
    echo "faults: $n rows inserted into analytics_events_default:" \
         "$(sql -At -c 'SELECT count(*) FROM analytics_events_default') rows there now" ;;

  refresh-fail)
    sql -c "DROP INDEX IF EXISTS dashboard_statistics_entity_uidx"
    echo "faults: dashboard_statistics has no unique index: CONCURRENTLY refreshes now fail" ;;

  backfill)
    # The seed's backfill (Proposals 1-3), limited to rows where the column is still NULL.
    sql -c "UPDATE context_events SET source_type = metadata ->> 'source'
             WHERE source_type IS NULL AND metadata ->> 'source' IN ('guardrails', 'trip', 'planner')" \
        -c "UPDATE context_events SET source_roadmap_item_id = (metadata ->> 'roadmap_item_id')::uuid
             WHERE source_roadmap_item_id IS NULL
               AND metadata ->> 'roadmap_item_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}\$'
               AND (metadata ->> 'roadmap_item_id')::uuid IN (SELECT id FROM roadmap_items)" \
        -c "UPDATE context_events SET source_itinerary_item_id = (metadata ->> 'itinerary_item_id')::uuid
             WHERE source_itinerary_item_id IS NULL
               AND metadata ->> 'itinerary_item_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}\$'"
    echo "faults: backfill done" ;;

  heal)
    sql -At <<'SQL'
DROP TRIGGER IF EXISTS pge_fault_stop_backfill ON context_events;
DROP FUNCTION IF EXISTS ops.fault_stop_backfill();
DELETE FROM analytics_events_default;
SELECT 'faults: partitions created: ' || ops.create_future_partitions('public.analytics_events', 2);
SQL
    # Invalid indexes (DROP INDEX CONCURRENTLY cannot run inside a DO block / transaction).
    for idx in $(sql -At -c "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                              JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE NOT i.indisvalid AND n.nspname = 'public'"); do
      sql -c "DROP INDEX CONCURRENTLY IF EXISTS public.$idx"; echo "faults: dropped invalid index $idx"
    done
    # Tables bloated by `bloat`: autovacuum back on, rewrite table and indexes.
    for tbl in $(sql -At -c "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE n.nspname = 'public' AND c.relkind = 'r'
                               AND 'autovacuum_enabled=false' = ANY (c.reloptions)"); do
      sql -c "ALTER TABLE public.$tbl RESET (autovacuum_enabled)" -c "VACUUM (FULL, ANALYZE) public.$tbl"
      echo "faults: $tbl vacuumed (FULL), autovacuum back on"
    done
    # Recreates anything dropped (indexes, the matview's unique index); data is untouched.
    sql -f "$root/tests/fixtures/schema.sql" >/dev/null
    sql -c "CALL ops.refresh_dashboard_statistics()"
    echo "faults: healed" ;;

  status)
    sql -At -F ' ' <<'SQL'
SELECT 'invalid indexes:', coalesce(string_agg(indexrelid::regclass::text, ','), 'none')
  FROM pg_index WHERE NOT indisvalid;
SELECT 'stop-backfill trigger:', count(*) FROM pg_trigger WHERE tgname = 'pge_fault_stop_backfill';
SELECT 'autovacuum disabled on:', coalesce(string_agg(relname, ','), 'none')
  FROM pg_class WHERE 'autovacuum_enabled=false' = ANY (reloptions);
SELECT 'analytics_events partitions:', count(*) FILTER (WHERE pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT')
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'analytics_events'::regclass;
SELECT 'analytics_events_default rows:', count(*) FROM analytics_events_default;
SELECT 'dashboard_statistics unique index:', count(*) FROM pg_indexes WHERE indexname = 'dashboard_statistics_entity_uidx';
SQL
    ;;

  *) echo "faults.sh: unknown fault '$fault'" >&2; exit 2 ;;
esac

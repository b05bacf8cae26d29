#!/usr/bin/env bash
# Integration test of the reference database: schema + generator at scale 0.01, job procedures,
# roles, a short workload run, every fault and heal, pg_cron job scheduling.
#
#   tests/sql/test_refdb_load.sh [WORKDIR]
#
# Starts its own cluster (scripts/pg_local.sh) on 127.0.0.1:25460 in WORKDIR/refdb_test_pg
# (WORKDIR: the build directory under CTest; a temporary directory when absent) and stops it on
# exit. PGE_TEST_CRON_WAIT=1 also waits (up to 75 s) for pg_cron to run the refresh job.
# Exits non-zero on the first failed check; prints every check.
set -euo pipefail
source "$(dirname "$0")/../../scripts/require.sh"
require psql

root=$(cd "$(dirname "$0")/../.." && pwd)
port=${PGE_TEST_PORT:-25460}
if [ -n "${1:-}" ]; then
  mkdir -p "$1"; work=$(cd "$1" && pwd)/refdb_test; rm_work=0
else
  work=$(mktemp -d /tmp/pge_refdb_test.XXXXXX); rm_work=1
fi
mkdir -p "$work"; chmod 755 "$work"   # the server may run as `postgres` (when we are root)
pgdir=$work/pg

cleanup() {
  "$root/scripts/pg_local.sh" stop "$pgdir" || true
  if [ "$rm_work" = 1 ]; then rm -rf "$work"; else rm -rf "$pgdir" "$pgdir.initdb.log"; fi
}
trap cleanup EXIT

export PGHOST=127.0.0.1 PGPORT=$port PGOPTIONS="-c client_min_messages=warning"
q() { psql -X -At -v ON_ERROR_STOP=1 -U postgres -d sharedminds -c "$1"; }
q_as() { PGPASSWORD=$2 psql -X -At -v ON_ERROR_STOP=1 -U "$1" -d sharedminds -c "$3"; }
checks=0
ok() { checks=$((checks + 1)); echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; exit 1; }
# expect DESCRIPTION SQL OP VALUE: compares the single value returned by SQL (OP: = != -gt -ge)
expect() {
  local what=$1 got
  got=$(q "$2") || fail "$what: query failed: $2"
  case "$3" in
    =)  [ "$got" = "$4" ] ;;
    !=) [ "$got" != "$4" ] ;;
    *)  [ "$got" "$3" "$4" ] ;;
  esac || fail "$what: got '$got', expected $3 $4"
  ok "$what ($got)"
}

echo "# cluster in $pgdir, port $port"
"$root/scripts/pg_local.sh" stop "$pgdir" 2>/dev/null || true
rm -rf "$pgdir"
"$root/scripts/pg_local.sh" start "$pgdir" "$port"

# --- load ----------------------------------------------------------------------------------------
t0=$SECONDS
"$root/scripts/refdb.sh" load --port "$port" --scale 0.01 | sed 's/^/# /'
ok "refdb.sh load --scale 0.01 in $((SECONDS - t0)) s"
for t in context_events analytics_events roadmap_items calendar_events calendar_projections \
         project_calendar_sync_settings; do
  expect "$t has rows" "SELECT count(*) FROM $t" -gt 0
done
expect "extensions present" "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension
  WHERE extname IN ('pg_stat_statements','pgstattuple','pg_cron','pg_partman')" = \
  "pg_cron,pg_partman,pg_stat_statements,pgstattuple"
expect "analytics_events has a DEFAULT partition" \
  "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'analytics_events'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'" = 1
expect "monthly partitions: 6 past + current + 2 future" \
  "SELECT count(*) FROM pg_inherits WHERE inhparent = 'analytics_events'::regclass" = 10
expect "partitions exist for this month and the next two" \
  "SELECT count(*) FROM generate_series(0, 2) m WHERE to_regclass('analytics_events_p' ||
     to_char(date_trunc('month', now()) + make_interval(months => m), 'YYYY_MM')) IS NOT NULL" = 3
expect "no rows in the DEFAULT partition" "SELECT count(*) FROM analytics_events_default" = 0
expect "source_type: missing > 0" "SELECT missing FROM ops.promotion_check WHERE column_name = 'source_type'" -gt 0
for c in source_type source_roadmap_item_id source_itinerary_item_id; do
  expect "$c: mismatch = 3" "SELECT mismatch FROM ops.promotion_check WHERE column_name = '$c'" = 3
  expect "$c: invalid JSON values > 0" "SELECT invalid FROM ops.promotion_check WHERE column_name = '$c'" -gt 0
done
expect "most rows backfilled (source_type set on > 80 %)" \
  "SELECT (100 * count(source_type) / count(*) FILTER (WHERE metadata ? 'source'))::int FROM context_events" -gt 80
expect "CHECK rejects source 'legacy'" \
  "SELECT count(*) FROM context_events WHERE metadata->>'source' = 'legacy' AND source_type IS NULL" = 3
expect "indexes named in the plan exist" "SELECT count(*) FROM pg_indexes WHERE indexname IN
  ('idx_context_events_source_type','idx_context_events_source_roadmap_item','idx_context_events_source_itinerary_item',
   'idx_context_events_metadata_gin','idx_context_events_metadata_path_gin','idx_context_events_context_start_covering')" = 6
expect "updated_at triggers (per-table and shared functions)" \
  "SELECT count(DISTINCT tgfoid) FROM pg_trigger WHERE tgname LIKE 'update_%_updated_at'" = 3
expect "dashboard_statistics is populated" \
  "SELECT count(*) FROM dashboard_statistics WHERE (SELECT relispopulated FROM pg_class WHERE relname = 'dashboard_statistics')" -gt 0

# --- job procedures ------------------------------------------------------------------------------
n0=$(q "SELECT count(*) FROM ops.matview_refresh_log")
q "CALL ops.refresh_dashboard_statistics()" >/dev/null
expect "refresh_dashboard_statistics() logs a successful row" \
  "SELECT count(*) FROM ops.matview_refresh_log WHERE succeeded AND finished_at IS NOT NULL" -gt "$n0"
old=$(q "SELECT count(*) FROM analytics_events WHERE created_at < now() - interval '90 days'")
[ "$old" -gt 0 ] || fail "no analytics_events older than 90 days to retain"
q "CALL ops.run_retention(90)" >/dev/null
expect "run_retention logs archived = deleted = the old rows" \
  "SELECT rows_archived || '/' || rows_deleted || '/' || succeeded FROM ops.retention_runs ORDER BY id DESC LIMIT 1" \
  = "$old/$old/true"
expect "no rows older than the cutoff remain" \
  "SELECT count(*) FROM analytics_events WHERE created_at < (SELECT max(cutoff) FROM ops.retention_runs)" = 0
expect "archive holds the archived rows" "SELECT count(*) FROM analytics_events_archive" = "$old"
expect "create_future_partitions is idempotent" \
  "SELECT ops.create_future_partitions('analytics_events', 2)" = 0

# --- roles ---------------------------------------------------------------------------------------
q_as pge_exporter exporter "SELECT count(*) FROM ops.matview_refresh_log, ops.retention_runs" >/dev/null \
  && ok "pge_exporter reads ops.*" || fail "pge_exporter cannot read ops.*"
q_as pge_exporter exporter "SELECT count(*) FROM pg_stat_statements WHERE query <> '<insufficient privilege>'" >/dev/null \
  && ok "pge_exporter reads pg_stat_statements" || fail "pge_exporter cannot read pg_stat_statements"
[ "$(q_as pge_exporter exporter "SELECT count(*) FROM context_events")" -gt 0 ] \
  && ok "pge_exporter reads app tables" || fail "pge_exporter cannot read app tables"
q_as pge_exporter exporter "INSERT INTO analytics_events (event_type) VALUES ('x')" >/dev/null 2>&1 \
  && fail "pge_exporter can write app tables" || ok "pge_exporter cannot write app tables"
q_as app app "INSERT INTO analytics_events (event_type) VALUES ('test')" >/dev/null \
  && ok "app inserts into analytics_events" || fail "app cannot insert"
q_as pge_probe_writer probe "INSERT INTO pge_probe.write_probe DEFAULT VALUES" >/dev/null \
  && ok "pge_probe_writer writes pge_probe.write_probe" || fail "pge_probe_writer cannot write the probe table"

# --- workload ------------------------------------------------------------------------------------
q "SELECT pg_stat_statements_reset()" >/dev/null
"$root/scripts/workload.sh" --port "$port" --duration 3 --rate 200 --clients 2 >"$work/workload.out" 2>&1 \
  || { tail -n 20 "$work/workload.out" >&2; fail "workload.sh --duration 3 failed"; }
grep -q "number of failed transactions: 0 " "$work/workload.out" || fail "workload had failed transactions"
ok "workload.sh ran 3 s without errors ($(grep -m1 '^tps' "$work/workload.out"))"
expect "workload statements are tagged and run as app" \
  "SELECT count(DISTINCT substring(query FROM '/\* q:([a-z_]+)')) FROM pg_stat_statements s
    JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'app'" -ge 8

# --- faults --------------------------------------------------------------------------------------
F=("$root/scripts/faults.sh" --port "$port")
sizes="SELECT pg_relation_size('calendar_events') || ' ' || pg_relation_size('idx_calendar_events_user_start_at')"
read -r heap0 idx0 <<<"$(q "$sizes")"
"${F[@]}" bloat >/dev/null
read -r heap1 idx1 <<<"$(q "$sizes")"
[ "$heap1" -ge $((2 * heap0)) ] && [ "$idx1" -ge $((2 * idx0)) ] \
  && ok "bloat: heap $heap0 -> $heap1 bytes, index $idx0 -> $idx1 bytes" || fail "bloat: heap $heap0 -> $heap1, index $idx0 -> $idx1"
expect "bloat: pgstattuple sees dead tuples" \
  "SELECT dead_tuple_count > 0 FROM pgstattuple('calendar_events')" = t
expect "bloat: autovacuum disabled on calendar_events" \
  "SELECT 'autovacuum_enabled=false' = ANY (reloptions) FROM pg_class WHERE relname = 'calendar_events'" = t
"${F[@]}" drop-index >/dev/null
expect "drop-index: idx_calendar_events_user_start_at is gone" \
  "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_calendar_events_user_start_at'" = 0
"${F[@]}" invalidate-index >/dev/null
expect "invalidate-index: invalid index in pg_index" \
  "SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_context_events_created_by_uniq'::regclass" = f
m0=$(q "SELECT missing FROM ops.promotion_check WHERE column_name = 'source_type'")
"${F[@]}" stop-backfill 200 >/dev/null
expect "stop-backfill: missing grew by 200" \
  "SELECT missing - $m0 FROM ops.promotion_check WHERE column_name = 'source_type'" = 200
q_as app app "INSERT INTO context_events (context_id, created_by, start_at, metadata, source_type)
              VALUES (gen_random_uuid(), gen_random_uuid(), now(), '{\"source\": \"planner\"}', 'planner')" >/dev/null
expect "stop-backfill: a dual-written insert now loses its column" \
  "SELECT missing - $m0 FROM ops.promotion_check WHERE column_name = 'source_type'" = 201
"${F[@]}" partition-runway >/dev/null 2>&1
expect "partition-runway: no future partition left" \
  "SELECT count(*) FROM generate_series(1, 2) m WHERE to_regclass('analytics_events_p' ||
     to_char(date_trunc('month', now()) + make_interval(months => m), 'YYYY_MM')) IS NOT NULL" = 0
"${F[@]}" default-rows 100 >/dev/null
expect "default-rows: 100 rows in analytics_events_default" "SELECT count(*) FROM analytics_events_default" = 100
"${F[@]}" refresh-fail >/dev/null
q "CALL ops.refresh_dashboard_statistics()" >/dev/null 2>&1 && fail "refresh-fail: the refresh succeeded"
expect "refresh-fail: the failure is logged" \
  "SELECT succeeded || ':' || (error IS NOT NULL) FROM ops.matview_refresh_log ORDER BY id DESC LIMIT 1" = "false:true"
"${F[@]}" heal >/dev/null
status=$("${F[@]}" status)
echo "$status" | sed 's/^/# /'
[ "$status" = "invalid indexes: none
stop-backfill trigger: 0
autovacuum disabled on: none
analytics_events partitions: 9
analytics_events_default rows: 0
dashboard_statistics unique index: 1" ] && ok "heal: every fault undone" || fail "heal left a fault in place"
expect "heal: dropped index is back" \
  "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_calendar_events_user_start_at'" = 1
expect "heal: refresh works again" \
  "SELECT succeeded FROM ops.matview_refresh_log ORDER BY id DESC LIMIT 1" = t
"${F[@]}" backfill >/dev/null
expect "backfill: no missing source_type left" "SELECT missing FROM ops.promotion_check WHERE column_name = 'source_type'" = 0

# --- pg_cron jobs --------------------------------------------------------------------------------
wait_flag=()
[ "${PGE_TEST_CRON_WAIT:-0}" = 1 ] && wait_flag=(--wait)
"$root/scripts/refdb.sh" jobs --port "$port" --fast "${wait_flag[@]}" | sed 's/^/# /'
expect "4 pg_cron jobs scheduled" "SELECT count(*) FROM cron.job WHERE jobname LIKE 'pge\_%'" = 4
expect "pge_exporter sees the jobs through ops.cron_job" \
  "SELECT count(*) FROM ops.cron_job" = 4
[ "${PGE_TEST_CRON_WAIT:-0}" = 1 ] && expect "pg_cron ran the refresh job" \
  "SELECT count(*) FROM cron.job_run_details WHERE status = 'succeeded'" -gt 0

echo "# all $checks checks passed"

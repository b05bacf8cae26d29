#!/usr/bin/env bash
# The SharedMinds reference database: schema, data and pg_cron jobs.
#
#   refdb.sh load --port P [--scale S] [--host H]
#       (re)creates database sharedminds, loads tests/fixtures/schema.sql and generates data with
#       tests/fixtures/data.sql (scale 1 = 1M context_events + 1M analytics_events; 0.01 works),
#       refreshes dashboard_statistics, then VACUUM ANALYZE.
#   refdb.sh jobs --port P [--fast] [--wait] [--host H]
#       schedules the pg_cron jobs in sharedminds (idempotent: same names are replaced).
#       --fast: refresh every minute, retention every 10 minutes (demo). --wait: wait until the
#       refresh job has run once and show its cron.job_run_details row (needs --fast; up to ~70 s).
#
# Connects as the superuser `postgres` (as set up by scripts/pg_local.sh). PGUSER overrides it.
set -euo pipefail
source "$(dirname "$0")/require.sh"
require psql

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cmd=${1:-}
[ -n "$cmd" ] && shift
port="" scale=1 host=127.0.0.1 fast=0 wait=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --fast) fast=1; shift ;;
    --wait) wait=1; shift ;;
    *) echo "refdb.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$port" ] || { echo "usage: refdb.sh load|jobs --port P [--scale S] [--host H] [--fast] [--wait]" >&2; exit 2; }
[[ "$scale" =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "refdb.sh: --scale must be a positive number" >&2; exit 2; }

# The tables config/sharedminds.toml names (promoted columns and their references, probes, matview
# and retention logs, the pg_cron views): the exporter role may read these and no others.
SHAREDMINDS_TABLES=public.context_events,public.roadmap_items,ops.matview_refresh_log,ops.retention_runs,ops.cron_job,ops.cron_job_run_details
export PGHOST=$host PGPORT=$port PGUSER=${PGUSER:-postgres} PGOPTIONS="-c client_min_messages=warning"
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$1" "${@:2}"; }
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# Empties an existing sharedminds instead of DROP DATABASE: pg_cron's launcher stays connected to
# it, and when DROP DATABASE ... WITH (FORCE) terminates the launcher, it exits cleanly and is not
# restarted until the server restarts (no jobs would run). Everything else connected is terminated;
# then all extensions and schemas go, and public is recreated as on a fresh database.
reset_db() {
  psql_db postgres -At -c "
    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
     WHERE datname = 'sharedminds' AND pid <> pg_backend_pid() AND backend_type <> 'pg_cron launcher'" >/dev/null
  psql_db sharedminds <<'SQL'
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' LOOP
    EXECUTE format('DROP EXTENSION %I CASCADE', r.extname);
  END LOOP;
  FOR r IN SELECT nspname FROM pg_namespace
            WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', r.nspname);
  END LOOP;
END
$$;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
SQL
}

cron_launcher_check() {  # warns when pg_cron is preloaded for sharedminds but its launcher is gone
  local state
  state=$(psql_db sharedminds -At -c "
    SELECT current_setting('cron.database_name', true) = 'sharedminds'
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher')")
  if [ "$state" = t ]; then
    echo "refdb: WARNING: the pg_cron launcher is not running (database dropped while the server ran?)" >&2
    echo "       jobs will not run until the server restarts (scripts/pg_local.sh restart DIR)" >&2
    return 1
  fi
}

load() {
  local t0 t
  t0=$(now_s)
  if [ "$(psql_db postgres -At -c "SELECT count(*) FROM pg_database WHERE datname = 'sharedminds'")" = 0 ]; then
    psql_db postgres -c "CREATE DATABASE sharedminds"
  else
    reset_db
  fi
  psql_db sharedminds -f "$root/tests/fixtures/schema.sql" >/dev/null
  # The exporter's role: pg_monitor and SELECT on what config/sharedminds.toml names, nothing more.
  psql_db sharedminds -v role=pge_exporter -v password=exporter -v tables="$SHAREDMINDS_TABLES" \
    -f "$root/scripts/create-role.sql" >/dev/null
  echo "refdb: schema loaded ($(elapsed "$t0") s)"
  t=$(now_s)
  psql_db sharedminds -v scale="$scale" -f "$root/tests/fixtures/data.sql" >/dev/null
  echo "refdb: data generated at scale $scale ($(elapsed "$t") s)"
  t=$(now_s)
  psql_db sharedminds -c "CALL ops.refresh_dashboard_statistics()" -c "VACUUM ANALYZE"
  echo "refdb: dashboard_statistics refreshed, VACUUM ANALYZE done ($(elapsed "$t") s)"
  psql_db sharedminds -At -F ' ' -c "
    SELECT 'refdb: rows', string_agg(format('%s=%s', relname, n_live_tup), ' ' ORDER BY relname)
      FROM pg_stat_user_tables
     WHERE relname IN ('context_events', 'roadmap_items', 'calendar_events', 'calendar_projections')
        OR relname = 'analytics_events_default'" 
  psql_db sharedminds -At -c "SELECT 'refdb: analytics_events=' || count(*) FROM analytics_events"
  echo "refdb: load done in $(elapsed "$t0") s (database sharedminds on $host:$port)"
  cron_launcher_check || true
}

jobs() {
  local has_cron
  has_cron=$(psql_db sharedminds -At -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")
  if [ "$has_cron" != 1 ]; then
    echo "refdb: pg_cron is not installed in sharedminds; no jobs scheduled" >&2
    echo "       (run the jobs by hand: CALL ops.refresh_dashboard_statistics(); CALL ops.run_retention(90);)" >&2
    return 0
  fi
  local refresh='*/5 * * * *' retention='0 2 * * 0'
  if [ "$fast" = 1 ]; then refresh='* * * * *'; retention='*/10 * * * *'; fi
  # pg_cron 1.4: cron.schedule(name, schedule, command) runs in cron.database_name (sharedminds) as
  # the scheduling role (postgres), in a background worker. Re-scheduling a name replaces the job.
  psql_db sharedminds -At -F ' ' <<SQL
SELECT 'refdb: job', cron.schedule('pge_refresh_dashboard_statistics', '$refresh',
                                   'CALL ops.refresh_dashboard_statistics()'), '$refresh', 'refresh dashboard_statistics';
SELECT 'refdb: job', cron.schedule('pge_retention', '$retention', 'CALL ops.run_retention(90)'),
       '$retention', 'archive + delete analytics_events older than 90 days';
-- One statement: VACUUM cannot run in the implicit transaction of a multi-statement string.
SELECT 'refdb: job', cron.schedule('pge_vacuum_analyze', '0 3 * * 0',
                                   'VACUUM ANALYZE context_events, calendar_events, roadmap_items, calendar_projections'),
       '0 3 * * 0', 'VACUUM ANALYZE';
SELECT 'refdb: job', cron.schedule('pge_create_partitions', '0 0 1 * *',
                                   \$\$SELECT ops.create_future_partitions('public.analytics_events', 2)\$\$),
       '0 0 1 * *', 'create next months'' analytics_events partitions';
SQL
  cron_launcher_check || { [ "$wait" = 1 ] && return 1; }
  if [ "$wait" = 1 ]; then
    [ "$fast" = 1 ] || { echo "refdb: --wait needs --fast (the refresh job must run every minute)" >&2; return 2; }
    local since i
    since=$(psql_db sharedminds -At -c "SELECT now()")
    echo "refdb: waiting for the refresh job's first run (up to 75 s)"
    for i in $(seq 1 75); do
      if [ "$(psql_db sharedminds -At -c "
            SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid)
             WHERE j.jobname = 'pge_refresh_dashboard_statistics' AND d.status IN ('succeeded', 'failed')
               AND d.start_time >= '$since'")" -gt 0 ]; then
        psql_db sharedminds -c "
          SELECT j.jobname, d.status, d.return_message, d.start_time, d.end_time
            FROM cron.job_run_details d JOIN cron.job j USING (jobid)
           ORDER BY d.start_time DESC LIMIT 3"
        return 0
      fi
      sleep 1
    done
    echo "refdb: the refresh job did not run within 75 s" >&2
    return 1
  fi
}

case "$cmd" in
  load) load ;;
  jobs) jobs ;;
  *) echo "usage: refdb.sh load|jobs --port P [--scale S] [--host H] [--fast] [--wait]" >&2; exit 2 ;;
esac

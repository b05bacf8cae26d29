-- The least-privilege monitoring role of pg_evolution_exporter, for one database and one config:
-- pg_monitor, read-only by default, USAGE on the schemas of the extensions the collectors read
-- (Supabase keeps them in `extensions`), SELECT on pg_partman's part_config and pg_cron's tables
-- when installed, and SELECT on the tables the config names (promoted columns and their
-- `references`, probe queries, matview/retention log tables, cron views). Nothing else: the
-- exporter skips, counts and estimates what it may not read (docs/metrics.md,
-- pg_evolution_exporter_collector_relations_skipped_total).
--
-- Run as a superuser (or, on Supabase, as `postgres`) in the monitored database; idempotent:
--   psql -d app -v role=pge_exporter -v password='...' \
--        -v tables='public.context_events,public.roadmap_items,ops.matview_refresh_log' \
--        -f scripts/create-role.sql
-- Variables: role (default pge_exporter), password (default: leave unchanged; the role is created
-- without one, for peer/cert authentication), tables (comma-separated schema.table, default none).
\set ON_ERROR_STOP on
\if :{?role}
\else
  \set role pge_exporter
\endif
\if :{?password}
\else
  \set password ''
\endif
\if :{?tables}
\else
  \set tables ''
\endif

-- psql does not expand variables inside dollar quotes: hand them to the DO block as settings.
SELECT set_config('pge.role', :'role', false) AS role,
       set_config('pge.password', :'password', false) <> '' AS sets_password,
       set_config('pge.tables', :'tables', false) AS tables \gset pge_

DO $$
DECLARE
  r text := current_setting('pge.role');
  pw text := current_setting('pge.password');
  t text;
  rel regclass;
  s text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
    EXECUTE format('CREATE ROLE %I LOGIN', r);
  END IF;
  IF pw <> '' THEN
    EXECUTE format('ALTER ROLE %I PASSWORD %L', r, pw);
  END IF;
  -- pg_read_all_settings, pg_read_all_stats, pg_stat_scan_tables (pgstattuple's functions).
  EXECUTE format('GRANT pg_monitor TO %I', r);
  -- A second line of defence behind the exporter's read-only transactions.
  EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', r);

  -- Schemas of the extensions the collectors call (pg_stat_statements, pgstattuple, pg_partman,
  -- pg_cron), and Supabase's `extensions` schema where they live there.
  FOR s IN
    SELECT DISTINCT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname IN ('pg_stat_statements', 'pgstattuple', 'pg_partman', 'pg_cron')
    UNION
    SELECT nspname FROM pg_namespace WHERE nspname = 'extensions'
  LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, r);
  END LOOP;
  -- pg_partman's settings (the partitions collector reports premake and retention).
  FOR rel IN
    SELECT c.oid::regclass FROM pg_extension e JOIN pg_class c ON c.relnamespace = e.extnamespace
     WHERE e.extname = 'pg_partman' AND c.relname = 'part_config'
  LOOP
    EXECUTE format('GRANT SELECT ON %s TO %I', rel, r);
  END LOOP;
  -- pg_cron's job tables (row-level security still limits the role to its own jobs; point the
  -- cron_jobs collector at superuser-owned views to see all of them).
  FOR rel IN
    SELECT c.oid::regclass FROM pg_extension e JOIN pg_class c ON c.relnamespace = e.extnamespace
     WHERE e.extname = 'pg_cron' AND c.relname IN ('job', 'job_run_details')
  LOOP
    EXECUTE format('GRANT SELECT ON %s TO %I', rel, r);
  END LOOP;

  -- The tables the config names.
  FOREACH t IN ARRAY string_to_array(current_setting('pge.tables'), ',') LOOP
    t := btrim(t);
    CONTINUE WHEN t = '';
    rel := to_regclass(t);
    IF rel IS NULL THEN
      -- Optional objects (the pg_cron views exist only where pg_cron is) are not an error.
      RAISE WARNING 'create-role.sql: table % does not exist here; not granted', t;
      CONTINUE;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I',
                   (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.oid = rel), r);
    EXECUTE format('GRANT SELECT ON %s TO %I', rel, r);
  END LOOP;
END
$$;

\echo role :pge_role: pg_monitor, read-only, SELECT on :pge_tables

-- The scale benchmark's fixture: :tables tables over 10 schemas (s0..s9), 3 indexes each (primary
-- key, a b-tree on a, a b-tree on created_at), 20 rows each; one table range-partitioned by month
-- into :partitions partitions; and :statements distinct statements in pg_stat_statements.
-- Every DDL statement runs in its own transaction (\gexec) so 10,000 tables never need 40,000
-- locks at once. Run with psql -v tables=N -v partitions=P -v statements=S.
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SELECT format('CREATE SCHEMA IF NOT EXISTS s%s', g) FROM generate_series(0, 9) g \gexec
SELECT format('CREATE TABLE IF NOT EXISTS s%s.t%s (id bigint PRIMARY KEY, a int, b text, created_at timestamptz NOT NULL DEFAULT now())', g % 10, g),
       format('CREATE INDEX IF NOT EXISTS t%s_a ON s%s.t%s (a)', g, g % 10, g),
       format('CREATE INDEX IF NOT EXISTS t%s_created ON s%s.t%s (created_at)', g, g % 10, g),
       format('INSERT INTO s%s.t%s (id, a, b) SELECT i, i %% 7, md5(i::text) FROM generate_series(1, 20) i ON CONFLICT DO NOTHING', g % 10, g)
FROM generate_series(1, :tables) g \gexec
CREATE TABLE IF NOT EXISTS public.analytics_events (
  id bigint NOT NULL, created_at timestamptz NOT NULL, payload jsonb
) PARTITION BY RANGE (created_at);
SELECT format('CREATE TABLE IF NOT EXISTS public.analytics_events_%s PARTITION OF public.analytics_events FOR VALUES FROM (%L) TO (%L)',
              to_char(m, 'YYYY_MM'), m, m + interval '1 month')
FROM generate_series(date '2020-01-01', date '2020-01-01' + (:partitions - 1) * interval '1 month', interval '1 month') m \gexec
CREATE INDEX IF NOT EXISTS analytics_events_created ON public.analytics_events (created_at);
INSERT INTO public.analytics_events
SELECT i, timestamptz '2020-01-01' + (i % (:partitions * 28)) * interval '1 day', '{}'::jsonb
FROM generate_series(1, 20000) i;
-- Distinct statements: statement j reads table (j mod tables) with an IN list of j / tables + 1
-- constants (PostgreSQL 15 gives each list length its own queryid).
SELECT format('SELECT count(*) FROM s%s.t%s WHERE a IN (%s)', (j % :tables + 1) % 10, j % :tables + 1,
              (SELECT string_agg(k::text, ',') FROM generate_series(0, j / :tables) k))
FROM generate_series(0, :statements - 1) j \gexec
VACUUM ANALYZE;

-- Slow: hourly rollup over a parameter-skewed window (1 hour .. 72 days, mostly short) of the loaded
-- history: rows the workload inserts later do not make it slower as the run goes on.
\set h random_exponential(1, 1728, 4)
/* q:analytics_rollup */ SELECT event_type, date_trunc('hour', created_at) AS hour, count(*) FROM analytics_events WHERE created_at >= to_timestamp(:loaded_at) - :h * interval '1 hour' AND created_at < to_timestamp(:loaded_at) GROUP BY 1, 2 ORDER BY 2, 1;

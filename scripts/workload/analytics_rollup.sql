-- Slow: hourly rollup over a parameter-skewed window (1 hour .. 72 days, mostly short).
\set h random_exponential(1, 1728, 4)
/* q:analytics_rollup */ SELECT event_type, date_trunc('hour', created_at) AS hour, count(*) FROM analytics_events WHERE created_at >= now() - :h * interval '1 hour' GROUP BY 1, 2 ORDER BY 2, 1;

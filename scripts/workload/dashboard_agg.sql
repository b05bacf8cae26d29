-- The project branch of dashboard_statistics computed live for one project (seed Job 1).
\set p random(1, :projects)
/* q:dashboard_agg */ SELECT master_project_id, COUNT(*) FILTER (WHERE status = 'active') AS active_items, COUNT(*) FILTER (WHERE status = 'completed') AS completed_items, COUNT(*) FILTER (WHERE status = 'blocked') AS blocked_items, MIN(start_date) FILTER (WHERE start_date IS NOT NULL) AS next_deadline, MAX(updated_at) AS last_updated FROM roadmap_items WHERE master_project_id = md5('mp:' || :p)::uuid::text GROUP BY master_project_id;

-- One analytics event (autocommit) into the current month's partition.
\set u random_exponential(1, :users, 5)
\set et random(1, 6)
\set path random(0, 210)
\set s :u * 1000 + :path
/* q:analytics_insert */ INSERT INTO analytics_events (user_id, session_id, event_type, properties) VALUES (md5('user:' || :u)::uuid, md5('session:' || :s)::uuid, (ARRAY['page_view', 'click', 'search', 'roadmap_item_updated', 'calendar_synced', 'export'])[:et], jsonb_build_object('path', '/projects/' || :path, 'client', 'web', 'duration_ms', :path * 3));

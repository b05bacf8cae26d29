-- One analytics event (autocommit) into the current month's partition.
\set u random_exponential(1, :users, 5)
\set et random(1, 6)
\set path random(0, 210)
/* q:analytics_insert */ INSERT INTO analytics_events (user_id, session_id, event_type, properties) VALUES (ref_uuid('user', :u), ref_uuid('session', :u * 1000 + :path), (ARRAY['page_view', 'click', 'search', 'roadmap_item_updated', 'calendar_synced', 'export'])[:et], jsonb_build_object('path', '/projects/' || :path, 'client', 'web', 'duration_ms', :path * 3));

-- A Guardrails deadline synced into a context: the app dual-writes metadata JSON and the promoted
-- columns (faults.sh stop-backfill makes the columns NULL again).
\set k random(1, :roadmap_items)
\set c CASE WHEN :k % 10 < 4 THEN 1 + :k % :hubs ELSE :hubs + 1 + (:k * 7919) % (:contexts - :hubs) END
\set u 1 + (:k * 104729) % :users
\set d random(-2, 30)
/* q:context_insert */ INSERT INTO context_events (context_id, created_by, title, start_at, end_at, metadata, source_type, source_roadmap_item_id) VALUES (md5('ctx:' || :c)::uuid, md5('user:' || :u)::uuid, 'Deadline: roadmap item ' || :k, date_trunc('hour', now()) + :d * interval '1 day', date_trunc('hour', now()) + :d * interval '1 day' + interval '1 hour', jsonb_build_object('source', 'guardrails', 'roadmap_item_id', md5('ri:' || :k)::uuid::text, 'sync_kind', 'deadline', 'synced_at', now()), 'guardrails', md5('ri:' || :k)::uuid);

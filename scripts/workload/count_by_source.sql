-- Seed Proposal 1, pattern 2: count events by source, per context. Bimodal on purpose:
-- 10 % of calls hit one of the hub contexts (many rows), 90 % a small one.
\set hub random(1, 10)
\set c CASE WHEN :hub = 1 THEN random(1, :hubs) ELSE :hubs + random(1, :contexts - :hubs) END
/* q:count_by_source */ SELECT count(*) FROM context_events WHERE context_id = md5('ctx:' || :c)::uuid AND metadata->>'source' = 'guardrails';

-- Seed Proposal 1, pattern 1: find the Guardrails context event of a roadmap item.
-- ctx/user follow the generator's formulas (tests/fixtures/data.sql), so most lookups hit a row.
\set k random(1, :roadmap_items)
\set c CASE WHEN :k % 10 < 4 THEN 1 + :k % :hubs ELSE :hubs + 1 + (:k * 7919) % (:contexts - :hubs) END
\set u 1 + (:k * 104729) % :users
/* q:guardrail_lookup */ SELECT id FROM context_events WHERE context_id = md5('ctx:' || :c)::uuid AND created_by = md5('user:' || :u)::uuid AND metadata->>'source' = 'guardrails' AND metadata->>'roadmap_item_id' = md5('ri:' || :k)::uuid::text;

-- Status change of a roadmap item; fires update_roadmap_items_updated_at.
\set k random(1, :roadmap_items)
\set st random(1, 10)
/* q:roadmap_update */ UPDATE roadmap_items SET status = CASE WHEN :st <= 6 THEN 'active' WHEN :st <= 9 THEN 'completed' ELSE 'blocked' END WHERE id = md5('ri:' || :k)::uuid;

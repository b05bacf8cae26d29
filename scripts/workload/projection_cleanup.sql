-- Removes a few old declined projections of a user.
\set u random_exponential(1, :users, 5)
/* q:projection_cleanup */ DELETE FROM calendar_projections WHERE id IN (SELECT id FROM calendar_projections WHERE target_user_id = md5('user:' || :u)::uuid AND status = 'declined' ORDER BY created_at LIMIT 5);

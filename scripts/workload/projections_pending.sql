-- Pending calendar projections of a user.
\set u random_exponential(1, :users, 5)
/* q:projections_pending */ SELECT id, calendar_event_id, created_at FROM calendar_projections WHERE target_user_id = md5('user:' || :u)::uuid AND status = 'pending' ORDER BY created_at DESC LIMIT 50;

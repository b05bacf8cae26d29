-- A user's calendar for 7 days (users skewed towards the heavy ones).
\set u random_exponential(1, :users, 5)
\set d random(-60, 50)
/* q:calendar_range */ SELECT id, title, start_at, end_at FROM calendar_events WHERE user_id = md5('user:' || :u)::uuid AND start_at >= date_trunc('day', now()) + :d * interval '1 day' AND start_at < date_trunc('day', now()) + (:d + 7) * interval '1 day' ORDER BY start_at;

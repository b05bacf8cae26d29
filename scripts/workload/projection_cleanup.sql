-- Removes a few old declined projections of a user, then declines as many new ones for that user, so
-- the delete finds the same work all run long instead of draining the declined rows.
\set u random_exponential(1, :users, 5)
\set e random(1, :calendar_events)
/* q:projection_cleanup */ DELETE FROM calendar_projections WHERE id IN (SELECT id FROM calendar_projections WHERE target_user_id = md5('user:' || :u)::uuid AND status = 'declined' ORDER BY created_at LIMIT 5);
/* q:projection_restock */ INSERT INTO calendar_projections (calendar_event_id, target_user_id, status) SELECT md5('cal:' || ((:e + g) % :calendar_events + 1))::uuid, md5('user:' || :u)::uuid, 'declined' FROM generate_series(1, 5) g;

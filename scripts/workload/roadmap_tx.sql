-- Explicit transaction: reschedule a roadmap item and project its deadline into a user's calendar.
\set k random(1, :roadmap_items)
\set d random(1, 90)
\set e random(1, :calendar_events)
\set u random_exponential(1, :users, 5)
/* q:roadmap_tx */ BEGIN;
/* q:roadmap_tx_update */ UPDATE roadmap_items SET start_date = current_date + :d, end_date = current_date + :d + 14 WHERE id = md5('ri:' || :k)::uuid;
/* q:roadmap_tx_projection */ INSERT INTO calendar_projections (calendar_event_id, target_user_id, status) VALUES (md5('cal:' || :e)::uuid, md5('user:' || :u)::uuid, 'pending');
/* q:roadmap_tx */ COMMIT;

-- Slow: trip events by city, a sequential scan over jsonb (no index serves details->>'city').
\set ci random(1, 8)
/* q:itinerary_scan */ SELECT count(*), min(start_at), max(start_at) FROM context_events WHERE metadata->'details'->>'city' = (ARRAY['Lisbon', 'Berlin', 'Tokyo', 'Austin', 'Nairobi', 'Lima', 'Oslo', 'Seoul'])[:ci];

-- 008_goal_note_links.sql — a mentoring note (kept in Redis by the mentoring module: its id is a number
-- per pair) can be linked to a goal as well as a session or a media item; ref is the note's id, title its
-- text as it was when linked, ref_at when it was written. The history lists the pair's session recordings
-- (media rows of kind recording whose session is one of the pair's bookings), found by session.
ALTER TABLE goal_links DROP CONSTRAINT goal_links_kind_check;
ALTER TABLE goal_links ADD CONSTRAINT goal_links_kind_check CHECK (kind IN ('session', 'media', 'note'));
CREATE INDEX media_session ON media (session) WHERE session IS NOT NULL;

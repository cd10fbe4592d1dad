-- 004_search_lang_audit.sql — search that stays fast and speaks the circle's language (search.h, archive.h).
-- lang: the text-search configuration of the message's circle (circle.set_language; default english), which
-- the stored tsvector is computed with, so changing a circle's language reindexes its rows by updating lang.
ALTER TABLE messages DROP COLUMN tsv;
ALTER TABLE messages ADD COLUMN lang regconfig NOT NULL DEFAULT 'english'::regconfig;
ALTER TABLE messages ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector(lang, body)) STORED;
CREATE INDEX messages_tsv ON messages USING gin (tsv);
-- The newest messages first, whatever the channel: a frequent word is searched by walking back from now
-- and stopping at the first matches needed, instead of collecting every match (search.c ranks only those).
CREATE INDEX messages_recent ON messages (ms DESC, seq DESC);
-- The author filter of chat.search, newest first.
CREATE INDEX messages_author ON messages (author, ms DESC);

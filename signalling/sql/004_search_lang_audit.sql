-- 004_search_lang_audit.sql — search that stays fast and speaks the circle's language (search.h, archive.h),
-- and the moderation audit log kept in PostgreSQL.
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
-- The moderation audit log (moderation.audit): each circle's entries, copied by the archiver from the
-- circle's Redis stream (circle:<cid>:audit, the buffer while PostgreSQL is down), idempotent by stream id.
-- entry: the protocol object as it was when copied (names of the actor and the target at that time).
CREATE TABLE audit_log (
    circle  text    NOT NULL,
    ms      bigint  NOT NULL,
    seq     bigint  NOT NULL,
    action  text    NOT NULL,
    entry   jsonb   NOT NULL,
    PRIMARY KEY (circle, ms, seq)
);

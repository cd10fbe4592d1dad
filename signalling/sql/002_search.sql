-- 002_search.sql — full-text search over the archive (search.h): a stored tsvector of each message's
-- current text (English configuration), its GIN index, and an index for the circle filter.
ALTER TABLE messages ADD COLUMN tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, body)) STORED;
CREATE INDEX messages_tsv ON messages USING gin (tsv);
CREATE INDEX messages_circle ON messages (circle);

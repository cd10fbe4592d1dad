-- 001_messages.sql — the chat archive: messages that left a channel's hot window in Redis (archive.h).
-- A message keeps its Redis stream id "ms-seq", split into two numbers so that the order is numeric.
CREATE TABLE messages (
    channel  text    NOT NULL,          -- channel id (32 hex)
    circle   text    NOT NULL,          -- the channel's circle, for checks and search by circle
    ms       bigint  NOT NULL,          -- stream id, milliseconds part
    seq      bigint  NOT NULL,          -- stream id, sequence part
    author   text    NOT NULL,          -- user id
    body     text    NOT NULL,          -- current text (after edits)
    edited   boolean NOT NULL DEFAULT false,
    msg      jsonb   NOT NULL,          -- the protocol object at archive time (user brief, help link)
    archived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, ms, seq)
);

-- 003_media.sql — the shared core of video coaching (issue 15): media items (lesson clips, in-call recordings,
-- library files), the people an item is shared with, and the circle library that publishes items.
-- Who may see an item is one rule, written once in media_acl.h: its owner, a user named in media_shares, or
-- a member (now) of a circle whose library publishes it (not withdrawn). Comments, useful marks and
-- mentoring goals come in later migrations.
CREATE TABLE media (
    id          text        PRIMARY KEY,            -- 32 hex, random (a guessed id finds nothing)
    owner       text        NOT NULL,               -- user id
    kind        text        NOT NULL CHECK (kind IN ('clip', 'recording', 'file')),
    title       text        NOT NULL DEFAULT '',
    mime        text        NOT NULL DEFAULT '',    -- from probing the content, never from the client
    bytes       bigint      NOT NULL DEFAULT 0,     -- counted against the owner's quota (clips, files)
    duration_ms integer,                            -- audio/video: from probing
    path        text        NOT NULL DEFAULT '',    -- relative to the media directory (config)
    state       text        NOT NULL DEFAULT 'uploading'
                            CHECK (state IN ('uploading', 'processing', 'ready', 'failed')),
    circle      text,                               -- recordings: the room's circle
    session     text,                               -- recordings of a mentoring session: its id
    meta        jsonb       NOT NULL DEFAULT '{}',  -- probe results; a recording's tracks and their offsets
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_owner ON media (owner, created_at DESC);

-- Shared with named people (a mentor, a peer); the owner can take it back (DELETE).
CREATE TABLE media_shares (
    media_id  text        NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    user_id   text        NOT NULL,
    shared_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_id, user_id)
);
CREATE INDEX media_shares_user ON media_shares (user_id);

-- A circle's library: clips, recordings and files (media_id) or links (url), each with a description.
CREATE TABLE library_items (
    id          text        PRIMARY KEY,            -- 32 hex
    circle      text        NOT NULL,
    author      text        NOT NULL,               -- who published it
    kind        text        NOT NULL CHECK (kind IN ('clip', 'recording', 'file', 'link')),
    media_id    text        REFERENCES media (id) ON DELETE CASCADE,
    url         text,
    title       text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    subject     text        NOT NULL DEFAULT '',
    phase       text        NOT NULL DEFAULT '',
    tags        text[]      NOT NULL DEFAULT '{}',
    useful      integer     NOT NULL DEFAULT 0,     -- members who marked it useful (kept by the library module)
    withdrawn   boolean     NOT NULL DEFAULT false, -- withdrawn by its owner or a moderator: listed nowhere
    created_at  timestamptz NOT NULL DEFAULT now(),
    tsv         tsvector    GENERATED ALWAYS AS (to_tsvector('english'::regconfig,
                    title || ' ' || description || ' ' || subject || ' ' || phase)) STORED,
    CHECK ((kind = 'link') = (url IS NOT NULL) AND (kind = 'link') = (media_id IS NULL))
);
CREATE INDEX library_circle ON library_items (circle, created_at DESC);
CREATE INDEX library_media ON library_items (media_id);
CREATE INDEX library_tsv ON library_items USING gin (tsv);
CREATE INDEX library_tags ON library_items USING gin (tags);

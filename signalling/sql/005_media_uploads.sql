-- 005_media_uploads.sql — lesson clips being uploaded (issue 15) and time-coded comments on media.
-- An upload is a media row in state 'uploading' (its declared size already counts against the owner's quota,
-- so two uploads cannot overrun it together) plus a row here that says when it expires if abandoned. The
-- bytes received so far are the size of the partial file itself (the disk is the truth after a crash).
-- Lists and the file route show only state 'ready': nothing half-written is ever listed.
CREATE TABLE media_uploads (
    media_id    text        PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
    declared    bigint      NOT NULL CHECK (declared > 0),
    expires_at  timestamptz NOT NULL                -- pushed on by every chunk; the sweeper deletes after it
);
CREATE INDEX media_uploads_expiry ON media_uploads (expires_at);

-- Comments anchored at a time of a clip or recording (optionally a range), with a tag from a fixed set,
-- and replies (reply_to: the comment answered, same media). Readers and writers: whoever may view the media
-- (media_acl.h); edit and delete: the author only.
CREATE TABLE media_comments (
    id          text        PRIMARY KEY,            -- 32 hex, random
    media_id    text        NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    author      text        NOT NULL,
    author_name text        NOT NULL DEFAULT '',    -- display name when written (the list needs no Redis)
    at_ms       integer     NOT NULL CHECK (at_ms >= 0),
    end_ms      integer     CHECK (end_ms IS NULL OR end_ms > at_ms),
    tag         text        CHECK (tag IS NULL OR tag IN ('questioning', 'behaviour', 'pace', 'strength', 'next_step')),
    body        text        NOT NULL,
    reply_to    text        REFERENCES media_comments (id) ON DELETE CASCADE,
    edited      boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_comments_media ON media_comments (media_id, at_ms, created_at);

-- 007_goals.sql — mentoring relationships with goals (issue 15): a mentor and a mentee agree on 1–5 goals,
-- record progress on each over time, link sessions (bookings) and media items to a goal, and close the
-- relationship with an outcome per goal. Only the two people read or change it (admins read); goals.h.
CREATE TABLE mentorships (
    id          text        PRIMARY KEY,            -- 32 hex, random
    mentor      text        NOT NULL,               -- user ids
    mentee      text        NOT NULL CHECK (mentee <> mentor),
    mentor_name text        NOT NULL DEFAULT '',    -- display names when proposed (lists need no Redis)
    mentee_name text        NOT NULL DEFAULT '',
    proposed_by text        NOT NULL CHECK (proposed_by IN (mentor, mentee)),
    state       text        NOT NULL DEFAULT 'proposed'
                            CHECK (state IN ('proposed', 'open', 'declined', 'closed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz,                        -- accepted or declined
    closed_at   timestamptz,
    closed_by   text
);
CREATE INDEX mentorships_mentor ON mentorships (mentor, created_at);
CREATE INDEX mentorships_mentee ON mentorships (mentee, created_at);

CREATE TABLE goals (
    id            text    PRIMARY KEY,              -- 32 hex, random
    mentorship_id text    NOT NULL REFERENCES mentorships (id) ON DELETE CASCADE,
    pos           integer NOT NULL CHECK (pos BETWEEN 1 AND 5),   -- 1–5 goals per mentorship
    title         text    NOT NULL,
    measure       text    NOT NULL DEFAULT '',      -- how both will know it is met
    outcome       text    CHECK (outcome IS NULL OR outcome IN ('met', 'partly', 'not_met')),  -- set on close
    UNIQUE (mentorship_id, pos)
);

CREATE TABLE goal_progress (
    id          bigserial   PRIMARY KEY,
    goal_id     text        NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    author      text        NOT NULL,
    author_name text        NOT NULL DEFAULT '',
    note        text        NOT NULL,
    rating      integer     NOT NULL CHECK (rating BETWEEN 1 AND 5),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX goal_progress_goal ON goal_progress (goal_id, at);

-- A session (a booking id, in Redis) or a media item (media.id) linked to a goal. ref_at: when the linked
-- thing happened (the session's start, the item's creation), which orders the history.
CREATE TABLE goal_links (
    goal_id     text        NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    kind        text        NOT NULL CHECK (kind IN ('session', 'media')),
    ref         text        NOT NULL,
    title       text        NOT NULL DEFAULT '',
    ref_at      timestamptz NOT NULL,
    by_user     text        NOT NULL,
    linked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (goal_id, kind, ref)
);

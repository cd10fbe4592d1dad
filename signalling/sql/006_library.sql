-- 006_library.sql — the circle library (issue 15, library.c): who marked an item useful, once per member.
-- library_items.useful is the count of these rows, kept by the same statement that adds or removes one.
CREATE TABLE library_useful (
    item      text        NOT NULL REFERENCES library_items (id) ON DELETE CASCADE,
    user_id   text        NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item, user_id)
);
-- "most useful first" within a circle, then newest (library.list sort=useful).
CREATE INDEX library_circle_useful ON library_items (circle, useful DESC, created_at DESC);

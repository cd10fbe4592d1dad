/* archive.h — the PostgreSQL archive of chat: each channel's Redis stream keeps a hot window (archive-keep
 * messages); older messages move to the messages table (sql/001_messages.sql), and chat.history pages
 * across both.
 *
 * Owns: the archiver (one per community at a time: the Redis lock archive:lock, renewed every round, expiring
 * archive-lock-ttl after the last renewal) and its rounds: for each channel beyond its window, read the
 * oldest messages (lua/archive.lua archive_take), copy them in one statement (idempotent by channel and
 * stream id: ON CONFLICT DO UPDATE carries edits, a message gone from the range is deleted), and only after
 * that committed trim the stream (archive_trim, XTRIM MINID) — if the range changed in between (an edit, a
 * deletion) nothing is trimmed and the next step copies it again. PostgreSQL down: nothing is trimmed, chat
 * goes on in Redis, the next rounds catch up. Also the reading side of chat.history when the archive is on.
 * Opens pg.c when postgres-conninfo-file is set; without it, this module does nothing at all.
 * Must not: trim anything PostgreSQL has not committed; let chat.history answer a page with a gap (a page
 * that needs the archive while it is down is answered unavailable).
 */
#ifndef STAFFROOM_ARCHIVE_H
#define STAFFROOM_ARCHIVE_H

#include "module.h"

extern const module_t archive_module; /* registered by main.c */

/* 1 if the archive is configured (postgres-conninfo-file): chat.history goes through archive_history. */
int archive_enabled(void);

/* chat.history with the archive: the stream's page (chat_history, with `first` and `archived`), completed
 * from PostgreSQL below the stream's oldest message when the page reaches past it. chid, before, after
 * ("" = none) are borrowed for the call; r is answered exactly once, later, from the loop. */
void archive_history(req_t *r, const char *chid, const char *before, const char *after, long long limit);

/* chat.edit / chat.delete with the archive: as the library's chat_edit / chat_delete for a message still in
 * the stream; for one that is not (archived), the same rules (members only; the author edits; the author, a
 * moderator or an admin deletes) checked against the archived row, and the same event to the circle. text,
 * chid and id are borrowed for the call; r is answered exactly once, later, from the loop. text is NULL for
 * a deletion. */
void archive_change(req_t *r, const char *chid, const char *id, const char *text);

/* Counters for /metrics and the tests: messages copied, rounds that failed. */
unsigned long long archive_copied(void);
unsigned long long archive_failures(void);

#endif

/* archive.h — the PostgreSQL archive of chat: each channel's Redis stream keeps a hot window (archive-keep
 * messages); older messages move to the messages table (sql/001_messages.sql), and chat.history pages
 * across both.
 *
 * Owns: the archiver (one per community at a time: the Redis lock archive:lock, renewed every round, expiring
 * archive-lock-ttl after the last renewal) and its rounds: for each channel beyond its window (ARCHIVE_WORKERS
 * channels at once, archive.c), read the
 * oldest messages (lua/archive.lua archive_take), copy them in one statement (idempotent by channel and
 * stream id: ON CONFLICT DO UPDATE carries edits, a message gone from the range is deleted), and only after
 * that committed trim the stream (archive_trim, XTRIM MINID) — if the range changed in between (an edit, a
 * deletion) nothing is trimmed and the next step copies it again. PostgreSQL down: nothing is trimmed, chat
 * goes on in Redis, the next rounds catch up. Each round also copies the circles' new moderation audit
 * entries (archive_audit_take → audit_log, sql/004 → archive_audit_done trims them from Redis) and reindexes
 * circles whose language changed (circle.set_language). Opens pg.c when postgres-conninfo-file is set; without it,
 * this module does nothing at all. Reading across the stream and the archive is history.h.
 * Must not: trim anything PostgreSQL has not committed.
 */
#ifndef STAFFROOM_ARCHIVE_H
#define STAFFROOM_ARCHIVE_H

#include "module.h"

extern const module_t archive_module; /* registered by main.c */

/* 1 if the archive is configured (postgres-conninfo-file): chat.history, chat.edit and chat.delete go through
 * history.h. */
int archive_enabled(void);

/* Counters for /metrics and the tests: messages copied, rounds that failed. */
unsigned long long archive_copied(void);
unsigned long long archive_failures(void);

#endif

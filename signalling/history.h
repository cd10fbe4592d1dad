/* history.h — chat over the stream and the PostgreSQL archive (archive.h) together: chat.history pages
 * across both, chat.edit / chat.delete reach a message wherever it is. Used by channels.c when
 * archive_enabled().
 *
 * Owns: the merge rule of a page (the stream is read first, with its oldest id `first` and the newest
 * trimmed id `archived`; PostgreSQL only below min(before, first): no duplicate while a copied range awaits
 * its trim, no gap since what is trimmed after the stream was read was committed before); the change of an
 * archived message (membership in Redis, authorship in the SQL statement, the event through Redis), and
 * for a change made in the stream: the channel marked dirty first (archive_dirty: the archiver copies the
 * message again) and the immediate copy of the change (best effort).
 * Must not: answer a page with a gap (a page that needs the archive while it is down is unavailable).
 */
#ifndef STAFFROOM_HISTORY_H
#define STAFFROOM_HISTORY_H

#include "msg.h"

/* chat.history with the archive. chid, before, after ("" = none; validated ids) are borrowed for the call;
 * r is answered exactly once, later, from the loop. */
void history_read(req_t *r, const char *chid, const char *before, const char *after, long long limit);

/* chat.edit (text) or chat.delete (text NULL) with the archive: as the library's chat_edit / chat_delete for
 * a message still in the stream; for one that is not (archived), the same rules (members only; the author
 * edits; the author, a moderator or an admin deletes) and the same event. Borrowed arguments; r answered
 * exactly once, later, from the loop. */
void history_change(req_t *r, const char *chid, const char *id, const char *text);

/* moderation.audit with the archive (moderation.c, when archive_enabled()): the entries not copied yet from
 * the circle's Redis stream (lua moderation_audit, which also checks that the user moderates), then the
 * older ones from PostgreSQL's audit_log (sql/004), below the bound the script gave: no duplicate, no gap.
 * A page that needs PostgreSQL while it is down is unavailable. cid and before ("" = newest; a validated
 * stream id) are borrowed for the call; r answered exactly once, later, from the loop. */
void history_audit(req_t *r, const char *cid, const char *before, long long limit);

#endif

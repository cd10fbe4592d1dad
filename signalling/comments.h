/* comments.h — time-coded comments on a clip or recording (issue 15), kept in PostgreSQL (005 migration).
 *
 * Owns: comment.add {media, at_ms, end_ms?, tag?, text, reply_to?}, comment.list {media}, comment.edit
 * {comment, text?, tag?} and comment.delete {comment} (the author only; replies go with their comment);
 * the tags (COMMENTS_TAGS); events comment.added / comment.edited / comment.deleted to the people who
 * may view the item: its owner, the people it is shared with (user channels) and the circles whose library
 * publishes it (circle channels) — a client shows them if it has that item open.
 * Reading and writing both need media_acl.h's rule: a comment on an item the user may not see is
 * not_found, exactly as for the item.
 * Must not: touch files or Redis beyond the user's circles and name.
 */
#ifndef STAFFROOM_COMMENTS_H
#define STAFFROOM_COMMENTS_H

#include "module.h"

/* The fixed set of tags (the 005 migration's CHECK says the same). */
#define COMMENTS_TAGS "questioning", "behaviour", "pace", "strength", "next_step"
#define COMMENTS_TEXT_MAX 2000

extern const module_t comments_module; /* registered by main.c */

#endif

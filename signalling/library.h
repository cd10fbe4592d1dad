/* library.h — the circle library of good practice (issue 15): clips, recordings, documents and links published to a
 * circle, with a title, description, subject, phase and tags; searched by words (PostgreSQL full text on
 * library_items.tsv) and tags; newest or most useful first. Kept in PostgreSQL (003 and 006 migrations).
 *
 * Owns: library.publish {circle, media? | url?, title, description?, subject?, phase?, tags?} (members of
 * the circle now; a media item only by its owner), library.list {circle, query?, tags?, sort?, cursor?,
 * limit?} (members only, checked inside the query; a media item shows its type, size and, for a document,
 * its format), library.useful {item, useful} (once per member: the
 * count is kept with the marks), library.withdraw {item} (its author, a moderator of the circle or an
 * admin; then listed nowhere and, through media_acl.h's rule, no longer a reason to see the clip).
 * Events on the circle's channel: library.published {item}, library.useful {item, useful},
 * library.withdrawn {item, circle}.
 * Must not: touch files, or Redis beyond the user's circles and roles (library_scope).
 */
#ifndef STAFFROOM_LIBRARY_H
#define STAFFROOM_LIBRARY_H

#include "module.h"

#define LIBRARY_TITLE_MAX 200
#define LIBRARY_DESCRIPTION_MAX 4000
#define LIBRARY_FIELD_MAX 100 /* subject, phase */
#define LIBRARY_URL_MAX 2000
#define LIBRARY_QUERY_MAX 200
#define LIBRARY_TAGS_MAX 8
#define LIBRARY_TAG_MAX 32 /* a tag: 1–32 of a-z 0-9 '-' (sent in any case, kept in lower case) */
#define LIBRARY_PAGE 20    /* items per page unless the request's limit says otherwise (1–50) */

extern const module_t library_module; /* registered by main.c */

#endif

/* media_acl.h — the one rule for who may see a media item (a lesson clip, a recording, a library file).
 *
 * A user may see item m when any of these holds, checked inside the query that reads the item (never after):
 *   - the user owns it;
 *   - the owner shared it with the user by name (media_shares);
 *   - it is published, not withdrawn, in the library of a circle the user is a member of NOW.
 * Circle membership lives in Redis: the caller reads the user's circles first (as search.c does) and passes
 * them as a PostgreSQL text[] literal. Every route that reads an item (requests and the HTTP file routes)
 * uses this predicate; an item the user may not see answers not_found (404), never forbidden, so that a
 * guessed id reveals nothing.
 *
 * MEDIA_CAN_VIEW_SQL(ALIAS, USER, CIRCLES): an SQL boolean expression. ALIAS is the media table's alias in
 * the query ("m"), USER the placeholder of the user id ("$2"), CIRCLES the placeholder of the circles
 * array ("$3"). All three are string literals pasted into the query text. */
#ifndef STAFFROOM_MEDIA_ACL_H
#define STAFFROOM_MEDIA_ACL_H

#define MEDIA_CAN_VIEW_SQL(ALIAS, USER, CIRCLES)                                                              \
    "(" ALIAS ".owner = " USER                                                                                \
    " OR EXISTS (SELECT 1 FROM media_shares ms WHERE ms.media_id = " ALIAS ".id AND ms.user_id = " USER ")"  \
    " OR EXISTS (SELECT 1 FROM library_items li WHERE li.media_id = " ALIAS ".id AND NOT li.withdrawn"      \
    " AND li.circle = ANY(" CIRCLES "::text[])))"

#endif

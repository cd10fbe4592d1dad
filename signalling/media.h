/* media.h — lesson clips and library documents (issue 15): the HTTP routes under /media, the media.*
 * requests and signed media URLs. Uploads themselves are upload.c, comments comments.c; both use the
 * helpers below.
 *
 * Owns: GET/HEAD /media/<id>/file?t=<media token> with byte ranges (byterange.h) — every access checked
 * with media_acl.h's rule for the token's user, an item the user may not see (or a guessed id) answering
 * 404 exactly as a missing one; every file answer carries "Content-Security-Policy: sandbox" (nothing
 * served from /media runs script on this origin) and, for a document (kind file), "Content-Disposition:
 * attachment" with a file name made safe from its title and the extension its content gave; the media token (HMAC-SHA256 over item, user and expiry with the
 * community's key kept in Redis, lifetime media-token-ttl: never the session token in a URL); media.list,
 * media.get, media.share, media.unshare, media.delete (removes the file), media.rename (PROTOCOL.md).
 * Must not: read a file or the database on the loop's thread (files through libuv's pool, PostgreSQL
 * through pg.h), or trust a client's file name or Content-Type (probe.h decides what a file is).
 */
#ifndef STAFFROOM_MEDIA_H
#define STAFFROOM_MEDIA_H

#include <jansson.h>
#include <stddef.h>

#include "module.h"
#include "ws.h"

/* Longest title of a clip (bytes of UTF-8). */
#define MEDIA_TITLE_MAX 200

/* The session key ("session:<sha256 hex>") of the request's "Authorization: Bearer <session token>"
 * (during the route call). Returns 0, or -1 if the header is absent or malformed. */
int media_bearer_key(ws_http_req_t *req, char key[80]);
/* The user of a session key (borrowed); cb(uid or NULL if unknown/expired, unavailable, priv) on the loop,
 * never inside this call; unavailable is 1 when Redis did not answer. uid borrowed for the call. */
typedef void (*media_user_cb)(const char *uid, int unavailable, void *priv);
void media_session(const char *key, media_user_cb cb, void *priv);
/* The circles uid (borrowed) is a member of now, as a PostgreSQL text[] literal for MEDIA_CAN_VIEW_SQL:
 * cb(literal or NULL when Redis did not answer, priv), on the loop. literal borrowed for the call. */
typedef void (*media_scope_cb)(const char *circles, void *priv);
void media_scope(const char *uid, media_scope_cb cb, void *priv);

/* Answers req with status and {"code":code,"message":message} (application/json). */
void media_http_error(ws_http_req_t *req, int status, const char *code, const char *message);
/* Answers req with status and body as JSON text; steals body. */
void media_http_json(ws_http_req_t *req, int status, json_t *body);
/* The path of item id's file under media-dir (the ".part" file while uploading if partial). 0, or -1. */
int media_file_path(const char *id, int partial, char *out, size_t cap);
/* The file of a media row's path column (relative to media-dir; borrowed) into out. 0, or -1 if the path
 * is not a plain relative path (absolute, "..", control characters) or does not fit. */
int media_rel_path(const char *rel, char *out, size_t cap);
/* Removes item id's file (its ".part" if partial) on the thread pool; fire and forget (logged). */
void media_unlink_file(const char *id, int partial);
/* The public object of an item from a row of MEDIA_COLUMNS starting at column col (see media.c). New. */
#define MEDIA_COLUMNS                                                                                          \
    "m.id, m.owner, m.kind, m.title, m.mime, m.bytes, m.duration_ms, m.meta::text, "                         \
    "(extract(epoch from m.created_at) * 1000)::bigint"
#define MEDIA_NCOLUMNS 9
typedef struct pg_result pg_result_t;
json_t *media_row_json(const pg_result_t *res, int row, int col);

extern const module_t media_module; /* registered by main.c */

#endif

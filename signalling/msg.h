/* msg.h — the protocol's envelope: JSON text → validated request, and the one answer to each request.
 *
 * Owns: parsing a frame (msg_parse: pure, fuzzed), req_t (one request being answered), typed field
 * getters that answer bad_request naming the field, ok/error answers and the error codes.
 * Must not: know features or message types beyond the envelope (type, id).
 *
 * Lifetime of a req_t: created by dispatch, freed by exactly one answer (req_ok, req_error*,
 * req_store_error, or a field getter that fails). A handler that starts asynchronous work keeps r and
 * answers it in its callback; if the connection is gone by then, the answer is dropped (r is still freed).
 */
#ifndef STAFFROOM_MSG_H
#define STAFFROOM_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Error codes (PROTOCOL.md). */
#define E_BAD_REQUEST "bad_request"
#define E_UNAUTHORIZED "unauthorized"
#define E_FORBIDDEN "forbidden"
#define E_NOT_FOUND "not_found"
#define E_CONFLICT "conflict"
#define E_RATE_LIMITED "rate_limited"
#define E_TOO_LARGE "too_large"
#define E_UNAVAILABLE "unavailable"
#define E_ROOM_FULL "room_full"
#define E_INTERNAL "internal"
#define E_BAD_SDP "bad_sdp" /* room.media: the SFU could not use the description */
#define E_GLARE "glare"     /* room.media: the SFU has an offer of its own outstanding */
#define E_SUSPENDED "suspended" /* auth.login/auth.resume: an admin suspended the account (admin.suspend) */
/* 1 if code is one of the codes above. */
int msg_is_code(const char *code, size_t len);

/* ---- the core API (signalling/ARCHITECTURE.md) ---- */
typedef struct req req_t;
const char *req_type(const req_t *r);
const char *req_user(const req_t *r);     /* signed-in user id, or NULL; borrowed for r's lifetime */
uint64_t req_conn(const req_t *r);        /* connection id (the connection may be gone by reply time) */
json_t *req_json(const req_t *r);         /* the whole request object; borrowed */
/* Field getters. On a missing/mistyped/out-of-range field they answer bad_request naming the field,
 * FREE r and return -1: the caller must return at once. Optional fields: required=0 leaves *out as is.
 * req_str's *out is borrowed from the request (valid until r is answered); lengths count characters
 * (UTF-8 code points). A JSON null counts as absent. */
int req_str(req_t *r, const char *field, size_t minlen, size_t maxlen, int required, const char **out);
int req_int(req_t *r, const char *field, long long min, long long max, int required, long long *out);
int req_bool(req_t *r, const char *field, int required, int *out);
/* Answers. Each frees r. If the connection is gone, the answer is dropped. */
void req_ok(req_t *r, json_t *fields);    /* steals fields (may be NULL): {"type":"ok","id":…, …fields} */
void req_error(req_t *r, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Answers from a store reply that is not a success: NULL → unavailable; a Lua error "CODE: message"
 * (redis.error_reply) whose CODE is one of the protocol codes → that code; anything else → internal (logged). */
void req_store_error(req_t *r, const store_reply_t *rep);

/* ---- additions ---- */
/* req_error with a `field` member (may be NULL) and, if retry_after_ms > 0, `retry_after_ms`. */
void req_error_ex(req_t *r, const char *code, const char *field, long long retry_after_ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Sets the user (borrowed, copied) that req_user reports: accounts.c uses it after a sign-in. */
void req_set_user(req_t *r, const char *user);

/* ---- for dispatch.c and the fuzzer ---- */
typedef struct {
    json_t *root;      /* new reference on success (and on some errors); released by msg_parsed_clear */
    const char *type;  /* borrowed from root, on success */
    json_t *id;        /* borrowed from root: a valid id, or NULL (answered as null) */
    const char *code;  /* on error: a static code */
    char field[64];    /* on error: the offending field, or "" */
    char message[128]; /* on error: for people */
    /* msg_parse_passthrough only: the pass-through member's text inside the frame (NULL if absent), and
     * whether root holds an empty object in its place (then only a handler flagged H_PASS_DATA may use
     * root; any other must parse the frame again with msg_parse). */
    const char *pass;
    size_t pass_len;
    int pass_stubbed;
} msg_parsed_t;
/* Parses one frame. Returns 0 (root, type, id set) or -1 (code, message, field set; id set if one could
 * be read). Never reads past len; buf need not be NUL-terminated. */
int msg_parse(const char *buf, size_t len, msg_parsed_t *out);
void msg_parsed_clear(msg_parsed_t *p);
/* As msg_parse for a request whose `member` (e.g. "data") is only passed on: the frame is checked as JSON
 * and walked in one pass without building it (jsonscan.h), the other top-level members are parsed one by
 * one, and member, when it is an object, is represented by an empty object (its text: out->pass, and
 * req_raw_member once msg_set_frame was given it). Returns 0 (as msg_parse), or -1 when anything is off —
 * the caller then uses msg_parse, which gives the exact error. */
int msg_parse_passthrough(const char *buf, size_t len, const char *member, msg_parsed_t *out);
/* An error frame's text: new malloc'd string, or NULL on allocation failure. id borrowed (NULL → null). */
char *msg_error_text(const json_t *id, const char *code, const char *field, long long retry_after_ms,
                     const char *message);
/* A new request: steals root; type is the handler table's string (static, used as the metrics label);
 * user may be NULL (copied). Returns NULL on allocation failure (root released). */
req_t *req_new(uint64_t conn, const char *user, json_t *root, const char *type);
/* Requests created and not yet answered (leak check for tests and shutdown logs). */
long req_outstanding(void);

/* ---- raw members: passing a client's payload through without re-serialising it ---- */
/* The text of the top-level member `name` of the JSON object text s (already validated by the parser):
 * *vp points into s, *vlen its length. The last one wins, as in the parsed object. -1 if absent, or if
 * its key is spelt with escapes (the caller then uses the parsed value). */
int msg_raw_member(const char *s, size_t n, const char *name, const char **vp, size_t *vlen);
/* dispatch.c: r's frame text is buf (borrowed) while r's handler runs; msg_set_frame(NULL, NULL, 0)
 * after it returns. */
void msg_set_frame(const req_t *r, const char *buf, size_t len);
/* dispatch.c, after msg_set_frame: the frame's member `name` (static) was already found at text[0..len)
 * by msg_parse_passthrough, so req_raw_member need not look for it again. */
void msg_set_frame_member(const char *name, const char *text, size_t len);
/* msg_raw_member over r's frame. Only valid inside r's handler call itself (not from a later
 * callback): -1 otherwise, or when absent. *vp borrowed until the handler returns. */
int req_raw_member(const req_t *r, const char *field, const char **vp, size_t *vlen);

#endif

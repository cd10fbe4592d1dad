/* feature.h — what the circle, channel and chat handlers share: ids, and answering a request with the
 * result of one function of the Redis library (signalling/lua/).
 *
 * Owns: the format of circle/channel ids (128-bit random, 32 lowercase hex) and of chat message ids
 * (Redis stream ids "MS-SEQ"); the convention that a feature's library function returns a JSON object whose members
 * become the ok answer.
 * Must not: know any message type, or touch Redis other than through store_fcall.
 */
#ifndef STAFFROOM_FEATURE_H
#define STAFFROOM_FEATURE_H

#include <stddef.h>

#include "msg.h"
#include "store.h"

#define FEATURE_ID_LEN 32 /* hex characters of a circle or channel id */

/* Writes a fresh random id (FEATURE_ID_LEN hex characters and a NUL) into out. Returns 0, or -1 if
 * the system's random source failed. */
int feature_id_new(char out[FEATURE_ID_LEN + 1]);

/* 1 if s is a circle/channel id as made by feature_id_new, else 0. */
int feature_id_valid(const char *s);

/* The ids of the JSON array `ids` as a PostgreSQL array literal {"a","b"} (ids are hex: nothing to
 * escape); entries that are not ids are left out. With langs (an array parallel to ids), only the ids
 * whose entry there equals lang. New string (free), or NULL out of memory. */
char *feature_ids_pg_array(const json_t *ids, const json_t *langs, const char *lang);

/* 1 if s is a full stream id "MS-SEQ" (decimal, each at most 20 digits), else 0. */
int feature_stream_id_valid(const char *s);

/* Reads the string field `field` that must be an id (check: feature_id_valid, or
 * feature_stream_id_valid if stream is 1). Missing (when required), mistyped or malformed → answers
 * bad_request naming the field, frees r and returns -1: the caller must return at once. An absent
 * optional field leaves *out as is and returns 0. *out is borrowed for r's lifetime. */
int feature_req_id(req_t *r, const char *field, int stream, int required, const char **out);

/* Reads the string field `field` that must be one of the NULL-terminated `allowed` words. Errors and
 * ownership as feature_req_id. */
int feature_req_enum(req_t *r, const char *field, const char *const *allowed, int required,
                     const char **out);

/* Calls library function fn (store_fcall: nkeys key names, then nargs arguments, all in args, borrowed for
 * the call only) and answers r: a JSON object text reply → ok with the object's members; an empty reply →
 * plain ok; an error or no reply (Redis down) → req_store_error. r is always answered exactly once, later,
 * from the loop. fn is borrowed for the call only. */
void feature_eval_answer(req_t *r, const char *fn, int nkeys, int nargs, const char **args);

/* As feature_eval_answer, for a write that must be durable before it is acknowledged (chat messages):
 * store_fcall_durable (the chat-wait-replicas rule); short of it, r is answered unavailable. */
void feature_eval_answer_durable(req_t *r, const char *fn, int nkeys, int nargs, const char **args);

/* As feature_eval_answer, with the caller's bookkeeping in between: just before r is answered,
 * then(r, fields, priv) is called once — fields is the function's object (an empty object for an empty
 * reply; borrowed), or NULL when the function failed or Redis did not answer. then owns priv (frees it). */
typedef void (*feature_then_fn)(req_t *r, const json_t *fields, void *priv);
void feature_eval_then(req_t *r, const char *fn, int nkeys, int nargs, const char **args, feature_then_fn then,
                       void *priv);

/* A signal event for another device: head (the event's opening members, e.g.
 * {"type":"call.signal","call":"…","from":"…" — no closing brace) then ,"data": with the text of the
 * request's data member exactly as the client sent it (req_raw_member: parsed once, never re-serialised;
 * data, the parsed value, is dumped only if the raw text cannot be found), then }. Call from inside r's
 * handler. New string (free it), *len set; NULL when out of memory. */
char *feature_event_with_data(req_t *r, const char *head, json_t *data, size_t *len);

#endif

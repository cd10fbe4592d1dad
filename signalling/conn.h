/* conn.h — this node's connections: id, peer, signed-in user, device, the user's circles.
 *
 * Owns: conn_t objects and their indexes: by id (and so by device), by user (the user's connections
 * here) and by circle (the circle's members connected here). Every lookup and iteration by user, device
 * or circle costs O(what it finds), never O(connections on the node).
 * Must not: talk to Redis or know the wire format beyond "send this text". Keeping circles subscribed
 * on the bus and announcing a device gone to presence are delegated (bus.c, presence.c).
 *
 * A conn_t lives from the WebSocket's establishment until its close callback (conn_closed); code that
 * finishes later (a Redis reply) must look it up again by id with conn_find, never keep the pointer.
 */
#ifndef STAFFROOM_CONN_H
#define STAFFROOM_CONN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct conn conn_t;
typedef struct ws_sess ws_sess_t; /* ws.c's per-socket state (opaque here) */

/* ---- the core API (ARCHITECTURE.md) ---- */
conn_t *conn_find(uint64_t id);                 /* borrowed, NULL if gone */
const char *conn_user(const conn_t *c);         /* signed-in user id or NULL; borrowed */
const char *conn_device(const conn_t *c);       /* this connection's device id ("<node>-<id>"); borrowed */
int conn_in_circle(const conn_t *c, const char *circle_id);
void conn_send_json(conn_t *c, json_t *event);  /* borrowed */

/* ---- for ws.c ---- */
/* A new connection (peer: the IP, copied). Returns NULL when out of memory. */
conn_t *conn_new(ws_sess_t *ws, const char *peer);
/* The socket is gone: unlinks c from everything (bus, presence), then frees it. */
void conn_closed(conn_t *c);
uint64_t conn_id(const conn_t *c);
const char *conn_peer(const conn_t *c);
size_t conn_count(void);

/* ---- for features ---- */
/* Queues text (borrowed, copied) to the client. Dropped if the connection is closing. */
void conn_send_text(conn_t *c, const char *text, size_t len);
/* Signs the connection in as uid with name (both copied); circles: the user's circle ids (may be NULL,
 * n=0), each borrowed. Subscribes the user's and circles' bus channels. Signs out first if needed.
 * Returns 0 or -1 (out of memory: the connection stays signed out). */
int conn_sign_in(conn_t *c, const char *uid, const char *name, const char *const *circles, size_t n);
/* Signs out (presence device removed, subscriptions dropped). */
void conn_sign_out(conn_t *c);
const char *conn_user_name(const conn_t *c);
/* Adds (member=1) or removes a circle from c's set, subscribing/unsubscribing ev:c:<cid>. */
void conn_set_circle(conn_t *c, const char *circle_id, int member);
/* The user's circles on this connection: how many, and the i-th (borrowed until the set changes). */
size_t conn_circle_count(const conn_t *c);
const char *conn_circle_at(const conn_t *c, size_t i);
/* Presence status this device announced last ("online" after sign-in); borrowed; set by presence.c. */
const char *conn_status(const conn_t *c);
void conn_set_status(conn_t *c, const char *status);

/* Calls and rooms this connection takes part in (its device shows in_call while > 0): adds delta and
 * returns the new count (never below 0). The status to go back to is kept with it (conn_media_saved). */
int conn_media_ref(conn_t *c, int delta);
char *conn_media_saved(conn_t *c); /* 16-byte buffer owned by c */

/* The session this connection signed in with: hex SHA-256 of its token ("" if none); borrowed. Setting it
 * (signed-in connections only; signing out clears it) subscribes the session's bus channel ev:s:<hash>. */
const char *conn_session(const conn_t *c);
void conn_set_session(conn_t *c, const char *session_hash);

/* Calls fn for every connection (of a user when uid is non-NULL: O(that user's connections here)).
 * fn may send but must not close or free connections, nor sign them in or out. */
void conn_foreach(const char *uid, void (*fn)(conn_t *c, void *arg), void *arg);
/* Calls fn for every signed-in connection here whose user is a member of circle_id, in O(those); same
 * rules for fn, which must not change circle memberships either. */
void conn_foreach_in_circle(const char *circle_id, void (*fn)(conn_t *c, void *arg), void *arg);
/* The connection whose conn_device() is device, on this node; NULL if none (O(1)). */
conn_t *conn_find_device(const char *device);
/* How many connections here are signed in as uid / are members of circle_id. */
size_t conn_user_count(const char *uid);
size_t conn_circle_members_here(const char *circle_id);
/* The transport session of c (NULL for a test connection); borrowed. */
ws_sess_t *conn_ws(const conn_t *c);

/* Admission control (msg.c): a request of c was read / was answered. At max-inflight requests waiting
 * for their answer, reading from c pauses (ws_pause_reading) until one is answered, so a client cannot
 * queue unbounded work on the node or in Redis. */
void conn_request_started(conn_t *c);
void conn_request_done(conn_t *c);
int conn_inflight(const conn_t *c);

/* Tests: a connection made with ws == NULL hands what it would send to this sink (NULL: dropped). */
void conn_set_test_sink(void (*sink)(uint64_t id, const char *text, size_t len));

/* Frees every connection's state without notifying anyone (after the sockets are gone, at exit). */
void conn_free_all(void);

#endif

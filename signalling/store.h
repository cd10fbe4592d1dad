/* store.h — Redis, asynchronously, on the process's libuv loop. The only module that includes hiredis.
 *
 * Owns: two connections (commands; pub/sub), AUTH, reconnection with back-off, liveness (a PING and a
 * timeout on every command, a heartbeat through pub/sub), finding and following the master through Redis
 * Sentinel, the WAIT durability rule, the Redis Functions
 * library (signalling/lua/, embedded at build time: lua_library.h): FUNCTION LOAD REPLACE on every
 * (re)connection of the command connection and again when Redis says a function is not found; the
 * channel subscriptions it is told about.
 * Must not: know features, or block (only store_open is called before the loop runs, and it does not
 * block either: connecting is asynchronous).
 *
 * Callbacks: every store_cb passed here is called exactly once, on the loop, never from inside the call
 * that registered it (except after store_close, at shutdown, when it is called at once with NULL).
 * rep is NULL if Redis is down, went away before answering, or the command could not be sent; rep is
 * borrowed for the duration of the callback only. cb may be NULL: the command is fire-and-forget.
 */
#ifndef STAFFROOM_STORE_H
#define STAFFROOM_STORE_H

#include <stddef.h>
#include <uv.h>

typedef struct store_reply store_reply_t; /* borrowed for the callback only */
typedef void (*store_cb)(const store_reply_t *rep, void *priv);

/* argv/argvlen are borrowed (copied before return). */
void store_cmd(store_cb cb, void *priv, int argc, const char **argv, const size_t *argvlen);
/* hiredis format: %s a C string, %b a (pointer, size_t) pair, e.g. "GET %s". */
void store_cmdf(store_cb cb, void *priv, const char *fmt, ...);
/* FCALL fn nkeys keys… args…: calls function fn of the staffroom library. args holds the nkeys key names
 * first, then the nargs arguments; all C strings (a NULL entry is sent as ""), borrowed (copied before
 * return), as is fn. The library is loaded before any call is sent on a connection (so a Redis that
 * restarted empty gets it on reconnection); if Redis still answers that the function is not found
 * (FUNCTION FLUSH), the library is loaded again and the call is sent once more, so cb sees that error
 * only if the reload did not help. cb is
 * called exactly once as for every command (NULL reply if Redis is down or goes away); it may be NULL. */
void store_fcall(const char *fn, store_cb cb, void *priv, int nkeys, int nargs, const char **args);
/* 1 if both connections are up and authenticated. */
int store_is_up(void);

enum store_type { STORE_NIL, STORE_INT, STORE_STR, STORE_ARR, STORE_ERR, STORE_STATUS };
enum store_type store_type(const store_reply_t *r);
long long store_int(const store_reply_t *r);                  /* INT; 0 otherwise */
const char *store_str(const store_reply_t *r, size_t *len);   /* STR, STATUS, ERR; NULL otherwise. len may be NULL */
size_t store_len(const store_reply_t *r);                     /* ARR; 0 otherwise */
const store_reply_t *store_elem(const store_reply_t *r, size_t i); /* ARR element, NULL if out of range */
/* 1 if rep is a usable answer: not NULL and not an error. */
int store_ok(const store_reply_t *rep);

/* --- lifecycle and pub/sub, for main.c and bus.c --- */

/* Sentinel mode (call before store_open): addrs are "host:port" of the Sentinels (borrowed, copied),
 * master_name the name they monitor. The address given to store_open is then ignored: the master is
 * asked for, checked with ROLE, and asked for again whenever a connection goes down (a failover is
 * followed: reconnection, Functions library, subscriptions). Returns 0, or -1 (malformed address, out of
 * memory). n == 0: the fixed address (the default). password (copied; NULL or "": none) is sent with AUTH to
 * each Sentinel before asking it (Sentinels with requirepass). */
int store_set_sentinels(const char *const *addrs, size_t n, const char *master_name, const char *password);
/* Durability of store_fcall_durable (call before store_open): after the function's write, WAIT for
 * `replicas` replicas for at most timeout_ms; the call is answered with the function's reply only if
 * they confirmed, else with NULL (so the request answers unavailable; the write may still survive).
 * replicas == 0 (the default): no WAIT. timeout_ms must stay below the liveness timeout. */
void store_set_durability(unsigned replicas, unsigned timeout_ms);
/* As store_fcall, with the durability rule above (chat messages). */
void store_fcall_durable(const char *fn, store_cb cb, void *priv, int nkeys, int nargs, const char **args);
/* Liveness (call before store_open; defaults 1000 and 3000 ms): a PING every ping_interval_ms on a quiet
 * command connection and a heartbeat through the pub/sub connection; a connection with a command (or the
 * heartbeat) unanswered for timeout_ms is dropped — its pending callbacks get NULL, store_is_up says 0 —
 * and reconnected with back-off like one that closed. */
void store_set_liveness(unsigned ping_interval_ms, unsigned timeout_ms);
/* Starts connecting (both connections). password may be NULL or "" (no AUTH); all borrowed (copied).
 * Returns 0, or -1 if out of memory. Connection failures are retried forever with back-off. */
int store_open(uv_loop_t *loop, const char *host, int port, const char *password);
/* Stops reconnecting, sends what is queued, then disconnects; handles close once the loop runs on.
 * Pending callbacks are called with NULL. */
void store_close(void);

/* Called for every message on a subscribed channel (channel and payload borrowed for the call). */
typedef void (*store_message_fn)(const char *channel, const char *payload, size_t len);
/* Called each time the pub/sub connection comes up (first time and after every reconnection): the
 * owner of the subscriptions subscribes again to everything it needs. */
typedef void (*store_sub_up_fn)(void);
/* Called when the command connection comes up (after a reconnection too): e.g. presence refreshes. */
typedef void (*store_up_fn)(void);
void store_set_handlers(store_message_fn on_message, store_sub_up_fn on_sub_up, store_up_fn on_up);
/* (Un)subscribes one channel now if the pub/sub connection is up; otherwise nothing (on_sub_up will
 * resubscribe). Reference counting is the caller's (bus.c). */
void store_subscribe(const char *channel);
void store_unsubscribe(const char *channel);
/* Calls cb (with rep NULL) once Redis has confirmed every SUBSCRIBE sent so far, or at once (on the loop)
 * if there is none pending or the pub/sub connection is down or goes away. Used to answer a sign-in, or
 * to forward circle.membership, only when the events that follow can no longer be missed. */
void store_sub_barrier(store_cb cb, void *priv);

#endif

/* dispatch.h — from a frame's `type` to its handler: authentication requirement, rate-limit class.
 *
 * Owns: the list of handler tables (one per feature module), the per-IP sign-in and per-user message
 * rate limiters (node-local), the `ping` request.
 * Must not: know what any feature does.
 */
#ifndef STAFFROOM_DISPATCH_H
#define STAFFROOM_DISPATCH_H

#include <stddef.h>

#include "conn.h"
#include "msg.h"

/* ---- the core API (ARCHITECTURE.md) ---- */
typedef void (*handler_fn)(req_t *r);
typedef struct { const char *type; handler_fn fn; unsigned flags; } handler_t; /* arrays end with {NULL} */
#define H_PUBLIC 0x1     /* may be called before sign-in (auth.register, auth.login, auth.resume, ping) */
#define H_RL_LOGIN 0x2   /* counts against the login rate limit */
#define H_RL_MSG 0x4     /* counts against the message rate limit */
#define H_RL_SIGNAL 0x8  /* counts against the signal rate limit (call/room signals, typing, presence) */
/* Each feature module exports its table; a module not linked yet is simply absent (weak symbols). */
extern const handler_t accounts_handlers[], presence_handlers[], circles_handlers[], channels_handlers[],
    turn_handlers[], calls_handlers[], rooms_handlers[];
extern const handler_t help_handlers[], schedule_handlers[], mentoring_handlers[];

/* ---- for ws.c and main.c ---- */
/* Handles one complete text frame (buf borrowed) from connection c: parses, checks, calls the handler,
 * or answers the error itself. Never closes the connection. */
void dispatch_frame(conn_t *c, const char *buf, size_t len);
/* Answers a frame that cannot be handled at all (e.g. binary) with bad_request. */
void dispatch_reject(conn_t *c, const char *message);
/* The handler for type, or NULL (exposed for tests). */
const handler_t *dispatch_find(const char *type);
int dispatch_init(void);
void dispatch_free(void);

#endif

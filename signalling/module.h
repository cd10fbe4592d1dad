/* module.h — the registry of feature modules: what each feature brings to the core.
 *
 * Owns: the ordered list of registered modules and, from it, the table from request type to handler, the
 * HTTP routes, the connection-gone observers, and starting/stopping every module (timers live in start).
 * Must not: name any feature. main.c registers the modules (it is the only file that lists them), so the
 * transport (ws, conn, dispatch, bus) never includes a feature header, and a module left out of the build
 * is a link error rather than message types silently lost.
 */
#ifndef STAFFROOM_MODULE_H
#define STAFFROOM_MODULE_H

#include <stddef.h>
#include <uv.h>

#include "conn.h"
#include "msg.h"
#include "ws.h"

/* ---- request handlers ---- */
typedef void (*handler_fn)(req_t *r);
typedef struct { const char *type; handler_fn fn; unsigned flags; } handler_t; /* arrays end with {NULL} */
#define H_PUBLIC 0x1     /* may be called before sign-in (auth.register, auth.login, auth.resume, ping) */
/* Every handler has exactly one rate class (dispatch_init refuses a table where one has none): */
#define H_RL_LOGIN 0x2   /* sign-in attempts: per address and per account, in Redis (login-rate, login-burst) */
#define H_RL_MSG 0x4     /* writes others see: chat, invites, requests (message-rate, message-burst) */
#define H_RL_SIGNAL 0x8  /* call/room signals, typing, presence, room changes (signal-rate, signal-burst) */
#define H_RL_READ 0x10   /* reads and everything else (request-rate, request-burst) */
#define H_RL_MASK (H_RL_LOGIN | H_RL_MSG | H_RL_SIGNAL | H_RL_READ)
/* The handler only passes its `data` object on as text (signals): the frame is checked without building
 * data into a tree (msg_parse_passthrough); the handler must read data with req_raw_member. */
#define H_PASS_DATA 0x20

/* An HTTP route a module serves (ws.h): GET prefix and prefix/…; arrays end with {NULL}. */
typedef struct { const char *prefix; ws_http_fn fn; void *arg; } module_route_t;

typedef struct module {
    const char *name;
    const handler_t *handlers;         /* its request types, or NULL */
    const module_route_t *routes;             /* its HTTP routes, or NULL */
    const module_route_t *method_routes;      /* HTTP routes also called for HEAD, POST, PUT, DELETE, or NULL */
    /* Called once the transport listens, in registration order: timers, hooks. 0 or -1 (logged). */
    int (*start)(uv_loop_t *loop);
    /* Called at shutdown after every connection closed, in reverse registration order. */
    void (*stop)(void);
    /* A signed-in connection signs out or closes (before its user and circles are dropped), in
     * registration order: register modules whose observers change a device's status (calls, rooms)
     * before the one that removes the device (presence). */
    void (*conn_gone)(conn_t *c);
} module_t;

/* main.c: registers m (borrowed; static storage). At most MODULE_MAX modules. Returns 0 or -1. */
#define MODULE_MAX 32
int module_register(const module_t *m);
/* The registered modules, in order (for dispatch's handler table): *n set; borrowed. */
const module_t *const *module_list(size_t *n);
/* Registers every module's HTTP routes with ws_route_add (before ws_start). 0, or -1 (logged). */
int module_add_routes(void);
int module_start_all(uv_loop_t *loop);
void module_stop_all(void);
/* conn.c: tells every module's conn_gone observer that c signs out or closes. */
void module_conn_gone(conn_t *c);
/* Tests: forget every registration. */
void module_reset(void);

#endif

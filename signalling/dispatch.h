/* dispatch.h — from a frame's `type` to its handler: authentication requirement, rate-limit class.
 *
 * Owns: the table from request type to handler, built once from the registered modules (module.h); the
 * rate limiters of the four classes (node-local: per IP for sign-in, per user otherwise); the `ping`
 * request.
 * Must not: know what any feature does.
 */
#ifndef STAFFROOM_DISPATCH_H
#define STAFFROOM_DISPATCH_H

#include <stddef.h>

#include "conn.h"
#include "msg.h"

/* Handler tables, flags and rate classes are declared in module.h: each feature brings its table in its
 * module_t, registered by main.c. */
#include "module.h"

/* ---- for ws.c and main.c ---- */
/* Handles one complete text frame (buf borrowed) from connection c: parses, checks, calls the handler,
 * or answers the error itself. Never closes the connection. */
void dispatch_frame(conn_t *c, const char *buf, size_t len);
/* Answers a frame that cannot be handled at all (e.g. binary) with bad_request. */
void dispatch_reject(conn_t *c, const char *message);
/* The handler for type, or NULL (exposed for tests). O(1). */
const handler_t *dispatch_find(const char *type);
/* Builds the type table from the modules registered so far. Refuses (-1, logged) a type defined twice or
 * a handler without exactly one rate class. */
int dispatch_init(void);
void dispatch_free(void);

#endif

/* control.h — the SFU's link to Redis (the only hiredis): registration, heartbeat, commands, replies.
 *
 * Owns: two async connections on the GLib main loop — one SUBSCRIBEd to sfu:cmd:<id>, one for SET, ZADD,
 * ZREM and PUBLISH — and their reconnection (every 500 ms while Redis is away). The key names and the
 * registration value follow signalling/ARCHITECTURE.md, "Group media: staffroom-signal ↔ staffroom-sfu".
 * Must not: parse or build the commands' JSON (cmd.c does), or know rooms.
 *
 * While Redis is away, publishes are dropped (counted in the log): the signal nodes cannot hear them
 * either, and they re-place rooms whose SFU key expired.
 */
#ifndef STAFFROOM_SFU_CONTROL_H
#define STAFFROOM_SFU_CONTROL_H

#include <stddef.h>
#include <stdint.h>

typedef struct control control_t;

typedef struct {
    /* A message on sfu:cmd:<id>; payload borrowed for the call. */
    void (*on_command)(void *ctx, const char *payload, size_t len);
    /* Load figures for the heartbeat. */
    void (*load)(void *ctx, uint64_t *participants, uint64_t *rooms);
    void *ctx;
} control_callbacks_t;

typedef struct {
    const char *id, *host, *password; /* borrowed: must outlive the control */
    uint16_t port;
    unsigned heartbeat_ms;
    uint64_t capacity;
    uint64_t started_ms; /* wall clock, for the registration value */
} control_params_t;

/* Starts connecting (never blocks; failures are retried). NULL only when out of memory. */
control_t *control_new(const control_params_t *p, const control_callbacks_t *cb);
/* 1 while both connections are up and the subscription is acknowledged. */
int control_up(const control_t *c);
/* PUBLISH sfu:to:<node> text (both borrowed). Dropped while Redis is away. */
void control_publish(control_t *c, const char *node, const char *text);
/* Takes this SFU out of placement: ZREM sfu:load <id> (heartbeats stop touching sfu:load), then calls
 * done(ctx) once Redis has answered, or at once when Redis is away. */
void control_drain(control_t *c, void (*done)(void *ctx), void *ctx);
/* Deletes sfu:alive:<id> (best effort, then waits at most 500 ms for the answer via the loop) and frees. */
void control_free(control_t *c);

#endif

/* idle.h — which connections have been quiet too long, in O(1) per event.
 *
 * Owns: two intrusive lists of idle_node_t, both ordered by last activity (oldest first): `active`
 * (heard from recently, or not yet pinged) and `pinged` (asked for a sign of life, no answer yet).
 * Activity moves a node to the tail of `active`; a periodic check takes nodes from the heads only as
 * long as they are due, so its work is the number of nodes it acts on, never the number of nodes held.
 * Must not: do I/O, read a clock or allocate: times are passed in (milliseconds, any monotonic origin)
 * and nodes live inside the caller's objects (recover them with IDLE_CONTAINER).
 *
 * Why not one timer per connection: libwebsockets 4.1 keeps its timers in one sorted list (O(n) per
 * insert); re-arming a timer per connection on every frame or pong made thousands of idle connections
 * cost a large share of a core.
 */
#ifndef STAFFROOM_IDLE_H
#define STAFFROOM_IDLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct idle_node {
    struct idle_node *prev, *next;
    uint64_t last; /* last activity (ms) */
    int list;      /* IDLE_NONE, IDLE_ACTIVE or IDLE_PINGED */
} idle_node_t;

enum { IDLE_NONE, IDLE_ACTIVE, IDLE_PINGED };

typedef struct {
    idle_node_t active, pinged; /* sentinels of circular lists */
    size_t n;                   /* nodes held, in either list */
} idle_t;

#define IDLE_CONTAINER(node, type, member) ((type *)(void *)((char *)(node) - offsetof(type, member)))

void idle_init(idle_t *t);
/* Activity on n at now: n goes to the tail of `active` (added if it was in no list). n must be zeroed or
 * have been removed before its first touch. Times passed to idle_touch must not decrease. */
void idle_touch(idle_t *t, idle_node_t *n, uint64_t now);
/* Takes n out of whichever list holds it; a no-op for a node in none. */
void idle_remove(idle_t *t, idle_node_t *n);
/* The oldest node of `active` quiet for at least `after` ms at now, moved to the tail of `pinged` (the
 * caller pings it); NULL when none is due. */
idle_node_t *idle_ping_due(idle_t *t, uint64_t now, uint64_t after);
/* The oldest node of `pinged` quiet for at least `after` ms at now, removed from the lists (the caller
 * drops it); NULL when none is due. */
idle_node_t *idle_expired(idle_t *t, uint64_t now, uint64_t after);
size_t idle_count(const idle_t *t);

#endif

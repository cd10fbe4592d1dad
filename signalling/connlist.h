/* connlist.h — what a feature keeps per connection of this node (its parts in calls, its rooms): items
 * found by connection id in O(1), a connection's items chained together.
 *
 * Owns: the index from connection id to the first item; the chain through each item's link.
 * Must not: own the items (the feature allocates and frees them) or know what they are.
 *
 * An item embeds a connlist_link_t; CONNLIST_ITEM gets the item back from its link.
 */
#ifndef STAFFROOM_CONNLIST_H
#define STAFFROOM_CONNLIST_H

#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

typedef struct connlist_link {
    struct connlist_link *next; /* the same connection's next item */
    uint64_t conn;
} connlist_link_t;

typedef struct {
    strmap_t *by_conn; /* NULL until the first add */
} connlist_t;

#define CONNLIST_ITEM(link, type, member) ((type *)((char *)(link) - offsetof(type, member)))

/* The first item of connection conn (follow ->next for the others), or NULL. */
connlist_link_t *connlist_first(const connlist_t *l, uint64_t conn);
/* Adds item (link borrowed; link->conn set by the caller) in front of its connection's items. 0 or -1
 * (out of memory: not added). */
int connlist_add(connlist_t *l, connlist_link_t *link);
/* Takes item out (it must be in l). */
void connlist_remove(connlist_t *l, connlist_link_t *link);
/* Forgets every item (not freeing them) and the index. */
void connlist_clear(connlist_t *l);

#endif

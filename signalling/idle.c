/* idle.c — see idle.h. */
#include "idle.h"

/* A node enters `pinged` in the order it left `active`, which is the order of last activity; so
 * `pinged` stays ordered by last activity too and both checks can stop at the first node not due. */

static void unlink_node(idle_node_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

static void append(idle_node_t *head, idle_node_t *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

void idle_init(idle_t *t)
{
    t->active.prev = t->active.next = &t->active;
    t->pinged.prev = t->pinged.next = &t->pinged;
    t->active.list = t->pinged.list = IDLE_NONE;
    t->n = 0;
}

void idle_touch(idle_t *t, idle_node_t *n, uint64_t now)
{
    if (n->list != IDLE_NONE)
        unlink_node(n);
    else
        t->n++;
    n->last = now;
    n->list = IDLE_ACTIVE;
    append(&t->active, n);
}

void idle_remove(idle_t *t, idle_node_t *n)
{
    if (n->list == IDLE_NONE)
        return;
    unlink_node(n);
    n->list = IDLE_NONE;
    t->n--;
}

/* Times come from the loop's monotonic clock; a node touched "after" now (now read earlier) is not due. */
static int due(const idle_node_t *n, uint64_t now, uint64_t after)
{
    return now >= n->last && now - n->last >= after;
}

idle_node_t *idle_ping_due(idle_t *t, uint64_t now, uint64_t after)
{
    idle_node_t *n = t->active.next;
    if (n == &t->active || !due(n, now, after))
        return NULL;
    unlink_node(n);
    n->list = IDLE_PINGED;
    append(&t->pinged, n);
    return n;
}

idle_node_t *idle_expired(idle_t *t, uint64_t now, uint64_t after)
{
    idle_node_t *n = t->pinged.next;
    if (n == &t->pinged || !due(n, now, after))
        return NULL;
    idle_remove(t, n);
    return n;
}

size_t idle_count(const idle_t *t) { return t->n; }

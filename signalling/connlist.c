/* connlist.c — see connlist.h. */
#include "connlist.h"

#include <stdio.h>

static void key_of(uint64_t conn, char key[24]) { snprintf(key, 24, "%llu", (unsigned long long)conn); }

connlist_link_t *connlist_first(const connlist_t *l, uint64_t conn)
{
    char key[24];
    if (!l->by_conn)
        return NULL;
    key_of(conn, key);
    return strmap_get(l->by_conn, key);
}

int connlist_add(connlist_t *l, connlist_link_t *link)
{
    char key[24];
    if (!l->by_conn && !(l->by_conn = strmap_new()))
        return -1;
    key_of(link->conn, key);
    connlist_link_t *first = strmap_get(l->by_conn, key);
    if (strmap_put(l->by_conn, key, link) < 0)
        return -1;
    link->next = first;
    return 0;
}

void connlist_remove(connlist_t *l, connlist_link_t *link)
{
    char key[24];
    key_of(link->conn, key);
    connlist_link_t *first = l->by_conn ? strmap_get(l->by_conn, key) : NULL;
    if (first == link) {
        if (link->next)
            strmap_put(l->by_conn, key, link->next); /* replaces an entry: cannot fail */
        else
            strmap_del(l->by_conn, key);
    } else {
        for (connlist_link_t *q = first; q; q = q->next) {
            if (q->next == link) {
                q->next = link->next;
                break;
            }
        }
    }
    link->next = NULL;
}

void connlist_clear(connlist_t *l)
{
    strmap_free(l->by_conn);
    l->by_conn = NULL;
}

/* ratelimit.c — see ratelimit.h. */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"

uint64_t ratelimit_take(ratelimit_t *b, uint64_t now_ms, long long per_minute, long long burst)
{
    double per_ms = (double)per_minute / 60000.0;
    if (!b->started) {
        b->started = 1;
        b->tokens = (double)burst;
        b->last_ms = now_ms;
    }
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * per_ms;
        if (b->tokens > (double)burst)
            b->tokens = (double)burst;
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    uint64_t wait = (uint64_t)((1.0 - b->tokens) / per_ms) + 1;
    return wait;
}

/* The table: a hash from key to bucket (strmap) for O(1) lookups on every request, and a list in order
 * of last use so that evicting the least recently used bucket is O(1) too. */
typedef struct entry {
    struct entry *prev, *next; /* most recently used first */
    ratelimit_t b;
    char key[];
} entry_t;

struct ratelimit_table {
    strmap_t *map;
    entry_t *mru, *lru;
    size_t n, cap;
    ratelimit_t overflow; /* shared by the keys that found the table full of buckets still refilling */
};

ratelimit_table_t *ratelimit_table_new(size_t cap)
{
    ratelimit_table_t *t = calloc(1, sizeof *t);
    if (!t || !(t->map = strmap_new())) {
        free(t);
        return NULL;
    }
    t->cap = cap ? cap : 1;
    return t;
}

void ratelimit_table_free(ratelimit_table_t *t)
{
    if (!t)
        return;
    for (entry_t *e = t->mru, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    strmap_free(t->map);
    free(t);
}

size_t ratelimit_table_size(const ratelimit_table_t *t) { return t->n; }

static void unlink_entry(ratelimit_table_t *t, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        t->mru = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->lru = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(ratelimit_table_t *t, entry_t *e)
{
    e->prev = NULL;
    e->next = t->mru;
    if (t->mru)
        t->mru->prev = e;
    t->mru = e;
    if (!t->lru)
        t->lru = e;
}

/* 1 if bucket b holds burst tokens again at now: forgetting it then changes nothing, since a new bucket
 * starts full. */
static int refilled(const ratelimit_t *b, uint64_t now_ms, long long per_minute, long long burst)
{
    if (!b->started)
        return 1;
    double tokens = b->tokens;
    if (now_ms > b->last_ms)
        tokens += (double)(now_ms - b->last_ms) * (double)per_minute / 60000.0;
    return tokens >= (double)burst;
}

/* The bucket for key, made if needed; when the table is full the least recently used bucket makes room
 * (the caller checked that it has refilled). NULL when out of memory. */
static entry_t *table_slot(ratelimit_table_t *t, const char *key)
{
    entry_t *e = strmap_get(t->map, key);
    if (e) {
        unlink_entry(t, e);
        push_front(t, e);
        return e;
    }
    if (t->n == t->cap) { /* forget the least recently used bucket */
        entry_t *old = t->lru;
        unlink_entry(t, old);
        strmap_del(t->map, old->key);
        free(old);
        t->n--;
    }
    size_t len = strlen(key);
    if (!(e = calloc(1, sizeof *e + len + 1)))
        return NULL;
    memcpy(e->key, key, len + 1);
    if (strmap_put(t->map, e->key, e) < 0) {
        free(e);
        return NULL;
    }
    push_front(t, e);
    t->n++;
    return e;
}

uint64_t ratelimit_table_take(ratelimit_table_t *t, const char *key, uint64_t now_ms, long long per_minute,
                              long long burst)
{
    /* A bucket that is not full again is never forgotten, so a client rotating through more keys than the
     * table holds cannot reset anyone's limit: the newcomers share the overflow bucket instead. */
    if (t->n == t->cap && !strmap_get(t->map, key) && !refilled(&t->lru->b, now_ms, per_minute, burst))
        return ratelimit_take(&t->overflow, now_ms, per_minute, burst);
    entry_t *e = table_slot(t, key);
    if (!e)
        return 0; /* out of memory: fail open rather than lock everyone out */
    return ratelimit_take(&e->b, now_ms, per_minute, burst);
}

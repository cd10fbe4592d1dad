/* ratelimit.c — see ratelimit.h. */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

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

/* Open hashing would be faster, but the table is small and touched once per sign-in or message:
 * a linear probe over a flat array keeps eviction (least recently used) trivial to get right. */
typedef struct {
    char *key;
    ratelimit_t b;
    uint64_t used_ms;
} entry_t;

struct ratelimit_table {
    entry_t *e;
    size_t n, cap;
};

ratelimit_table_t *ratelimit_table_new(size_t cap)
{
    ratelimit_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cap = cap ? cap : 1;
    t->e = calloc(t->cap, sizeof *t->e);
    if (!t->e) {
        free(t);
        return NULL;
    }
    return t;
}

void ratelimit_table_free(ratelimit_table_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->e[i].key);
    free(t->e);
    free(t);
}

size_t ratelimit_table_size(const ratelimit_table_t *t) { return t->n; }

static entry_t *table_slot(ratelimit_table_t *t, const char *key)
{
    size_t lru = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->e[i].key, key) == 0)
            return &t->e[i];
        if (t->e[i].used_ms < t->e[lru].used_ms)
            lru = i;
    }
    char *copy = strdup(key);
    if (!copy)
        return NULL;
    entry_t *e;
    if (t->n < t->cap) {
        e = &t->e[t->n++];
    } else {
        e = &t->e[lru];
        free(e->key);
    }
    memset(e, 0, sizeof *e);
    e->key = copy;
    return e;
}

uint64_t ratelimit_table_take(ratelimit_table_t *t, const char *key, uint64_t now_ms, long long per_minute,
                              long long burst)
{
    entry_t *e = table_slot(t, key);
    if (!e)
        return 0; /* out of memory: fail open rather than lock everyone out */
    e->used_ms = now_ms;
    return ratelimit_take(&e->b, now_ms, per_minute, burst);
}

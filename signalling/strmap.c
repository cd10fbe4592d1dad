/* strmap.c — see strmap.h. Separate chaining; FNV-1a hashes, kept with each entry so that resizing never
 * rehashes a string. */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_BUCKETS 64

typedef struct entry {
    struct entry *next;
    uint32_t hash;
    void *val;
    char key[];
} entry_t;

struct strmap {
    entry_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

static uint32_t hash_of(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

strmap_t *strmap_new(void)
{
    strmap_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->buckets = calloc(MIN_BUCKETS, sizeof *m->buckets);
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    m->nbuckets = MIN_BUCKETS;
    return m;
}

void strmap_free(strmap_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (entry_t *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(m->buckets);
    free(m);
}

/* Moves every entry into a bucket array of n; on allocation failure the map keeps its size. */
static void resize(strmap_t *m, size_t n)
{
    entry_t **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (entry_t *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            entry_t **slot = &b[e->hash & (n - 1)];
            e->next = *slot;
            *slot = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

static entry_t **find(const strmap_t *m, const char *key, uint32_t h)
{
    entry_t **p = &m->buckets[h & (m->nbuckets - 1)];
    while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
        p = &(*p)->next;
    return p;
}

void *strmap_get(const strmap_t *m, const char *key)
{
    entry_t *e = *find(m, key, hash_of(key));
    return e ? e->val : NULL;
}

int strmap_put(strmap_t *m, const char *key, void *val)
{
    uint32_t h = hash_of(key);
    entry_t **p = find(m, key, h);
    if (*p) {
        (*p)->val = val;
        return 0;
    }
    size_t n = strlen(key);
    entry_t *e = malloc(sizeof *e + n + 1);
    if (!e)
        return -1;
    e->hash = h;
    e->val = val;
    memcpy(e->key, key, n + 1);
    e->next = NULL;
    *p = e;
    if (++m->count > m->nbuckets)
        resize(m, m->nbuckets * 2);
    return 0;
}

void *strmap_del(strmap_t *m, const char *key)
{
    entry_t **p = find(m, key, hash_of(key));
    entry_t *e = *p;
    if (!e)
        return NULL;
    *p = e->next;
    void *val = e->val;
    free(e);
    if (--m->count < m->nbuckets / 8 && m->nbuckets > MIN_BUCKETS)
        resize(m, m->nbuckets / 2);
    return val;
}

size_t strmap_count(const strmap_t *m) { return m->count; }

void strmap_foreach(const strmap_t *m, void (*fn)(const char *key, void *val, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (entry_t *e = m->buckets[i]; e; e = e->next)
            fn(e->key, e->val, arg);
}

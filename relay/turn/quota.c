/* quota.c — see quota.h. */
#include "quota.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define QUOTA_BUCKETS 1024

typedef struct quota_user {
    struct quota_user *next;
    unsigned count;
    size_t len;
    char name[];
} quota_user_t;

struct quota {
    pthread_mutex_t mu;
    unsigned per_user, total, current;
    quota_user_t *buckets[QUOTA_BUCKETS];
};

static size_t quota_bucket(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h % QUOTA_BUCKETS;
}

quota_t *quota_new(unsigned per_user, unsigned total)
{
    quota_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    pthread_mutex_init(&q->mu, NULL);
    q->per_user = per_user;
    q->total = total;
    return q;
}

void quota_free(quota_t *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < QUOTA_BUCKETS; i++)
        for (quota_user_t *u = q->buckets[i], *next; u; u = next) {
            next = u->next;
            free(u);
        }
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static quota_user_t **quota_find(quota_t *q, const char *user, size_t ulen)
{
    quota_user_t **pp = &q->buckets[quota_bucket(user, ulen)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->len == ulen && memcmp((*pp)->name, user, ulen) == 0)
            break;
    return pp;
}

int quota_take(quota_t *q, const char *user, size_t ulen)
{
    int rc = -1;
    pthread_mutex_lock(&q->mu);
    if (q->total && q->current >= q->total)
        goto out;
    if (!user) { /* nobody to count per user (no authentication): the total only */
        q->current++;
        rc = 0;
        goto out;
    }
    quota_user_t **pp = quota_find(q, user, ulen);
    if (!*pp) {
        quota_user_t *u = calloc(1, sizeof *u + ulen);
        if (!u)
            goto out;
        memcpy(u->name, user, ulen);
        u->len = ulen;
        *pp = u;
    }
    if (q->per_user && (*pp)->count >= q->per_user)
        goto out;
    (*pp)->count++;
    q->current++;
    rc = 0;
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void quota_release(quota_t *q, const char *user, size_t ulen)
{
    pthread_mutex_lock(&q->mu);
    if (!user) {
        if (q->current)
            q->current--;
        pthread_mutex_unlock(&q->mu);
        return;
    }
    quota_user_t **pp = quota_find(q, user, ulen);
    if (*pp && (*pp)->count) {
        (*pp)->count--;
        q->current--;
        if ((*pp)->count == 0) {
            quota_user_t *u = *pp;
            *pp = u->next;
            free(u);
        }
    }
    pthread_mutex_unlock(&q->mu);
}

unsigned quota_current(quota_t *q)
{
    pthread_mutex_lock(&q->mu);
    unsigned n = q->current;
    pthread_mutex_unlock(&q->mu);
    return n;
}

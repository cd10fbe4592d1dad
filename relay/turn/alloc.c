/* alloc.c — see alloc.h. */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#define ALLOC_BUCKETS 4096

struct alloc_table {
    alloc_t *buckets[ALLOC_BUCKETS];
    size_t count;
};

static size_t alloc_bucket(const turn_client_t *c)
{
    uint32_t h = addr_hash(&c->remote) * 31u + addr_hash(&c->local) * 7u + (uint32_t)c->transport;
    return h % ALLOC_BUCKETS;
}

static int same_five_tuple(const turn_client_t *a, const turn_client_t *b)
{
    return a->transport == b->transport && addr_eq(&a->remote, &b->remote) &&
           addr_eq(&a->local, &b->local);
}

alloc_table_t *alloc_table_new(void)
{
    return calloc(1, sizeof(alloc_table_t));
}

void alloc_table_free(alloc_table_t *t, void (*release)(alloc_t *, void *), void *ctx)
{
    if (!t)
        return;
    for (size_t i = 0; i < ALLOC_BUCKETS; i++)
        for (alloc_t *a = t->buckets[i], *next; a; a = next) {
            next = a->next;
            if (release)
                release(a, ctx);
            free(a);
        }
    free(t);
}

size_t alloc_count(const alloc_table_t *t)
{
    return t->count;
}

alloc_t *alloc_find(alloc_table_t *t, const turn_client_t *c)
{
    for (alloc_t *a = t->buckets[alloc_bucket(c)]; a; a = a->next)
        if (same_five_tuple(&a->client, c))
            return a;
    return NULL;
}

alloc_t *alloc_add(alloc_table_t *t, const turn_client_t *c)
{
    alloc_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->client = *c;
    size_t b = alloc_bucket(c);
    a->next = t->buckets[b];
    t->buckets[b] = a;
    t->count++;
    return a;
}

void alloc_remove(alloc_table_t *t, alloc_t *a)
{
    for (alloc_t **pp = &t->buckets[alloc_bucket(&a->client)]; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            t->count--;
            free(a);
            return;
        }
}

static void alloc_trim(alloc_t *a, uint64_t now)
{
    for (size_t i = 0; i < a->nperms;)
        if (a->perms[i].expires <= now)
            a->perms[i] = a->perms[--a->nperms];
        else
            i++;
    for (size_t i = 0; i < a->nchans;)
        if (a->chans[i].expires <= now)
            a->chans[i] = a->chans[--a->nchans];
        else
            i++;
}

size_t alloc_sweep(alloc_table_t *t, uint64_t now, void (*expired)(alloc_t *, void *), void *ctx)
{
    size_t removed = 0;
    for (size_t i = 0; i < ALLOC_BUCKETS; i++) {
        alloc_t **pp = &t->buckets[i];
        while (*pp) {
            alloc_t *a = *pp;
            if (a->expires <= now) {
                *pp = a->next;
                t->count--;
                if (expired)
                    expired(a, ctx);
                free(a);
                removed++;
            } else {
                alloc_trim(a, now);
                pp = &a->next;
            }
        }
    }
    return removed;
}

const alloc_perm_t *alloc_perm_find(const alloc_t *a, const addr_t *ip, uint64_t now)
{
    for (size_t i = 0; i < a->nperms; i++)
        if (a->perms[i].expires > now && addr_eq_ip(&a->perms[i].ip, ip))
            return &a->perms[i];
    return NULL;
}

int alloc_perm_fit(alloc_t *a, const addr_t *ips, size_t n, uint64_t now)
{
    size_t fresh = 0;
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (size_t k = 0; k < a->nperms && !known; k++)
            known = addr_eq_ip(&a->perms[k].ip, &ips[i]);
        for (size_t j = 0; j < i && !known; j++)
            known = addr_eq_ip(&ips[j], &ips[i]);
        fresh += !known;
    }
    if (a->nperms + fresh > ALLOC_MAX_PERMS)
        alloc_trim(a, now);
    return a->nperms + fresh <= ALLOC_MAX_PERMS;
}

int alloc_perm_set(alloc_t *a, const addr_t *ip, uint64_t expires, uint64_t now)
{
    for (size_t i = 0; i < a->nperms; i++)
        if (addr_eq_ip(&a->perms[i].ip, ip)) {
            a->perms[i].expires = expires;
            return 0;
        }
    if (a->nperms == ALLOC_MAX_PERMS)
        alloc_trim(a, now);
    if (a->nperms == ALLOC_MAX_PERMS)
        return -1;
    alloc_perm_t *p = &a->perms[a->nperms++];
    memset(p, 0, sizeof *p);
    p->ip = *ip;
    p->ip.port = 0; /* §9: permissions are per IP address, any port */
    p->expires = expires;
    return 0;
}

const alloc_chan_t *alloc_chan_by_number(const alloc_t *a, uint16_t number, uint64_t now)
{
    for (size_t i = 0; i < a->nchans; i++)
        if (a->chans[i].number == number && a->chans[i].expires > now)
            return &a->chans[i];
    return NULL;
}

const alloc_chan_t *alloc_chan_by_peer(const alloc_t *a, const addr_t *peer, uint64_t now)
{
    for (size_t i = 0; i < a->nchans; i++)
        if (a->chans[i].expires > now && addr_eq(&a->chans[i].peer, peer))
            return &a->chans[i];
    return NULL;
}

int alloc_chan_set(alloc_t *a, uint16_t number, const addr_t *peer, uint64_t expires, uint64_t now)
{
    for (size_t i = 0; i < a->nchans; i++)
        if (a->chans[i].number == number) {
            a->chans[i].peer = *peer;
            a->chans[i].expires = expires;
            return 0;
        }
    if (a->nchans == ALLOC_MAX_CHANNELS)
        alloc_trim(a, now);
    if (a->nchans == ALLOC_MAX_CHANNELS)
        return -1;
    a->chans[a->nchans++] = (alloc_chan_t){.number = number, .peer = *peer, .expires = expires};
    return 0;
}

/* ports.c — see ports.h. */
#include "ports.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define PORTS_MAX_RESERVATIONS 1024

typedef struct {
    uint8_t token[PORTS_TOKEN_LEN];
    uint16_t port;
    uint8_t family;
    uint64_t expires_ms;
} reservation_t;

struct ports {
    pthread_mutex_t mu;
    uint16_t min, max;
    uint8_t *used; /* one byte per port of the range: 0 free, 1 in use, 2 reserved */
    unsigned in_use;
    uint64_t rng;
    reservation_t res[PORTS_MAX_RESERVATIONS];
    size_t nres;
};

static uint64_t ports_rand(ports_t *p)
{
    /* xorshift64*: only spreads ports over the range, not a security property (RFC 8656 §7.2
     * asks for unpredictable ports only as a "SHOULD"; the seed comes from the CSPRNG). Tokens never
     * come from here. */
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return p->rng * 0x2545F4914F6CDD1Dull;
}

ports_t *ports_new(uint16_t min, uint16_t max, uint64_t seed)
{
    if (min == 0 || min > max)
        return NULL;
    ports_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (!(p->used = calloc((size_t)(max - min) + 1, 1))) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->min = min;
    p->max = max;
    p->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    return p;
}

void ports_free(ports_t *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->mu);
    free(p->used);
    free(p);
}

/* Drops expired reservations (their ports become free). Called with the mutex held. */
static void ports_expire(ports_t *p, uint64_t now_ms)
{
    for (size_t i = 0; i < p->nres;) {
        if (p->res[i].expires_ms <= now_ms) {
            p->used[p->res[i].port - p->min] = 0;
            p->in_use--;
            p->res[i] = p->res[--p->nres];
        } else {
            i++;
        }
    }
}

int ports_take(ports_t *p, uint64_t now_ms)
{
    pthread_mutex_lock(&p->mu);
    ports_expire(p, now_ms);
    size_t n = (size_t)(p->max - p->min) + 1;
    size_t start = (size_t)(ports_rand(p) % n);
    int port = -1;
    for (size_t i = 0; i < n; i++) {
        size_t k = (start + i) % n;
        if (!p->used[k]) {
            p->used[k] = 1;
            p->in_use++;
            port = (int)(p->min + k);
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return port;
}

int ports_take_even(ports_t *p, int reserve, uint64_t now_ms, uint8_t token[PORTS_TOKEN_LEN],
                    uint8_t family)
{
    pthread_mutex_lock(&p->mu);
    ports_expire(p, now_ms);
    size_t n = (size_t)(p->max - p->min) + 1;
    size_t start = (size_t)(ports_rand(p) % n);
    int port = -1;
    uint8_t fresh[PORTS_TOKEN_LEN];
    if (reserve && p->nres >= PORTS_MAX_RESERVATIONS)
        goto out;
    /* A RESERVATION-TOKEN hands a held port to whoever presents it, so it must not be guessable: it comes
     * from the kernel's CSPRNG, and no token (no reservation) when that fails. */
    if (reserve && getrandom(fresh, sizeof fresh, 0) != (ssize_t)sizeof fresh)
        goto out;
    for (size_t i = 0; i < n; i++) {
        size_t k = (start + i) % n;
        unsigned candidate = p->min + (unsigned)k;
        if (candidate % 2 || candidate + 1 > p->max)
            continue;
        if (p->used[k] || p->used[k + 1])
            continue;
        p->used[k] = 1;
        p->in_use++;
        port = (int)candidate;
        if (reserve) {
            p->used[k + 1] = 2;
            p->in_use++;
            reservation_t *r = &p->res[p->nres++];
            memcpy(r->token, fresh, PORTS_TOKEN_LEN);
            r->port = (uint16_t)(candidate + 1);
            r->family = family;
            r->expires_ms = now_ms + PORTS_RESERVE_MS;
            memcpy(token, r->token, PORTS_TOKEN_LEN);
        }
        break;
    }
out:
    pthread_mutex_unlock(&p->mu);
    return port;
}

int ports_take_token(ports_t *p, const uint8_t token[PORTS_TOKEN_LEN], uint64_t now_ms)
{
    int port = -1;
    pthread_mutex_lock(&p->mu);
    ports_expire(p, now_ms);
    for (size_t i = 0; i < p->nres; i++) {
        if (memcmp(p->res[i].token, token, PORTS_TOKEN_LEN) == 0) {
            port = p->res[i].port;
            p->used[port - p->min] = 1; /* stays counted in in_use */
            p->res[i] = p->res[--p->nres];
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return port;
}

int ports_token_family(ports_t *p, const uint8_t token[PORTS_TOKEN_LEN], uint64_t now_ms)
{
    int family = -1;
    pthread_mutex_lock(&p->mu);
    ports_expire(p, now_ms);
    for (size_t i = 0; i < p->nres; i++)
        if (memcmp(p->res[i].token, token, PORTS_TOKEN_LEN) == 0)
            family = p->res[i].family;
    pthread_mutex_unlock(&p->mu);
    return family;
}

void ports_release(ports_t *p, int port)
{
    if (port < p->min || port > p->max)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->used[port - p->min] == 1) {
        p->used[port - p->min] = 0;
        p->in_use--;
    }
    pthread_mutex_unlock(&p->mu);
}

unsigned ports_in_use(ports_t *p)
{
    pthread_mutex_lock(&p->mu);
    unsigned n = p->in_use;
    pthread_mutex_unlock(&p->mu);
    return n;
}

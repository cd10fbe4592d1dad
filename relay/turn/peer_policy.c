/* peer_policy.c — see peer_policy.h. */
#include "peer_policy.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    addr_t net;
    int prefix;
} cidr_t;

#define NDEFAULT 16

struct peer_policy {
    cidr_t defaults[NDEFAULT];
    cidr_t *allow, *deny;
    size_t nallow, ndeny;
    int loopback;
};

/* Default-denied: "this" network, loopback, private (RFC 1918), shared CGN (RFC 6598), link-local,
 * IETF protocol assignments, benchmarking (RFC 2544), multicast, reserved; IPv6 unspecified,
 * loopback, ULA, link-local, multicast. */
static const char *const default_deny[] = {
    "0.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "192.0.0.0/24", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
};
_Static_assert(sizeof default_deny / sizeof default_deny[0] == NDEFAULT, "default table size");

peer_policy_t *peer_policy_new(void)
{
    peer_policy_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    for (size_t i = 0; i < NDEFAULT; i++)
        if (addr_parse_cidr(default_deny[i], &p->defaults[i].net, &p->defaults[i].prefix) < 0) {
            free(p);
            return NULL;
        }
    return p;
}

void peer_policy_free(peer_policy_t *p)
{
    if (!p)
        return;
    free(p->allow);
    free(p->deny);
    free(p);
}

int peer_policy_add(peer_policy_t *p, const char *text, int allow)
{
    cidr_t c;
    if (addr_parse_cidr(text, &c.net, &c.prefix) < 0)
        return -1;
    cidr_t **list = allow ? &p->allow : &p->deny;
    size_t *n = allow ? &p->nallow : &p->ndeny;
    cidr_t *grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    grown[(*n)++] = c;
    *list = grown;
    return 0;
}

void peer_policy_allow_loopback(peer_policy_t *p, int on) { p->loopback = on; }

/* If a is an IPv6 address embedding an IPv4 one, writes that one to v4 and returns 1. */
static int embedded_v4(const addr_t *a, addr_t *v4)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t compat[12] = {0};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (a->family != ADDR_V6)
        return 0;
    if (memcmp(a->ip, mapped, 12) && memcmp(a->ip, compat, 12) && memcmp(a->ip, nat64, 12))
        return 0;
    memset(v4, 0, sizeof *v4);
    v4->family = ADDR_V4;
    v4->port = a->port;
    memcpy(v4->ip, a->ip + 12, 4);
    return 1;
}

static int in_list(const cidr_t *list, size_t n, const addr_t *a, const addr_t *v4, int has_v4)
{
    for (size_t i = 0; i < n; i++)
        if (addr_in_cidr(a, &list[i].net, list[i].prefix) ||
            (has_v4 && addr_in_cidr(v4, &list[i].net, list[i].prefix)))
            return 1;
    return 0;
}

static int is_loopback(const addr_t *a)
{
    static const uint8_t v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (a->family == ADDR_V4)
        return a->ip[0] == 127;
    return a->family == ADDR_V6 && memcmp(a->ip, v6lo, 16) == 0;
}

int peer_policy_allowed(const peer_policy_t *p, const addr_t *peer)
{
    addr_t v4;
    int has_v4 = embedded_v4(peer, &v4);
    if (peer->family != ADDR_V4 && peer->family != ADDR_V6)
        return 0;
    if (in_list(p->deny, p->ndeny, peer, &v4, has_v4))
        return 0;
    if (in_list(p->allow, p->nallow, peer, &v4, has_v4))
        return 1;
    /* ::1 is checked as itself first: as IPv4-compatible it would read 0.0.0.1 (in 0.0.0.0/8). */
    if (p->loopback && (is_loopback(peer) || (has_v4 && !is_loopback(peer) && is_loopback(&v4))))
        return 1;
    if (in_list(p->defaults, NDEFAULT, peer, &v4, has_v4))
        return 0;
    return 1;
}

/* alloc.h — TURN allocations of one worker: the 5-tuple table, permissions, channels, timers.
 *
 * Owns: storage and lookup of allocations (RFC 8656 §2.2: one allocation per 5-tuple), their
 * permissions (§9, keyed by peer IP only) and channel bindings (§12), and their expiry times.
 * Must not: send anything, open sockets, or decide protocol outcomes (turn.c does). Not thread-safe:
 * a table belongs to one worker thread, like the sockets of its allocations.
 * Times are monotonic milliseconds; an entry whose expiry time is <= now is gone for every lookup.
 */
#ifndef STAFFROOM_ALLOC_H
#define STAFFROOM_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define ALLOC_MAX_PERMS 64    /* per allocation; more → 508 */
#define ALLOC_MAX_CHANNELS 64 /* per allocation; more → 508 */
#define ALLOC_MAX_USERNAME 513

typedef enum { TURN_UDP = 0, TURN_TCP = 1, TURN_TLS = 2 } turn_transport_t;

/* A client as the network layer sees it: its transport, address, our address, and the network
 * layer's handle for replying (a listening socket for UDP, a connection for TCP/TLS; borrowed). */
typedef struct {
    turn_transport_t transport;
    addr_t remote;
    addr_t local;
    void *conn;
} turn_client_t;

typedef struct alloc alloc_t;

typedef struct {
    alloc_t *owner;
    addr_t addr;       /* relayed transport address */
    void *sock;        /* the network layer's relay socket (opaque) */
    int dont_fragment; /* DONT-FRAGMENT was asked (RFC 8656 §14.10): set DF on what we send */
} alloc_relay_t;

typedef struct {
    addr_t ip;
    uint64_t expires;
} alloc_perm_t;

typedef struct {
    uint16_t number;
    addr_t peer;
    uint64_t expires;
} alloc_chan_t;

struct alloc {
    alloc_t *next; /* hash chain (alloc.c) */
    turn_client_t client;
    uint64_t expires;
    char username[ALLOC_MAX_USERNAME + 1];
    size_t ulen;
    uint8_t alloc_tid[12]; /* transaction of the Allocate, to answer retransmissions (§7.2) */
    alloc_relay_t relay[2];
    size_t nrelay;
    int addr_error; /* ADDRESS-ERROR-CODE sent with the Allocate success (0 = none) */
    int has_token;
    uint8_t token[8];
    alloc_perm_t perms[ALLOC_MAX_PERMS];
    size_t nperms;
    alloc_chan_t chans[ALLOC_MAX_CHANNELS];
    size_t nchans;
    /* bandwidth-limit: a token bucket per direction (ALLOC_TO_PEER, ALLOC_TO_CLIENT), as a link's upstream
     * and downstream are limited each on its own */
    struct {
        uint64_t tokens, last; /* bytes, ms */
    } bw[2];
};

enum { ALLOC_TO_PEER, ALLOC_TO_CLIENT };

typedef struct alloc_table alloc_table_t;

alloc_table_t *alloc_table_new(void); /* NULL on allocation failure */
/* Frees the table; each remaining allocation is first passed to release (may be NULL). */
void alloc_table_free(alloc_table_t *t, void (*release)(alloc_t *, void *), void *ctx);
size_t alloc_count(const alloc_table_t *t);

/* Borrowed pointer or NULL. */
alloc_t *alloc_find(alloc_table_t *t, const turn_client_t *c);
/* New zeroed allocation for c, linked into the table (caller checked there was none).
 * Returns a borrowed pointer (the table owns it) or NULL. */
alloc_t *alloc_add(alloc_table_t *t, const turn_client_t *c);
/* Unlinks and frees a (its resources must have been released). */
void alloc_remove(alloc_table_t *t, alloc_t *a);

/* Calls expired(a) for every allocation whose time is up, then removes it; trims expired
 * permissions and channels of the others. Returns the number of allocations removed. */
size_t alloc_sweep(alloc_table_t *t, uint64_t now, void (*expired)(alloc_t *, void *), void *ctx);

const alloc_perm_t *alloc_perm_find(const alloc_t *a, const addr_t *ip, uint64_t now);
/* 1 if permissions for all n addresses (duplicates counted once, existing ones refreshed) fit in a now,
 * after dropping expired ones; 0 if not. Lets CreatePermission be all or nothing (RFC 8656 §9.2). */
int alloc_perm_fit(alloc_t *a, const addr_t *ips, size_t n, uint64_t now);
/* Installs or refreshes a permission for ip until expires. Returns 0, or -1 when full. */
int alloc_perm_set(alloc_t *a, const addr_t *ip, uint64_t expires, uint64_t now);
const alloc_chan_t *alloc_chan_by_number(const alloc_t *a, uint16_t number, uint64_t now);
const alloc_chan_t *alloc_chan_by_peer(const alloc_t *a, const addr_t *peer, uint64_t now);
/* Binds or refreshes number <-> peer until expires (caller checked the §11.2 rules).
 * Returns 0, or -1 when full. */
int alloc_chan_set(alloc_t *a, uint16_t number, const addr_t *peer, uint64_t expires, uint64_t now);

#endif

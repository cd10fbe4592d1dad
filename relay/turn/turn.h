/* turn.h — the sans-I/O TURN server state machine (RFC 8656 over RFC 8489) of one worker.
 *
 * Owns: what to do with each message from a client or a peer: STUN Binding, Allocate, Refresh,
 * CreatePermission, ChannelBind, Send/Data indications and ChannelData; authentication through
 * auth.c; quotas, ports and the peer policy; expiry of allocations, permissions and channels.
 * Must not: touch sockets or clocks. Input = (bytes, addresses, transport, now); output = calls
 * through turn_io_t, which the network layer implements and the tests fake. Not thread-safe: one
 * turn_t per worker thread (the shared parts — auth, policy, ports, quota — are thread-safe).
 */
#ifndef STAFFROOM_TURN_H
#define STAFFROOM_TURN_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "alloc.h"
#include "auth.h"
#include "peer_policy.h"
#include "ports.h"
#include "quota.h"
#include "stats.h"

/* The I/O seam. Every callback gets io->ctx. Data pointers are borrowed for the call only. */
typedef struct {
    void *ctx;
    /* Send bytes to a client over the transport it used (c->conn says how). */
    void (*send_client)(void *ctx, const turn_client_t *c, const uint8_t *data, size_t len);
    /* Open a UDP relay socket bound to addr (IP and port set). `relay` is the allocation's relay
     * slot that peer datagrams must be reported with (turn_peer_input); relay->dont_fragment says
     * whether datagrams to peers must carry DF. On success store the
     * socket handle in *sock and return 0; return -EADDRINUSE to have another port tried, any
     * other negative errno to give up (508). */
    int (*relay_open)(void *ctx, const addr_t *addr, alloc_relay_t *relay, void **sock);
    /* Close a relay socket: after this call no turn_peer_input may name its relay slot. */
    void (*relay_close)(void *ctx, void *sock);
    /* Send a datagram from a relay socket to a peer. */
    void (*send_peer)(void *ctx, void *sock, const addr_t *peer, const uint8_t *data, size_t len);
} turn_io_t;

typedef struct {
    auth_t *auth;                 /* NULL = no authentication (benchmarks and tests only) */
    const peer_policy_t *policy;  /* required */
    ports_t *ports;               /* required */
    quota_t *quota;               /* required */
    addr_t relay_v4;              /* family 0 = no IPv4 relaying */
    addr_t relay_v6;              /* family 0 = no IPv6 relaying */
    unsigned default_lifetime;    /* seconds (RFC 8656 §3.2: 600) */
    unsigned max_lifetime;        /* seconds (3600) */
    uint64_t bandwidth_limit;     /* bytes/s per allocation and direction, 0 = off */
} turn_config_t;

#define TURN_PERMISSION_LIFETIME 300 /* RFC 8656 §9: 300 s */
#define TURN_CHANNEL_LIFETIME 600    /* RFC 8656 §12: 10 minutes */

typedef struct turn turn_t;

/* cfg and io are copied; the objects cfg points to are borrowed and must outlive the turn_t;
 * stats is borrowed (written only by this turn_t's thread). NULL on allocation failure. */
turn_t *turn_new(const turn_config_t *cfg, const turn_io_t *io, stats_t *stats);
/* Deletes every allocation (closing relay sockets through io, giving back ports and quota). */
void turn_free(turn_t *t);

/* Sets bandwidth_limit (bytes/s per allocation and direction, 0 = off) from now on. The one call that
 * may come from another thread than the one running t (the operator's SIGHUP). */
void turn_set_bandwidth_limit(turn_t *t, uint64_t bytes_per_s);

/* A datagram (UDP) or one complete frame (TCP/TLS, see stun_frame_len) from a client.
 * now_ms: monotonic milliseconds; now_unix: wall-clock seconds (credential expiry, nonces). */
void turn_client_input(turn_t *t, const turn_client_t *c, const uint8_t *data, size_t len,
                       uint64_t now_ms, int64_t now_unix);
/* A datagram that arrived on a relay socket from peer. */
void turn_peer_input(turn_t *t, alloc_relay_t *relay, const addr_t *peer, const uint8_t *data,
                     size_t len, uint64_t now_ms);
/* The client's TCP/TLS connection is gone: its allocation, if any, is deleted (§3.1). */
void turn_client_closed(turn_t *t, const turn_client_t *c);
/* Expires allocations, permissions and channels; returns the ms until it wants to run again. */
uint64_t turn_tick(turn_t *t, uint64_t now_ms);
size_t turn_allocation_count(const turn_t *t);
/* 1 when the client (5-tuple) holds an allocation. */
int turn_has_allocation(turn_t *t, const turn_client_t *c);

#endif

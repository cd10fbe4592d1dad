/* stats.h — counters an operator can read (GET /metrics, SIGUSR1).
 *
 * Owns: the counter set and its Prometheus text form.
 * Must not: do I/O. Each worker thread owns one stats_t and is its only writer (relaxed atomic
 * load+store, no locked instructions on the data path); readers sum all workers' sets.
 */
#ifndef STAFFROOM_STATS_H
#define STAFFROOM_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes counted one by one (others land in "other"). */
#define STATS_CODES {400, 401, 403, 420, 437, 438, 440, 441, 442, 443, 486, 500, 508}
#define STATS_NCODES 14 /* the 13 above + other */

typedef struct {
    _Atomic uint64_t allocations_current;
    _Atomic uint64_t allocations_total;
    _Atomic uint64_t allocations_expired;
    _Atomic uint64_t client_to_peer_packets, client_to_peer_bytes; /* relayed towards peers */
    _Atomic uint64_t peer_to_client_packets, peer_to_client_bytes; /* relayed towards clients */
    _Atomic uint64_t stun_requests;
    _Atomic uint64_t binding_requests;
    _Atomic uint64_t auth_failures;     /* wrong / expired credentials (not the first 401 challenge) */
    _Atomic uint64_t dropped_policy;    /* peer refused by peer_policy (403 or dropped Send) */
    _Atomic uint64_t dropped_permission;/* no permission for the peer */
    _Atomic uint64_t dropped_bandwidth; /* over bandwidth-limit */
    _Atomic uint64_t dropped_malformed; /* not parseable */
    _Atomic uint64_t errors[STATS_NCODES];
} stats_t;

/* Single-writer increment: the owning thread only. */
#define STATS_ADD(s, field, n)                                                                     \
    atomic_store_explicit(&(s)->field, atomic_load_explicit(&(s)->field, memory_order_relaxed) + (n), \
                          memory_order_relaxed)
#define STATS_SUB(s, field, n)                                                                     \
    atomic_store_explicit(&(s)->field, atomic_load_explicit(&(s)->field, memory_order_relaxed) - (n), \
                          memory_order_relaxed)

/* Counts one error response with this code. */
void stats_error(stats_t *s, int code);
/* dst = sum of n sets (any thread may call this). */
void stats_sum(stats_t *dst, const stats_t *const *src, size_t n);
/* Prometheus text exposition of s into buf (always terminated). Returns the length written. */
size_t stats_format_prometheus(const stats_t *s, char *buf, size_t len);
/* One-line summary for the log. */
size_t stats_format_line(const stats_t *s, char *buf, size_t len);

#endif

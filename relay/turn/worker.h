/* worker.h — one worker thread: an epoll loop owning its sockets, its allocations and its stats.
 *
 * Owns: the epoll instance (and, with event-loop io_uring, the worker's net_ring: UDP sockets are then
 * served by the ring and everything else by epoll, which the ring watches), this thread's SO_REUSEPORT UDP/TCP/TLS listening sockets (one of each
 * per listen address), the relay sockets and TCP connections of its allocations, and the glue
 * between net_udp/net_tcp and the sans-I/O turn_t (it implements turn_io_t).
 * Must not: share mutable state with other workers except through the thread-safe ports/quota and
 * its own stats_t (which other threads only read). Nothing in the loop blocks: every socket is
 * non-blocking, work per wakeup is bounded, timers run off the wait's timeout (epoll_wait's, batchwait's or
 * the ring's).
 */
#ifndef STAFFROOM_WORKER_H
#define STAFFROOM_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "net_tcp.h"
#include "stats.h"
#include "turn.h"

typedef struct {
    turn_config_t turn;  /* copied into the worker's turn_t */
    const addr_t *listen;/* borrowed */
    size_t nlisten;
    uint16_t port;       /* UDP+TCP; 0 = pick one: worker_new writes the port it got back here */
    uint16_t tls_port;   /* same, for TLS */
    net_tls_t *tls;      /* borrowed; NULL = no TLS listener */
    unsigned batch_wait_us; /* > 0: let a burst gather up to this long before waking (batchwait.h, net_ring.h) */
    int io_uring;           /* 1: UDP through io_uring (net_ring.h) where the kernel allows it, else epoll */
} worker_params_t;

typedef struct worker worker_t;

/* Creates the worker and binds all its listening sockets (not yet running). Returns NULL with err
 * filled. p->port / p->tls_port are updated when they were 0. */
worker_t *worker_new(int id, worker_params_t *p, char *err, size_t errlen);
/* Starts the thread and waits until its loop is set up (so worker_event_loop is known). Returns 0 or -1. */
int worker_start(worker_t *w);
/* Asks the thread to stop and waits for it (no-op if never started). */
void worker_stop(worker_t *w);
/* Frees everything (the thread must be stopped). NULL is fine. */
void worker_free(worker_t *w);
/* "io_uring" or "epoll": the loop the started thread runs (io_uring asked for but refused → "epoll"). */
const char *worker_event_loop(const worker_t *w);
/* The worker's counters (read-only for other threads). */
const stats_t *worker_stats(const worker_t *w);

/* Its TURN machine's bandwidth-limit from now on (turn_set_bandwidth_limit); any thread. */
void worker_set_bandwidth_limit(worker_t *w, uint64_t bytes_per_s);

#endif

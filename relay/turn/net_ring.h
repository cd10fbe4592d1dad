/* net_ring.h — one worker's io_uring: multishot UDP receives, batched sends, one system call per turn.
 *
 * Why: on the epoll path every turn of the loop costs epoll_wait, a recvmmsg per ready socket (usually
 * finding one datagram) and a sendmmsg per destination socket; at a steady packet rate across many
 * allocations that is three or more system calls per relayed datagram, and they were most of the relay's
 * CPU. Here each UDP socket has one multishot recvmsg that keeps filling buffers from a shared provided
 * buffer ring, the sends of a turn are queued as sendmsg entries, and a single io_uring_enter submits the
 * sends and collects every datagram that arrived on every socket. Everything else (TCP, TLS, listeners,
 * the wake-up eventfd) stays on the worker's epoll instance, which the ring watches with one multishot
 * poll: its readiness arrives here as one more completion.
 *
 * Owns: the io_uring instance (the only place the data path includes <liburing.h>), the provided receive
 * buffers, the multishot receive of each UDP socket it was given, the send entries of a turn.
 * Must not: interpret datagrams, or keep a datagram past its callback (the buffer goes back to the kernel).
 * Not thread-safe: created, used and freed on the worker's own thread (IORING_SETUP_SINGLE_ISSUER).
 *
 * Needs Linux 6.1 (deferred task work, multishot recvmsg, provided buffer rings); net_ring_new fails
 * cleanly on older kernels or under a seccomp policy that refuses io_uring, and the worker stays on epoll.
 */
#ifndef STAFFROOM_NET_RING_H
#define STAFFROOM_NET_RING_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct msghdr;

typedef struct {
    void *ctx;
    /* A datagram arrived on the socket started with tag (data borrowed for the call only). */
    void (*datagram)(void *ctx, void *tag, const uint8_t *data, size_t len, const addr_t *from);
    /* The receive of tag ended: after net_ring_recv_stop (stopped = 1: the ring holds nothing of tag any
     * more, it may be freed), or on its own (stopped = 0, res = -errno, e.g. -ENOBUFS when every buffer
     * was in use: call net_ring_recv_start again to go on receiving). */
    void (*recv_ended)(void *ctx, void *tag, int stopped, int res);
    /* The epoll instance given to net_ring_new has events (collect them with epoll_wait(…, 0)). */
    void (*epoll_ready)(void *ctx);
    /* A send failed (res = -errno) after its entry was submitted; segs datagrams were dropped. */
    void (*send_failed)(void *ctx, int res, unsigned segs);
} net_ring_cb_t;

typedef struct net_ring net_ring_t;

/* A ring watching epfd, with callbacks cb (copied). NULL with errno set when the kernel lacks what is
 * needed (the caller then uses epoll). min_wait_us > 0: let completions gather up to that long before a
 * wait returns (Linux 6.12's minimum wait; ignored where the kernel lacks it). */
net_ring_t *net_ring_new(int epfd, const net_ring_cb_t *cb, unsigned min_wait_us);
/* Cancels everything in flight and frees the ring (no callback fires). NULL is fine. */
void net_ring_free(net_ring_t *r);
/* 1 when the minimum wait asked for is in force. */
int net_ring_min_wait(const net_ring_t *r);

/* Starts receiving fd's datagrams, reported with tag (borrowed; must stay valid until recv_ended with
 * stopped = 1, or net_ring_free). The entry leaves with the next enter. The ring also registers fd (a
 * fixed file: sends from it skip the descriptor lookup) until net_ring_recv_stop. Returns 0 or -errno. */
int net_ring_recv_start(net_ring_t *r, int fd, void *tag);
/* Stops tag's receive on fd: everything queued (sends included) is submitted now and the ring lets go of
 * fd, so fd may be closed as soon as this returns; recv_ended(tag, stopped = 1) follows from a later
 * net_ring_dispatch. */
void net_ring_recv_stop(net_ring_t *r, int fd, void *tag);

/* net_tx's sender (see net_udp.h): queues a sendmsg of m (MSG_DONTWAIT) on fd. m and what it points to
 * must stay untouched until net_ring_commit or the next net_ring_enter has returned. */
void net_ring_send(void *r, int fd, const struct msghdr *m, unsigned segs);
/* Submits what is queued now (no wait). */
void net_ring_commit(void *r);

/* Submits what is queued and sleeps until a completion is there or timeout_ms has passed (0 = just
 * submit and look). batch: with the minimum wait in force, a completion that comes less than min_wait_us
 * after the sleep began waits for company (RING_BATCH of them) until then; one after a longer quiet
 * spell still ends the sleep at once. Returns 0 or -errno (an unexpected failure of io_uring_enter). */
int net_ring_enter(net_ring_t *r, int timeout_ms, int batch);
/* Runs the callbacks for the completions there now (at most what was there on entry: bounded work). Sends
 * queued by the callbacks leave with the next enter or commit. Returns the completions handled. */
int net_ring_dispatch(net_ring_t *r);

#endif

/* batchwait.h — waits for an epoll instance to have events, letting a burst gather first.
 *
 * Why: at a steady packet rate, a worker that sleeps in epoll_wait is woken for nearly every datagram,
 * and on this kind of machine the wake-up and context switch cost more than relaying the datagram (half
 * of the relay's CPU on load b of bench-relay was the scheduler). The kernel can batch wake-ups for us:
 * io_uring's waiting with a minimum wait (Linux 6.12, IORING_FEAT_MIN_TIMEOUT) returns once `batch`
 * readiness notifications are there, or once `min_wait_us` has passed since the wait began and at least
 * one is there. A datagram after a quiet spell therefore wakes the worker at once; under steady load a
 * datagram waits at most min_wait_us for company. The epoll fd itself is watched by one multishot poll.
 *
 * Owns: one io_uring instance (liburing) per worker and the multishot poll on that worker's epoll fd.
 * Must not: read or write sockets (the caller still collects the events with epoll_wait(…, 0)).
 * Use, per loop turn: batchwait_arm(); n = epoll_wait(ep, …, 0); if (n == 0) { batchwait_sleep();
 * n = epoll_wait(ep, …, 0); } — arming before probing means no readiness can slip between the probe
 * and the sleep. Not thread-safe: one per worker.
 */
#ifndef STAFFROOM_BATCHWAIT_H
#define STAFFROOM_BATCHWAIT_H

typedef struct batchwait batchwait_t;

/* A waiter on epfd, or NULL (errno set) when the kernel lacks io_uring or its minimum wait: the caller
 * then sleeps in epoll_wait as before. min_wait_us > 0. */
batchwait_t *batchwait_new(int epfd, unsigned min_wait_us);
void batchwait_free(batchwait_t *bw);
/* Forgets the notifications already seen and re-arms the poll if the kernel ended it. */
void batchwait_arm(batchwait_t *bw);
/* Sleeps until epfd has had events (batched as above) or timeout_ms passed. Returns 0, or -errno on
 * an unexpected failure (the caller then falls back to epoll_wait). */
int batchwait_sleep(batchwait_t *bw, int timeout_ms);

#endif

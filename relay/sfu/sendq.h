/* sendq.h — batched UDP output of the media path: the only sendmmsg.
 *
 * Owns: one process-wide queue of outgoing datagrams (a copy of each, with the socket and the address it
 * goes to), sent with one sendmmsg per socket right before the main loop next waits for events (a GLib
 * source's prepare step), or at once when the queue is full or its oldest datagram has waited
 * SENDQ_MAX_DELAY_US (a wake-up with much to process must not hold its first packets back). A wake-up
 * that received k packets for a subscriber then costs one system call towards it instead of k, and no
 * GSocket/libnice layers at all.
 * Must not: own, open or close sockets (ice.c lends them: it flushes before its sockets close); look into
 * the datagrams; block (the sockets are non-blocking: a full socket buffer drops, as a UDP send does).
 *
 * Order: datagrams to one socket leave in the order they were pushed; across sockets there is no order.
 * One thread: the main loop's.
 */
#ifndef STAFFROOM_SFU_SENDQ_H
#define STAFFROOM_SFU_SENDQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SENDQ_MAX 64            /* datagrams held before a flush is forced */
#define SENDQ_MAX_DELAY_US 1000 /* and the longest a datagram waits for the others */
#define SENDQ_DATAGRAM_MAX 1700 /* larger datagrams are refused (the media path's are under 1500 + SRTP trailer) */

/* Queues a copy of buf[0..len) for fd, to `to` (copied). Attaches the flushing source to the default
 * main context on first use. Returns 0, or -1 if len is 0 or above SENDQ_DATAGRAM_MAX, or tolen does not
 * fit a sockaddr_storage (nothing queued). */
int sendq_push(int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *buf, size_t len);
/* Sends everything queued now. Datagrams the kernel refuses (full buffer, unreachable) are dropped and
 * counted (sendq_dropped). */
void sendq_flush(void);
/* Datagrams sent and dropped since start (the drops are also sfu_counters.send_drops, in /metrics). */
uint64_t sendq_sent(void);
uint64_t sendq_dropped(void);
/* Flushes and detaches the source (at exit). Calling sendq_push again re-attaches it. */
void sendq_deinit(void);

#endif

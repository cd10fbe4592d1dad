/* net_udp.h — UDP sockets: listening sockets, relay sockets, batched receive and send.
 *
 * Owns: socket(2)/bind(2)/recvmmsg(2)/sendmmsg(2) for UDP, the receive batch buffers and the send
 * queue of one worker.
 * Must not: interpret payloads. Everything is non-blocking; a full socket buffer drops the datagram
 * (UDP semantics), never blocks. Not thread-safe: rx/tx belong to one worker.
 */
#ifndef STAFFROOM_NET_UDP_H
#define STAFFROOM_NET_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define NET_RX_BATCH 32
#define NET_RX_BUF 65536    /* a whole UDP datagram always fits */
#define NET_TX_BATCH 64
#define NET_TX_ARENA 262144 /* bytes queued before a forced flush */

/* Opens a non-blocking UDP socket bound to a. reuseport: SO_REUSEPORT (one per worker, the kernel
 * keeps each client 5-tuple on one of them). Returns the fd or -errno. */
int net_udp_open(const addr_t *a, int reuseport);
/* Sets the Don't Fragment bit on everything the socket sends (IPv4 IP_PMTUDISC_DO, IPv6
 * IPV6_PMTUDISC_DO). Returns 0 or -errno. */
int net_udp_set_dont_fragment(int fd, const addr_t *a);
/* The address a socket is bound to. Returns 0 or -1. */
int net_local_addr(int fd, addr_t *out);

typedef struct net_rx net_rx_t;
net_rx_t *net_rx_new(void);
void net_rx_free(net_rx_t *rx);
/* Receives up to NET_RX_BATCH datagrams. Returns how many (0 when none waiting), or -errno.
 * net_rx_data returns NULL for a truncated datagram (dropped). */
int net_rx_recv(net_rx_t *rx, int fd);
/* The i-th datagram of the last net_rx_recv (borrowed until the next call). */
const uint8_t *net_rx_data(const net_rx_t *rx, int i, size_t *len, addr_t *from);

typedef struct net_tx net_tx_t;
net_tx_t *net_tx_new(void);
void net_tx_free(net_tx_t *tx);
/* Queues one datagram (data copied); flushes first when the queue is full. */
void net_tx_add(net_tx_t *tx, int fd, const addr_t *to, const uint8_t *data, size_t len);
/* Sends everything queued with one sendmmsg per run of the same socket. Consecutive datagrams to one
 * address, of one size (the last may be shorter), leave as one segmented send (UDP_SEGMENT) that the
 * kernel cuts back into the same datagrams; if the kernel refuses that, one by one from then on.
 * Returns datagrams dropped. */
size_t net_tx_flush(net_tx_t *tx);
/* Datagrams sent so far inside segmented sends (0 where the kernel has no UDP_SEGMENT). */
uint64_t net_tx_segmented(const net_tx_t *tx);

/* Another way out than sendmmsg (net_ring.h): net_tx_flush then hands each message it built (one datagram,
 * or a run of segments with its UDP_SEGMENT control message) to send, and keeps the queue's memory, which
 * the messages point into, untouched until it is told the kernel has taken them: net_tx_committed, or the
 * next net_tx_add, which calls commit first. */
struct msghdr;
typedef struct {
    void *ctx;
    void (*send)(void *ctx, int fd, const struct msghdr *m, unsigned segs);
    void (*commit)(void *ctx);
} net_tx_sender_t;
/* Sets the sender (copied; NULL = sendmmsg again). Flushes what is queued first. */
void net_tx_set_sender(net_tx_t *tx, const net_tx_sender_t *s);
/* What was handed to the sender has left (the sender's owner submitted it): the queue's memory is free. */
void net_tx_committed(net_tx_t *tx);
/* Segmented sends failed on this path (EIO/EINVAL): datagrams one by one from now on. */
void net_tx_gso_disable(net_tx_t *tx);

#endif

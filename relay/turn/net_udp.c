/* net_udp.c — see net_udp.h. */
#include "net_udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int net_udp_open(const addr_t *a, int reuseport)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (addr_to_sockaddr(a, &ss, &sl) < 0)
        return -EAFNOSUPPORT;
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    /* Bigger buffers absorb bursts between two wakeups (best effort: capped by rmem_max). */
    int sz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
        goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

int net_udp_set_dont_fragment(int fd, const addr_t *a)
{
    int v = IP_PMTUDISC_DO;
    int rc = a->family == ADDR_V6
                 ? setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof v)
                 : setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
    return rc < 0 ? -errno : 0;
}

int net_local_addr(int fd, addr_t *out)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    return addr_from_sockaddr((struct sockaddr *)&ss, out);
}

struct net_rx {
    struct mmsghdr msgs[NET_RX_BATCH];
    struct iovec iov[NET_RX_BATCH];
    struct sockaddr_storage from[NET_RX_BATCH];
    int n;
    uint8_t bufs[NET_RX_BATCH][NET_RX_BUF];
};

net_rx_t *net_rx_new(void)
{
    return calloc(1, sizeof(net_rx_t));
}

void net_rx_free(net_rx_t *rx)
{
    free(rx);
}

int net_rx_recv(net_rx_t *rx, int fd)
{
    for (int i = 0; i < NET_RX_BATCH; i++) {
        rx->iov[i] = (struct iovec){rx->bufs[i], NET_RX_BUF};
        rx->msgs[i].msg_hdr = (struct msghdr){
            .msg_name = &rx->from[i], .msg_namelen = sizeof rx->from[i],
            .msg_iov = &rx->iov[i], .msg_iovlen = 1};
        rx->msgs[i].msg_len = 0;
    }
    int n = recvmmsg(fd, rx->msgs, NET_RX_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
        rx->n = 0;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
    }
    rx->n = n;
    return n;
}

const uint8_t *net_rx_data(const net_rx_t *rx, int i, size_t *len, addr_t *from)
{
    const struct mmsghdr *m = &rx->msgs[i];
    if ((m->msg_hdr.msg_flags & MSG_TRUNC) ||
        addr_from_sockaddr((const struct sockaddr *)&rx->from[i], from) < 0)
        return NULL;
    *len = m->msg_len;
    return rx->bufs[i];
}

/* UDP generic segmentation offload (Linux UDP_SEGMENT): a run of datagrams to the same address, all of one
 * size but the last, leaves as ONE send of their concatenation that the kernel (or the NIC) cuts into
 * datagrams again. The stack is walked once per run instead of once per datagram: a video frame relayed as
 * a burst of equal packets to one client costs one traversal. Limits from the kernel: at most
 * GSO_MAX_SEGS segments and a payload that fits one IP datagram. */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000

struct net_tx {
    int n;
    size_t used;
    int gso_off; /* set when the kernel refused a segmented send: datagrams one by one from then on */
    uint64_t segmented; /* datagrams that left inside a segmented send (net_tx_segmented) */
    int has_sender;     /* messages go to sender, not to sendmmsg */
    int held;           /* handed to the sender, not yet committed: the queue's memory is in use */
    net_tx_sender_t sender;
    int fds[NET_TX_BATCH];
    struct sockaddr_storage to[NET_TX_BATCH];
    socklen_t tolen[NET_TX_BATCH];
    struct iovec iov[NET_TX_BATCH];
    struct mmsghdr msgs[NET_TX_BATCH];
    /* what one flush hands to sendmmsg: a message per datagram, or per run of segments */
    struct mmsghdr out[NET_TX_BATCH];
    struct iovec out_iov[NET_TX_BATCH];
    unsigned out_segs[NET_TX_BATCH];
    int out_first[NET_TX_BATCH]; /* the queued datagram each message starts with */
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } cmsg[NET_TX_BATCH];
    uint8_t arena[NET_TX_ARENA];
};

net_tx_t *net_tx_new(void)
{
    return calloc(1, sizeof(net_tx_t));
}

void net_tx_free(net_tx_t *tx)
{
    free(tx);
}

/* The sender's kernel has the held messages: their memory may be written again. */
static void tx_release(net_tx_t *tx)
{
    if (!tx->held)
        return;
    tx->sender.commit(tx->sender.ctx);
    net_tx_committed(tx);
}

void net_tx_add(net_tx_t *tx, int fd, const addr_t *to, const uint8_t *data, size_t len)
{
    if (len > NET_TX_ARENA)
        return;
    tx_release(tx);
    if (tx->n == NET_TX_BATCH || NET_TX_ARENA - tx->used < len) {
        net_tx_flush(tx);
        tx_release(tx);
    }
    socklen_t sl;
    int i = tx->n;
    if (addr_to_sockaddr(to, &tx->to[i], &sl) < 0)
        return;
    memcpy(tx->arena + tx->used, data, len);
    tx->iov[i] = (struct iovec){tx->arena + tx->used, len};
    tx->msgs[i].msg_hdr = (struct msghdr){
        .msg_name = &tx->to[i], .msg_namelen = sl, .msg_iov = &tx->iov[i], .msg_iovlen = 1};
    tx->tolen[i] = sl;
    tx->fds[i] = fd;
    tx->used += len;
    tx->n++;
}

/* 1 if datagram b can follow datagram a in one segmented send: same destination, the same size as a
 * (every segment but the last has the segment size), and right after it in the arena. */
static int gso_continues(const net_tx_t *tx, int a, int b, size_t seg)
{
    return tx->tolen[a] == tx->tolen[b] && memcmp(&tx->to[a], &tx->to[b], tx->tolen[a]) == 0 &&
           tx->iov[b].iov_len <= seg && (uint8_t *)tx->iov[a].iov_base + tx->iov[a].iov_len == tx->iov[b].iov_base;
}

/* Builds tx->out from index base for the queued datagrams [i, j) (one socket): runs of segments become one
 * message each. Returns the number of messages. (base > 0: the sender keeps earlier sockets' messages.) */
static int build_out(net_tx_t *tx, int i, int j, int base)
{
    int nout = base;
    for (int k = i; k < j;) {
        size_t seg = tx->iov[k].iov_len, total = seg;
        int m = k + 1;
        if (!tx->gso_off)
            while (m < j && m - k < GSO_MAX_SEGS && total + tx->iov[m].iov_len <= GSO_MAX_BYTES &&
                   gso_continues(tx, m - 1, m, seg)) {
                total += tx->iov[m].iov_len;
                m++;
                if (tx->iov[m - 1].iov_len < seg)
                    break; /* a shorter datagram can only be the last segment */
            }
        struct msghdr *h = &tx->out[nout].msg_hdr;
        *h = tx->msgs[k].msg_hdr;
        tx->out_iov[nout] = (struct iovec){tx->iov[k].iov_base, total};
        h->msg_iov = &tx->out_iov[nout];
        tx->out_segs[nout] = (unsigned)(m - k);
        tx->out_first[nout] = k;
        if (m - k > 1) {
            h->msg_control = tx->cmsg[nout].buf;
            h->msg_controllen = sizeof tx->cmsg[nout].buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(h);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t sz = (uint16_t)seg;
            memcpy(CMSG_DATA(c), &sz, sizeof sz);
        }
        nout++;
        k = m;
    }
    return nout - base;
}

/* net_tx_flush through the sender: every message handed over, the queue held until committed. */
static void flush_to_sender(net_tx_t *tx)
{
    if (tx->held || tx->n == 0)
        return;
    for (int i = 0, j, base = 0; i < tx->n; i = j) {
        for (j = i + 1; j < tx->n && tx->fds[j] == tx->fds[i];)
            j++;
        int nout = build_out(tx, i, j, base);
        for (int k = base; k < base + nout; k++) {
            tx->sender.send(tx->sender.ctx, tx->fds[i], &tx->out[k].msg_hdr, tx->out_segs[k]);
            if (tx->out_segs[k] > 1)
                tx->segmented += tx->out_segs[k]; /* counted when handed over: a failure is reported apart */
        }
        base += nout;
    }
    tx->held = 1;
}

size_t net_tx_flush(net_tx_t *tx)
{
    if (tx->has_sender) {
        flush_to_sender(tx);
        return 0;
    }
    size_t dropped = 0;
    int i = 0;
    while (i < tx->n) {
        int j = i + 1;
        while (j < tx->n && tx->fds[j] == tx->fds[i])
            j++;
        int nout = build_out(tx, i, j, 0), at = 0;
        while (at < nout) {
            int r = sendmmsg(tx->fds[i], &tx->out[at], (unsigned)(nout - at), MSG_DONTWAIT);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                if ((errno == EIO || errno == EINVAL) && tx->out_segs[at] > 1 && !tx->gso_off) {
                    /* No segmentation on this path (no checksum offload, an old kernel): send the
                     * datagrams one by one, now and from now on. */
                    tx->gso_off = 1;
                    nout = build_out(tx, tx->out_first[at], j, 0); /* what is left: [at…] was not sent */
                    at = 0;
                    continue;
                }
                /* EAGAIN (buffer full) or a per-destination error (ECONNREFUSED from an ICMP
                 * error, EHOSTUNREACH…): drop this message's datagrams, keep going with the rest. */
                dropped += tx->out_segs[at];
                at++;
            } else {
                for (int k = at; k < at + r; k++)
                    if (tx->out_segs[k] > 1)
                        tx->segmented += tx->out_segs[k];
                at += r > 0 ? r : 1;
            }
        }
        i = j;
    }
    tx->n = 0;
    tx->used = 0;
    return dropped;
}

uint64_t net_tx_segmented(const net_tx_t *tx) { return tx->segmented; }

void net_tx_set_sender(net_tx_t *tx, const net_tx_sender_t *s)
{
    net_tx_flush(tx);
    tx_release(tx);
    tx->has_sender = s != NULL;
    if (s)
        tx->sender = *s;
}

void net_tx_committed(net_tx_t *tx)
{
    tx->held = 0;
    tx->n = 0;
    tx->used = 0;
}

void net_tx_gso_disable(net_tx_t *tx) { tx->gso_off = 1; }

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

struct net_tx {
    int n;
    size_t used;
    int fds[NET_TX_BATCH];
    struct sockaddr_storage to[NET_TX_BATCH];
    struct iovec iov[NET_TX_BATCH];
    struct mmsghdr msgs[NET_TX_BATCH];
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

void net_tx_add(net_tx_t *tx, int fd, const addr_t *to, const uint8_t *data, size_t len)
{
    if (len > NET_TX_ARENA)
        return;
    if (tx->n == NET_TX_BATCH || NET_TX_ARENA - tx->used < len)
        net_tx_flush(tx);
    socklen_t sl;
    int i = tx->n;
    if (addr_to_sockaddr(to, &tx->to[i], &sl) < 0)
        return;
    memcpy(tx->arena + tx->used, data, len);
    tx->iov[i] = (struct iovec){tx->arena + tx->used, len};
    tx->msgs[i].msg_hdr = (struct msghdr){
        .msg_name = &tx->to[i], .msg_namelen = sl, .msg_iov = &tx->iov[i], .msg_iovlen = 1};
    tx->fds[i] = fd;
    tx->used += len;
    tx->n++;
}

size_t net_tx_flush(net_tx_t *tx)
{
    size_t dropped = 0;
    int i = 0;
    while (i < tx->n) {
        int j = i + 1;
        while (j < tx->n && tx->fds[j] == tx->fds[i])
            j++;
        int at = i;
        while (at < j) {
            int r = sendmmsg(tx->fds[i], &tx->msgs[at], (unsigned)(j - at), MSG_DONTWAIT);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                /* EAGAIN (buffer full) or a per-destination error (ECONNREFUSED from an ICMP
                 * error, EHOSTUNREACH…): drop this datagram, keep going with the rest. */
                dropped++;
                at++;
            } else {
                at += r > 0 ? r : 1;
            }
        }
        i = j;
    }
    tx->n = 0;
    tx->used = 0;
    return dropped;
}

/* test_net_ring.c — the io_uring path on real loopback sockets: sends handed over by net_tx arrive as the
 * same datagrams (segmented runs included), multishot receives deliver every datagram with its sender, a
 * burst bigger than the buffer ring ends a receive with -ENOBUFS and loses nothing once restarted, a stopped
 * receive releases its socket, and the watched epoll instance reports readiness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "net_ring.h"
#include "net_udp.h"

typedef struct {
    int count;
    size_t lens[512];
    uint8_t first[512], last[512];
    addr_t from[512];
    int enobufs, stopped, epoll_ready, send_failed;
    net_ring_t *ring;
    int fd; /* to restart the receive */
} seen_t;

static seen_t seen;
static uint64_t tag_b; /* any 8-byte-aligned object serves as a tag */

static void on_datagram(void *ctx, void *tag, const uint8_t *data, size_t len, const addr_t *from)
{
    seen_t *s = ctx;
    assert_ptr_equal(tag, &tag_b);
    assert_true(s->count < 512);
    s->lens[s->count] = len;
    s->first[s->count] = data[0];
    s->last[s->count] = data[len - 1];
    s->from[s->count] = *from;
    s->count++;
}

static void on_ended(void *ctx, void *tag, int stopped, int res)
{
    seen_t *s = ctx;
    assert_ptr_equal(tag, &tag_b);
    if (stopped) {
        s->stopped++;
        return;
    }
    if (res == -ENOBUFS)
        s->enobufs++;
    assert_int_equal(net_ring_recv_start(s->ring, s->fd, tag), 0);
}

static void on_epoll(void *ctx) { ((seen_t *)ctx)->epoll_ready++; }
static void on_send_failed(void *ctx, int res, unsigned segs)
{
    (void)res;
    (void)segs;
    ((seen_t *)ctx)->send_failed++;
}

static net_ring_t *ring_open(int *ep)
{
    memset(&seen, 0, sizeof seen);
    *ep = epoll_create1(EPOLL_CLOEXEC);
    assert_true(*ep >= 0);
    net_ring_cb_t cb = {.ctx = &seen, .datagram = on_datagram, .recv_ended = on_ended,
                        .epoll_ready = on_epoll, .send_failed = on_send_failed};
    net_ring_t *r = net_ring_new(*ep, &cb, 0);
    if (!r)
        fail_msg("net_ring_new: %s (this kernel or a seccomp policy refuses io_uring)", strerror(errno));
    seen.ring = r;
    return r;
}

static int open_loopback(addr_t *bound)
{
    addr_t a;
    assert_int_equal(addr_parse("127.0.0.1", 0, &a), 0);
    int fd = net_udp_open(&a, 0);
    assert_true(fd >= 0);
    assert_int_equal(net_local_addr(fd, bound), 0);
    return fd;
}

/* Enters and dispatches until want datagrams (or stops) were seen, at most ~2 s. */
static void pump(net_ring_t *r, int *what, int want)
{
    for (int i = 0; i < 200 && *what < want; i++) {
        assert_int_equal(net_ring_enter(r, 10, 0), 0);
        net_ring_dispatch(r);
    }
}

static void fill(uint8_t *b, size_t n, uint8_t tag)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(tag + i);
}

static void test_sends_and_receives(void **s)
{
    (void)s;
    int ep;
    net_ring_t *r = ring_open(&ep);
    addr_t from, to_b;
    int a = open_loopback(&from), b = open_loopback(&to_b);
    seen.fd = b;
    assert_int_equal(net_ring_recv_start(r, b, &tag_b), 0);
    net_tx_t *tx = net_tx_new();
    net_tx_sender_t snd = {.ctx = r, .send = net_ring_send, .commit = net_ring_commit};
    net_tx_set_sender(tx, &snd);
    static uint8_t d[60000];
    /* a run of four equal datagrams and a shorter last one, then one of 60,000 bytes (not segmented) */
    for (int i = 0; i < 4; i++) {
        fill(d, 1000, (uint8_t)i);
        net_tx_add(tx, a, &to_b, d, 1000);
    }
    fill(d, 300, 4);
    net_tx_add(tx, a, &to_b, d, 300);
    fill(d, sizeof d, 5);
    net_tx_add(tx, a, &to_b, d, sizeof d);
    assert_int_equal(net_tx_flush(tx), 0);
    assert_int_equal(net_tx_segmented(tx), 5);
    /* the queue is held for the ring until the enter that submits it has returned */
    assert_int_equal(net_ring_enter(r, 0, 0), 0);
    net_tx_committed(tx);
    pump(r, &seen.count, 6);
    assert_int_equal(seen.count, 6);
    const size_t lens[] = {1000, 1000, 1000, 1000, 300, 60000};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(seen.lens[i], lens[i]);
        assert_int_equal(seen.first[i], (uint8_t)i);
        assert_int_equal(seen.last[i], (uint8_t)(i + lens[i] - 1));
        assert_true(addr_eq(&seen.from[i], &from));
    }
    /* adding after a flush without an enter in between: net_tx commits first, nothing is overwritten */
    fill(d, 100, 20);
    net_tx_add(tx, a, &to_b, d, 100);
    net_tx_flush(tx);
    fill(d, 100, 21);
    net_tx_add(tx, a, &to_b, d, 100);
    net_tx_flush(tx);
    assert_int_equal(net_ring_enter(r, 0, 0), 0);
    net_tx_committed(tx);
    pump(r, &seen.count, 8);
    assert_int_equal(seen.count, 8);
    assert_int_equal(seen.first[6], 20);
    assert_int_equal(seen.first[7], 21);
    assert_int_equal(seen.send_failed, 0);
    net_tx_set_sender(tx, NULL);
    net_tx_free(tx);
    net_ring_free(r);
    close(a);
    close(b);
    close(ep);
}

static void test_burst_beyond_buffers(void **s)
{
    (void)s;
    int ep;
    net_ring_t *r = ring_open(&ep);
    addr_t from, to_b;
    int a = open_loopback(&from), b = open_loopback(&to_b);
    seen.fd = b;
    assert_int_equal(net_ring_recv_start(r, b, &tag_b), 0);
    assert_int_equal(net_ring_enter(r, 0, 0), 0); /* armed before the burst */
    struct sockaddr_storage ss;
    socklen_t sl;
    addr_to_sockaddr(&to_b, &ss, &sl);
    /* 400 datagrams (more than the ring's 256 buffers) wait in b's socket before the ring looks */
    for (int i = 0; i < 400; i++) {
        uint8_t p[2] = {(uint8_t)i, (uint8_t)(i >> 8)};
        assert_int_equal(sendto(a, p, 2, 0, (struct sockaddr *)&ss, sl), 2);
    }
    /* enter without dispatching: completions pile up and nothing is given back until every buffer is taken */
    for (int i = 0; i < 30; i++)
        assert_int_equal(net_ring_enter(r, 0, 0), 0);
    pump(r, &seen.count, 400);
    assert_int_equal(seen.count, 400);
    for (int i = 0; i < 400; i++) {
        assert_int_equal(seen.first[i], (uint8_t)i);
        assert_int_equal(seen.last[i], (uint8_t)(i >> 8));
    }
    assert_true(seen.enobufs >= 1);
    net_ring_free(r);
    close(a);
    close(b);
    close(ep);
}

static void test_stop_releases_socket_and_epoll(void **s)
{
    (void)s;
    int ep;
    net_ring_t *r = ring_open(&ep);
    addr_t to_b;
    int b = open_loopback(&to_b);
    seen.fd = b;
    assert_int_equal(net_ring_recv_start(r, b, &tag_b), 0);
    assert_int_equal(net_ring_enter(r, 0, 0), 0);
    net_ring_recv_stop(r, b, &tag_b);
    close(b);
    pump(r, &seen.stopped, 1);
    assert_int_equal(seen.stopped, 1);
    /* the ring holds nothing of the socket any more: its port is free again */
    int again = net_udp_open(&to_b, 0);
    assert_true(again >= 0);
    close(again);
    /* readiness of the watched epoll instance arrives as a callback */
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), 0);
    assert_int_equal(seen.epoll_ready, 0);
    uint64_t one = 1;
    assert_int_equal(write(efd, &one, sizeof one), (ssize_t)sizeof one);
    pump(r, &seen.epoll_ready, 1);
    assert_true(seen.epoll_ready >= 1);
    net_ring_free(r);
    close(efd);
    close(ep);
}

/* With a minimum wait the ring says so, and a batched sleep still ends for one datagram (within the wait's
 * timeout: the minimum wait never holds a lone datagram longer than itself). */
static void test_min_wait(void **s)
{
    (void)s;
    memset(&seen, 0, sizeof seen);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    net_ring_cb_t cb = {.ctx = &seen, .datagram = on_datagram, .recv_ended = on_ended,
                        .epoll_ready = on_epoll, .send_failed = on_send_failed};
    net_ring_t *r = net_ring_new(ep, &cb, 2000);
    assert_non_null(r);
    seen.ring = r;
    assert_int_equal(net_ring_min_wait(r), 1); /* Linux 6.12 or later, as on the machines this runs on */
    addr_t from, to_b;
    int a = open_loopback(&from), b = open_loopback(&to_b);
    seen.fd = b;
    assert_int_equal(net_ring_recv_start(r, b, &tag_b), 0);
    assert_int_equal(net_ring_enter(r, 0, 1), 0);
    struct sockaddr_storage ss;
    socklen_t sl;
    addr_to_sockaddr(&to_b, &ss, &sl);
    assert_int_equal(sendto(a, "x", 1, 0, (struct sockaddr *)&ss, sl), 1);
    for (int i = 0; i < 100 && seen.count < 1; i++) {
        assert_int_equal(net_ring_enter(r, 50, 1), 0);
        net_ring_dispatch(r);
    }
    assert_int_equal(seen.count, 1);
    assert_int_equal(seen.first[0], 'x');
    net_ring_free(r);
    close(a);
    close(b);
    close(ep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sends_and_receives),
        cmocka_unit_test(test_burst_beyond_buffers),
        cmocka_unit_test(test_stop_releases_socket_and_epoll),
        cmocka_unit_test(test_min_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sendq.c — the batched sender on real loopback UDP sockets: nothing leaves before a flush; a flush
 * (or the main loop's next iteration) sends every datagram, in order per socket; a full queue and an old
 * datagram force a flush; a refused datagram is dropped and counted without holding back the others;
 * bad sizes are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sendq.h"

/* A non-blocking UDP socket bound to 127.0.0.1 on a free port; its address in *a. */
static int udp(struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof *a), 0);
    socklen_t l = sizeof *a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)a, &l), 0);
    return fd;
}

/* The next datagram on fd as an integer (its first 4 bytes), -1 if none is waiting. */
static long next(int fd, size_t *len)
{
    uint8_t buf[2000];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0)
        return -1;
    if (len)
        *len = (size_t)n;
    return (long)((uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3]);
}

static void push(int fd, const struct sockaddr_in *to, uint32_t v, size_t len)
{
    uint8_t buf[SENDQ_DATAGRAM_MAX] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    assert_int_equal(sendq_push(fd, (const struct sockaddr *)to, sizeof *to, buf, len), 0);
}

static void test_order_per_socket(void **st)
{
    (void)st;
    struct sockaddr_in sa, ra, rb;
    int s1 = udp(&sa), s2 = udp(&sa), a = udp(&ra), b = udp(&rb);
    uint64_t sent0 = sendq_sent();
    /* Interleaved: s1 → a, s2 → b, and s1 → b. */
    for (uint32_t i = 0; i < 10; i++) {
        push(s1, &ra, 100 + i, 100 + i);
        push(s2, &rb, 200 + i, 50);
        push(s1, &rb, 300 + i, 60);
    }
    assert_int_equal(next(a, NULL), -1); /* nothing before the flush */
    sendq_flush();
    assert_int_equal(sendq_sent() - sent0, 30);
    for (uint32_t i = 0; i < 10; i++) {
        size_t len = 0;
        assert_int_equal(next(a, &len), 100 + i);
        assert_int_equal(len, 100 + i);
    }
    assert_int_equal(next(a, NULL), -1);
    /* b got s1's and s2's, each in its own order. */
    uint32_t from1 = 300, from2 = 200;
    for (int i = 0; i < 20; i++) {
        long v = next(b, NULL);
        if (v >= 300)
            assert_int_equal(v, from1++);
        else
            assert_int_equal(v, from2++);
    }
    assert_int_equal(from1, 310);
    assert_int_equal(from2, 210);
    assert_int_equal(next(b, NULL), -1);
    close(s1), close(s2), close(a), close(b);
}

static void test_main_loop_flushes(void **st)
{
    (void)st;
    struct sockaddr_in sa, ra;
    int s = udp(&sa), r = udp(&ra);
    push(s, &ra, 7, 20);
    assert_int_equal(next(r, NULL), -1);
    g_main_context_iteration(NULL, FALSE); /* its prepare step, before the loop would wait */
    assert_int_equal(next(r, NULL), 7);
    close(s), close(r);
}

static void test_full_queue_flushes(void **st)
{
    (void)st;
    struct sockaddr_in sa, ra;
    int s = udp(&sa), r = udp(&ra);
    for (uint32_t i = 0; i < SENDQ_MAX; i++)
        push(s, &ra, i, 30);
    assert_int_equal(next(r, NULL), -1);
    push(s, &ra, SENDQ_MAX, 30); /* no room: the 64 queued go first */
    for (uint32_t i = 0; i < SENDQ_MAX; i++)
        assert_int_equal(next(r, NULL), i);
    assert_int_equal(next(r, NULL), -1);
    sendq_flush();
    assert_int_equal(next(r, NULL), SENDQ_MAX);
    close(s), close(r);
}

static void test_old_datagram_flushes(void **st)
{
    (void)st;
    struct sockaddr_in sa, ra;
    int s = udp(&sa), r = udp(&ra);
    push(s, &ra, 1, 30);
    g_usleep(SENDQ_MAX_DELAY_US + 2000);
    push(s, &ra, 2, 30); /* the first has waited long enough: both flushed before this one queues */
    assert_int_equal(next(r, NULL), 1);
    assert_int_equal(next(r, NULL), -1);
    sendq_flush();
    assert_int_equal(next(r, NULL), 2);
    close(s), close(r);
}

static void test_refused_is_dropped(void **st)
{
    (void)st;
    struct sockaddr_in sa, ra;
    int s = udp(&sa), r = udp(&ra);
    int dead = udp(&sa);
    close(dead); /* a socket that is gone: EBADF */
    uint64_t dropped0 = sendq_dropped();
    push(dead, &ra, 1, 30);
    push(s, &ra, 2, 30);
    /* An IPv4 socket asked to send to an IPv6 address refuses that one datagram only. */
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT, .sin6_port = ra.sin_port};
    uint8_t d[4] = {0, 0, 0, 3};
    assert_int_equal(sendq_push(s, (const struct sockaddr *)&v6, sizeof v6, d, sizeof d), 0);
    push(s, &ra, 4, 30);
    sendq_flush();
    assert_int_equal(sendq_dropped() - dropped0, 2);
    assert_int_equal(next(r, NULL), 2);
    assert_int_equal(next(r, NULL), 4);
    assert_int_equal(next(r, NULL), -1);
    close(s), close(r);
}

static void test_bad_sizes(void **st)
{
    (void)st;
    struct sockaddr_in sa;
    int s = udp(&sa);
    uint8_t big[SENDQ_DATAGRAM_MAX + 1] = {0};
    assert_int_equal(sendq_push(s, (const struct sockaddr *)&sa, sizeof sa, big, 0), -1);
    assert_int_equal(sendq_push(s, (const struct sockaddr *)&sa, sizeof sa, big, sizeof big), -1);
    assert_int_equal(sendq_push(s, (const struct sockaddr *)&sa, sizeof(struct sockaddr_storage) + 1, big, 10), -1);
    sendq_deinit();
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_per_socket),   cmocka_unit_test(test_main_loop_flushes),
        cmocka_unit_test(test_full_queue_flushes), cmocka_unit_test(test_old_datagram_flushes),
        cmocka_unit_test(test_refused_is_dropped), cmocka_unit_test(test_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

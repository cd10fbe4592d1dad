/* test_net_udp.c — the send queue on real loopback sockets: runs of equal datagrams to one address leave as
 * one segmented send and still arrive as the same datagrams, in order; other destinations are not merged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "net_udp.h"

static int open_loopback(addr_t *bound)
{
    addr_t a;
    assert_int_equal(addr_parse("127.0.0.1", 0, &a), 0);
    int fd = net_udp_open(&a, 0);
    assert_true(fd >= 0);
    assert_int_equal(net_local_addr(fd, bound), 0);
    return fd;
}

/* Receives one datagram (waits up to 2 s for it); returns its length. */
static ssize_t recv_one(int fd, uint8_t *buf, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    return recv(fd, buf, cap, 0);
}

static void fill(uint8_t *b, size_t n, uint8_t tag)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(tag + i);
}

static void test_runs_arrive_as_datagrams(void **s)
{
    (void)s;
    addr_t to_b, to_c, from;
    int a = open_loopback(&from), b = open_loopback(&to_b), c = open_loopback(&to_c);
    net_tx_t *tx = net_tx_new();
    uint8_t d[1200];
    /* to b: five of 1000 bytes and a last one of 300 (one run); then one to c; then two more to b. */
    for (int i = 0; i < 5; i++) {
        fill(d, 1000, (uint8_t)i);
        net_tx_add(tx, a, &to_b, d, 1000);
    }
    fill(d, 300, 5);
    net_tx_add(tx, a, &to_b, d, 300);
    fill(d, 1000, 6);
    net_tx_add(tx, a, &to_c, d, 1000);
    fill(d, 1000, 7);
    net_tx_add(tx, a, &to_b, d, 1000);
    fill(d, 1000, 8);
    net_tx_add(tx, a, &to_b, d, 1000);
    assert_int_equal(net_tx_flush(tx), 0);
    /* loopback segments: the two runs to b (6 and 2 datagrams) went segmented, the lone one to c did not */
    assert_int_equal(net_tx_segmented(tx), 8);

    uint8_t got[2000], want[1200];
    const size_t lens_b[] = {1000, 1000, 1000, 1000, 1000, 300, 1000, 1000};
    const uint8_t tags_b[] = {0, 1, 2, 3, 4, 5, 7, 8};
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(recv_one(b, got, sizeof got), (ssize_t)lens_b[i]);
        fill(want, lens_b[i], tags_b[i]);
        assert_memory_equal(got, want, lens_b[i]);
    }
    assert_int_equal(recv_one(c, got, sizeof got), 1000);
    fill(want, 1000, 6);
    assert_memory_equal(got, want, 1000);
    assert_int_equal(recv(b, got, sizeof got, MSG_DONTWAIT), -1); /* nothing more */

    /* A longer datagram after shorter ones starts a new run; one of 64 KB cannot be segmented. */
    fill(d, 200, 9);
    net_tx_add(tx, a, &to_b, d, 200);
    fill(d, 1200, 10);
    net_tx_add(tx, a, &to_b, d, 1200);
    assert_int_equal(net_tx_flush(tx), 0);
    assert_int_equal(recv_one(b, got, sizeof got), 200);
    assert_int_equal(recv_one(b, got, sizeof got), 1200);
    fill(want, 1200, 10);
    assert_memory_equal(got, want, 1200);
    net_tx_free(tx);
    close(a);
    close(b);
    close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_arrive_as_datagrams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

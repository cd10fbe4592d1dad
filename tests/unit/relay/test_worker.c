/* test_worker.c — one real worker on loopback: UDP and TCP listeners, relay sockets, batching and
 * framing, with plain sockets as client and peer. (No authentication: the state machine's auth is
 * covered by test_turn; this is about the network layer.) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "stun.h"
#include "worker.h"

static peer_policy_t *pol;
static ports_t *ports;
static quota_t *quota;
static worker_t *w;
static uint16_t port;
static uint8_t tidn;

static unsigned batch_wait_us; /* the worker's batch-wait-us: the tests run once per event, once batched */
static int io_uring_mode;      /* and each of those on epoll and on io_uring (event-loop) */

static int setup(void **s)
{
    (void)s;
    static addr_t listen_addr;
    log_level = LOG_LVL_ERROR;
    pol = peer_policy_new();
    peer_policy_allow_loopback(pol, 1);
    ports = ports_new(52000, 52999, 3);
    quota = quota_new(0, 0);
    addr_parse("127.0.0.1", 0, &listen_addr);
    worker_params_t p = {.turn = {.policy = pol, .ports = ports, .quota = quota,
                                  .default_lifetime = 600, .max_lifetime = 3600},
                         .listen = &listen_addr, .nlisten = 1, .batch_wait_us = batch_wait_us,
                         .io_uring = io_uring_mode};
    addr_parse("127.0.0.1", 0, &p.turn.relay_v4);
    char err[256];
    w = worker_new(0, &p, err, sizeof err);
    if (!w)
        fail_msg("worker_new: %s", err);
    assert_true(p.port != 0);
    port = p.port;
    assert_int_equal(worker_start(w), 0);
    /* the loop asked for is the loop that runs (this kernel has io_uring; a refusal would be a fallback) */
    assert_string_equal(worker_event_loop(w), io_uring_mode ? "io_uring" : "epoll");
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    worker_stop(w);
    worker_free(w);
    assert_int_equal(ports_in_use(ports), 0);
    quota_free(quota);
    ports_free(ports);
    peer_policy_free(pol);
    return 0;
}

static int udp_socket(struct sockaddr_in *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof *bound;
    getsockname(fd, (struct sockaddr *)bound, &l);
    return fd;
}

static void send_to(int fd, uint16_t p, const uint8_t *b, size_t n)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(sendto(fd, b, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
}

static ssize_t recv_wait(int fd, uint8_t *b, size_t cap, struct sockaddr_in *from)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 3000) != 1)
        return -1;
    socklen_t l = sizeof *from;
    return recvfrom(fd, b, cap, 0, (struct sockaddr *)from, &l);
}

static size_t build(uint8_t *buf, uint16_t method, uint8_t cls, void (*more)(stun_builder_t *, void *),
                    void *arg)
{
    uint8_t tid[12] = {0x42};
    tid[11] = ++tidn;
    stun_builder_t b;
    stun_build(&b, buf, 1024, method, cls, tid);
    if (more)
        more(&b, arg);
    return (size_t)stun_finish(&b);
}

static void add_transport(stun_builder_t *b, void *arg)
{
    (void)arg;
    stun_add_u32(b, TURN_A_REQUESTED_TRANSPORT, 17u << 24);
}

static void add_peer(stun_builder_t *b, void *arg)
{
    stun_add_xor_addr(b, TURN_A_XOR_PEER_ADDRESS, arg);
}

static void add_channel(stun_builder_t *b, void *arg)
{
    stun_add(b, TURN_A_CHANNEL_NUMBER, "\x40\x01\x00\x00", 4);
    stun_add_xor_addr(b, TURN_A_XOR_PEER_ADDRESS, arg);
}

static void add_send(stun_builder_t *b, void *arg)
{
    stun_add_xor_addr(b, TURN_A_XOR_PEER_ADDRESS, arg);
    stun_add(b, TURN_A_DATA, "ping", 4);
}

static void test_udp_binding_and_relay(void **s)
{
    (void)s;
    struct sockaddr_in me, pa, from;
    int c = udp_socket(&me), peer = udp_socket(&pa);
    uint8_t buf[2048];
    stun_msg_t m;
    /* Binding: our own address comes back. */
    size_t n = build(buf, STUN_BINDING, STUN_REQUEST, NULL, NULL);
    send_to(c, port, buf, n);
    ssize_t r = recv_wait(c, buf, sizeof buf, &from);
    assert_true(r > 0);
    assert_int_equal(stun_parse(buf, (size_t)r, &m), 0);
    addr_t mapped, mine;
    addr_from_sockaddr((struct sockaddr *)&me, &mine);
    assert_int_equal(stun_get_xor_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &mapped), 0);
    assert_true(addr_eq(&mapped, &mine));
    /* Allocate, permission, Send → the peer socket gets the bytes from the relayed address. */
    n = build(buf, TURN_ALLOCATE, STUN_REQUEST, add_transport, NULL);
    send_to(c, port, buf, n);
    r = recv_wait(c, buf, sizeof buf, &from);
    assert_int_equal(stun_parse(buf, (size_t)r, &m), 0);
    assert_int_equal(m.cls, STUN_SUCCESS);
    addr_t relayed, peer_addr;
    assert_int_equal(stun_get_xor_addr(&m, TURN_A_XOR_RELAYED_ADDRESS, &relayed), 0);
    assert_true(relayed.port >= 52000 && relayed.port <= 52999);
    addr_from_sockaddr((struct sockaddr *)&pa, &peer_addr);
    n = build(buf, TURN_CREATE_PERMISSION, STUN_REQUEST, add_peer, &peer_addr);
    send_to(c, port, buf, n);
    r = recv_wait(c, buf, sizeof buf, &from);
    assert_int_equal(stun_parse(buf, (size_t)r, &m), 0);
    assert_int_equal(m.cls, STUN_SUCCESS);
    n = build(buf, TURN_SEND, STUN_INDICATION, add_send, &peer_addr);
    send_to(c, port, buf, n);
    r = recv_wait(peer, buf, sizeof buf, &from);
    assert_int_equal(r, 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(ntohs(from.sin_port), relayed.port);
    /* The peer answers: a Data indication. */
    send_to(peer, relayed.port, (const uint8_t *)"pong", 4);
    r = recv_wait(c, buf, sizeof buf, &from);
    assert_int_equal(stun_parse(buf, (size_t)r, &m), 0);
    assert_int_equal(m.method, TURN_DATA);
    /* Channel: both directions as ChannelData; a burst of 100 in each direction all arrives. */
    n = build(buf, TURN_CHANNEL_BIND, STUN_REQUEST, add_channel, &peer_addr);
    send_to(c, port, buf, n);
    r = recv_wait(c, buf, sizeof buf, &from);
    assert_int_equal(stun_parse(buf, (size_t)r, &m), 0);
    assert_int_equal(m.cls, STUN_SUCCESS);
    for (int i = 0; i < 100; i++)
        send_to(c, port, (const uint8_t *)"\x40\x01\x00\x03" "abc", 7);
    for (int i = 0; i < 100; i++) {
        r = recv_wait(peer, buf, sizeof buf, &from);
        assert_int_equal(r, 3);
    }
    for (int i = 0; i < 100; i++)
        send_to(peer, relayed.port, (const uint8_t *)"xyz", 3);
    for (int i = 0; i < 100; i++) {
        r = recv_wait(c, buf, sizeof buf, &from);
        assert_int_equal(r, 7);
        assert_memory_equal(buf, "\x40\x01\x00\x03" "xyz", 7);
    }
    const stats_t *st = worker_stats(w);
    assert_true(atomic_load(&st->client_to_peer_packets) >= 101);
    assert_true(atomic_load(&st->peer_to_client_packets) >= 101);
    close(c);
    close(peer);
}

static void test_tcp_framing(void **s)
{
    (void)s;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    uint8_t buf[4096], two[2048];
    /* Two Bindings in one write, the second split over two writes: three answers. */
    size_t n = build(two, STUN_BINDING, STUN_REQUEST, NULL, NULL);
    size_t n2 = build(two + n, STUN_BINDING, STUN_REQUEST, NULL, NULL);
    size_t n3 = build(two + n + n2, STUN_BINDING, STUN_REQUEST, NULL, NULL);
    assert_int_equal(write(fd, two, n + n2 + 7), (ssize_t)(n + n2 + 7));
    usleep(50000);
    assert_int_equal(write(fd, two + n + n2 + 7, n3 - 7), (ssize_t)(n3 - 7));
    size_t got = 0;
    int answers = 0;
    while (answers < 3) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 3000), 1);
        ssize_t r = read(fd, buf + got, sizeof buf - got);
        assert_true(r > 0);
        got += (size_t)r;
        long fl;
        while ((fl = stun_frame_len(buf, got)) > 0 && (size_t)fl <= got) {
            stun_msg_t m;
            assert_int_equal(stun_parse(buf, (size_t)fl, &m), 0);
            assert_int_equal(m.cls, STUN_SUCCESS);
            memmove(buf, buf + fl, got - (size_t)fl);
            got -= (size_t)fl;
            answers++;
        }
    }
    /* A frame bigger than the idle input buffer (the buffer grows to it), in small pieces. */
    static uint8_t big[12000];
    static char soft[9000];
    memset(soft, 'x', sizeof soft);
    stun_builder_t b;
    uint8_t tid[12] = {7};
    stun_build(&b, big, sizeof big, STUN_BINDING, STUN_REQUEST, tid);
    stun_add(&b, 0x8022, soft, sizeof soft);
    size_t bn = (size_t)stun_finish(&b);
    for (size_t off = 0; off < bn; off += 1000) {
        size_t k = bn - off < 1000 ? bn - off : 1000;
        assert_int_equal(write(fd, big + off, k), (ssize_t)k);
    }
    got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 3000), 1);
        ssize_t r = read(fd, buf + got, sizeof buf - got);
        assert_true(r > 0);
        got += (size_t)r;
        long fl = stun_frame_len(buf, got);
        if (fl > 0 && (size_t)fl <= got) {
            stun_msg_t m;
            assert_int_equal(stun_parse(buf, (size_t)fl, &m), 0);
            assert_memory_equal(m.tid, tid, 12);
            break;
        }
    }
    /* Garbage closes the connection. */
    assert_int_equal(write(fd, "\xff\xff\xff\xff", 4), 4);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 3000), 1);
    assert_int_equal(read(fd, buf, sizeof buf), 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_binding_and_relay),
        cmocka_unit_test(test_tcp_framing),
    };
    int failed = cmocka_run_group_tests_name("worker, waking per event", tests, setup, teardown);
    batch_wait_us = 200;
    failed += cmocka_run_group_tests_name("worker, batched wait", tests, setup, teardown);
    io_uring_mode = 1;
    batch_wait_us = 0;
    failed += cmocka_run_group_tests_name("worker, io_uring", tests, setup, teardown);
    batch_wait_us = 200;
    failed += cmocka_run_group_tests_name("worker, io_uring with a minimum wait", tests, setup, teardown);
    return failed;
}

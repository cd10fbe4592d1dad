/* test_batchwait.c — the batched wait on a real epoll instance and loopback UDP: it wakes for an event,
 * times out without one, forgets notifications already handled, and survives a flood that overflows its
 * completion queue. Skipped where the kernel has no io_uring minimum wait (the worker then wakes per event). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "batchwait.h"

typedef struct {
    int ep, rx, tx;
    struct sockaddr_in to;
    batchwait_t *bw;
} fixture_t;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static int setup(void **state)
{
    static fixture_t f;
    f.rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    f.tx = socket(AF_INET, SOCK_DGRAM, 0);
    f.to = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f.rx, (struct sockaddr *)&f.to, sizeof f.to), 0);
    socklen_t l = sizeof f.to;
    assert_int_equal(getsockname(f.rx, (struct sockaddr *)&f.to, &l), 0);
    f.ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = f.rx};
    assert_int_equal(epoll_ctl(f.ep, EPOLL_CTL_ADD, f.rx, &ev), 0);
    f.bw = batchwait_new(f.ep, 200);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    batchwait_free(f->bw);
    close(f->ep);
    close(f->rx);
    close(f->tx);
    return 0;
}

static void send_one(fixture_t *f)
{
    assert_int_equal(sendto(f->tx, "x", 1, 0, (struct sockaddr *)&f->to, sizeof f->to), 1);
}

static int drain(fixture_t *f)
{
    char b[16];
    int n = 0;
    while (recv(f->rx, b, sizeof b, 0) > 0)
        n++;
    return n;
}

static int ready(fixture_t *f)
{
    struct epoll_event ev;
    return epoll_wait(f->ep, &ev, 1, 0);
}

static void *send_later(void *arg)
{
    usleep(50000);
    send_one(arg);
    return NULL;
}

static void test_wakes_for_an_event(void **state)
{
    fixture_t *f = *state;
    if (!f->bw)
        skip();
    batchwait_arm(f->bw);
    assert_int_equal(ready(f), 0);
    pthread_t t;
    pthread_create(&t, NULL, send_later, f);
    uint64_t t0 = now_ms();
    assert_int_equal(batchwait_sleep(f->bw, 10000), 0);
    uint64_t took = now_ms() - t0;
    pthread_join(t, NULL);
    assert_true(took < 5000); /* woken by the datagram, long before the 10 s timeout */
    assert_int_equal(ready(f), 1);
    assert_int_equal(drain(f), 1);
}

static void test_times_out_without_events(void **state)
{
    fixture_t *f = *state;
    if (!f->bw)
        skip();
    batchwait_arm(f->bw);
    uint64_t t0 = now_ms();
    assert_int_equal(batchwait_sleep(f->bw, 60), 0);
    assert_true(now_ms() - t0 >= 50);
    assert_int_equal(ready(f), 0);
}

/* Notifications for datagrams already handled must not end the next sleep early. */
static void test_forgets_handled_notifications(void **state)
{
    fixture_t *f = *state;
    if (!f->bw)
        skip();
    for (int i = 0; i < 5; i++)
        send_one(f);
    assert_int_equal(drain(f), 5);
    batchwait_arm(f->bw);
    uint64_t t0 = now_ms();
    assert_int_equal(batchwait_sleep(f->bw, 60), 0);
    assert_true(now_ms() - t0 >= 50);
}

/* More notifications than the completion queue holds end the kernel's poll; arming posts it again and
 * the next datagram still wakes the sleeper. */
static void test_survives_a_flood(void **state)
{
    fixture_t *f = *state;
    if (!f->bw)
        skip();
    int sent = 0;
    for (int i = 0; i < 1500; i++) {
        send_one(f);
        sent++;
        if (i % 100 == 99)
            drain(f); /* keep the socket's buffer from dropping: every datagram is a notification */
    }
    drain(f);
    batchwait_arm(f->bw);
    assert_int_equal(ready(f), 0);
    pthread_t t;
    pthread_create(&t, NULL, send_later, f);
    uint64_t t0 = now_ms();
    assert_int_equal(batchwait_sleep(f->bw, 10000), 0);
    pthread_join(t, NULL);
    assert_true(now_ms() - t0 < 5000);
    assert_int_equal(drain(f), 1);
    assert_true(sent == 1500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wakes_for_an_event),
        cmocka_unit_test(test_times_out_without_events),
        cmocka_unit_test(test_forgets_handled_notifications),
        cmocka_unit_test(test_survives_a_flood),
    };
    return cmocka_run_group_tests_name("batchwait", tests, setup, teardown);
}

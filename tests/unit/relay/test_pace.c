/* test_pace.c — the pacer's choice on synthetic windows: it batches when batching costs less per packet,
 * stays unbatched when batching costs more, never batches light traffic, follows a change of traffic,
 * and probes the other mode less often while its choice keeps being confirmed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pace.h"

#define PACKETS 1000 /* per window: well above PACE_MIN_PACKETS */

/* Runs n windows of traffic that costs cost_off ns per packet unbatched and cost_on batched; returns how
 * many of them ran batched. */
static int run(pace_t *p, int n, uint64_t cost_off, uint64_t cost_on)
{
    int batched = 0;
    for (int i = 0; i < n; i++) {
        batched += p->batching;
        pace_window(p, PACKETS, PACKETS * (p->batching ? cost_on : cost_off));
    }
    return batched;
}

static void test_steady_traffic_is_batched(void **state)
{
    (void)state;
    pace_t p;
    pace_init(&p);
    run(&p, 20, 12000, 7000); /* load b: batching nearly halves the cost */
    assert_int_equal(p.home, 1);
    assert_int_equal(p.switches, 1);
    /* Once settled, nearly all windows are batched: probes of the other mode are short and rare. */
    int batched = run(&p, 1000, 12000, 7000);
    assert_true(batched > 950);
    assert_int_equal(p.home, 1);
    assert_int_equal(p.switches, 1);
}

static void test_bursty_traffic_is_not_batched(void **state)
{
    (void)state;
    pace_t p;
    pace_init(&p);
    int batched = run(&p, 1000, 13000, 17000); /* load c: batching costs more */
    assert_int_equal(p.home, 0);
    assert_int_equal(p.switches, 0);
    assert_true(batched < 50); /* probes only */
}

static void test_small_gain_is_not_enough(void **state)
{
    (void)state;
    pace_t p;
    pace_init(&p);
    run(&p, 200, 10000, 9500); /* 5 % cheaper: within noise, not worth the latency */
    assert_int_equal(p.home, 0);
    assert_int_equal(p.switches, 0);
}

static void test_light_traffic_never_batches(void **state)
{
    (void)state;
    pace_t p;
    pace_init(&p);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(p.batching, 0);
        /* few packets, and batching would be far cheaper: still not batched */
        pace_window(&p, PACE_MIN_PACKETS - 1, (PACE_MIN_PACKETS - 1) * (p.batching ? 1000u : 50000u));
    }
    assert_int_equal(p.switches, 0);
}

static void test_follows_a_change_of_traffic(void **state)
{
    (void)state;
    pace_t p;
    pace_init(&p);
    run(&p, 400, 12000, 7000);
    assert_int_equal(p.home, 1);
    /* The traffic turns bursty: within PACE_PROBE_MAX windows and a probe (3.3 s) it is unbatched. */
    run(&p, 70, 13000, 17000);
    assert_int_equal(p.home, 0);
    /* A lull resets everything: light traffic, unbatched, probing from the start. */
    pace_window(&p, 10, 10000);
    assert_int_equal(p.batching, 0);
    run(&p, 20, 12000, 7000);
    assert_int_equal(p.home, 1);
}

static void test_turn_windows_by_the_clock(void **state)
{
    (void)state;
    pace_t p;
    pace_init(&p);
    /* Light traffic through pace_turn: windows end by the clock, and nothing is batched. */
    uint64_t packets = 0;
    for (uint64_t ms = 1; ms < 2000; ms++) {
        packets += 1; /* 1,000 packets/s: light */
        assert_int_equal(pace_turn(&p, ms, packets), 0);
    }
    /* A window that ran long (the worker slept through it) counts as light, whatever its count. */
    assert_int_equal(pace_turn(&p, 5000, packets + 100000), 0);
    assert_int_equal(p.home, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_traffic_is_batched),
        cmocka_unit_test(test_bursty_traffic_is_not_batched),
        cmocka_unit_test(test_small_gain_is_not_enough),
        cmocka_unit_test(test_light_traffic_never_batches),
        cmocka_unit_test(test_follows_a_change_of_traffic),
        cmocka_unit_test(test_turn_windows_by_the_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

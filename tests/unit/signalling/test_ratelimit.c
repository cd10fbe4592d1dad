/* test_ratelimit.c — token buckets: burst, refill, retry hints; the keyed table and its eviction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"

static void burst_then_limited(void **state)
{
    (void)state;
    ratelimit_t b = {0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(ratelimit_take(&b, 1000, 60, 5), 0);
    uint64_t wait = ratelimit_take(&b, 1000, 60, 5);
    assert_true(wait >= 990 && wait <= 1001); /* 60 a minute: one a second */
}

static void refills_with_time_up_to_burst(void **state)
{
    (void)state;
    ratelimit_t b = {0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(&b, 0, 60, 3), 0);
    assert_true(ratelimit_take(&b, 500, 60, 3) > 0);
    assert_int_equal(ratelimit_take(&b, 1001, 60, 3), 0);   /* one token back after a second */
    assert_true(ratelimit_take(&b, 1002, 60, 3) > 0);
    /* a long pause refills to the burst, not beyond */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(&b, 1000000, 60, 3), 0);
    assert_true(ratelimit_take(&b, 1000000, 60, 3) > 0);
}

static void clock_going_backwards_is_harmless(void **state)
{
    (void)state;
    ratelimit_t b = {0};
    assert_int_equal(ratelimit_take(&b, 5000, 60, 1), 0);
    assert_true(ratelimit_take(&b, 100, 60, 1) > 0);
}

static void table_keys_are_independent(void **state)
{
    (void)state;
    ratelimit_table_t *t = ratelimit_table_new(8);
    assert_non_null(t);
    assert_int_equal(ratelimit_table_take(t, "10.0.0.1", 0, 60, 1), 0);
    assert_true(ratelimit_table_take(t, "10.0.0.1", 0, 60, 1) > 0);
    assert_int_equal(ratelimit_table_take(t, "10.0.0.2", 0, 60, 1), 0);
    assert_int_equal(ratelimit_table_size(t), 2);
    ratelimit_table_free(t);
}

static void full_table_forgets_least_recently_used(void **state)
{
    (void)state;
    ratelimit_table_t *t = ratelimit_table_new(2);
    assert_int_equal(ratelimit_table_take(t, "a", 1, 60, 1), 0);
    assert_int_equal(ratelimit_table_take(t, "b", 2, 60, 1), 0);
    assert_int_equal(ratelimit_table_take(t, "c", 3, 60, 1), 0); /* evicts a */
    assert_int_equal(ratelimit_table_size(t), 2);
    assert_true(ratelimit_table_take(t, "b", 4, 60, 1) > 0);     /* b was kept: still limited */
    assert_int_equal(ratelimit_table_take(t, "a", 5, 60, 1), 0); /* a was forgotten: fresh bucket */
    ratelimit_table_free(t);
    ratelimit_table_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_limited),
        cmocka_unit_test(refills_with_time_up_to_burst),
        cmocka_unit_test(clock_going_backwards_is_harmless),
        cmocka_unit_test(table_keys_are_independent),
        cmocka_unit_test(full_table_forgets_least_recently_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

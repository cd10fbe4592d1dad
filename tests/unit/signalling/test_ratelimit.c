/* test_ratelimit.c — token buckets: burst, refill, retry hints; the keyed table and its (lossless) eviction. */
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

static void full_table_forgets_only_refilled_buckets(void **state)
{
    (void)state;
    ratelimit_table_t *t = ratelimit_table_new(2);
    assert_int_equal(ratelimit_table_take(t, "a", 1, 60, 1), 0);
    assert_int_equal(ratelimit_table_take(t, "b", 2, 60, 1), 0);
    /* Both buckets are empty (refilled after a second): c cannot take a's place, it shares the overflow
     * bucket, which a second key then finds empty. */
    assert_int_equal(ratelimit_table_take(t, "c", 3, 60, 1), 0);
    assert_true(ratelimit_table_take(t, "d", 4, 60, 1) > 0);
    assert_int_equal(ratelimit_table_size(t), 2);
    assert_true(ratelimit_table_take(t, "a", 5, 60, 1) > 0); /* a kept its state: still limited */
    /* After a's bucket has refilled, forgetting it changes nothing: a new key takes its place. */
    assert_int_equal(ratelimit_table_take(t, "e", 5000, 60, 1), 0);
    assert_int_equal(ratelimit_table_size(t), 2);
    ratelimit_table_free(t);
    ratelimit_table_free(NULL);
}

/* The probe's attack: one key is limited; rotating through many more keys than the table holds must not
 * reset it (before: the least recently used bucket was forgotten, limited or not). */
static void rotating_keys_cannot_reset_a_limited_key(void **state)
{
    (void)state;
    ratelimit_table_t *t = ratelimit_table_new(64);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_table_take(t, "victim", 1000, 6, 3), 0);
    assert_true(ratelimit_table_take(t, "victim", 1000, 6, 3) > 0);
    char key[32];
    int allowed = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "10.1.%d.%d", i / 250, i % 250);
        allowed += ratelimit_table_take(t, key, 1001 + (uint64_t)i / 100, 6, 3) == 0;
    }
    assert_true(ratelimit_table_size(t) <= 64);
    assert_true(ratelimit_table_take(t, "victim", 1200, 6, 3) > 0); /* still limited */
    /* the rotating keys got at most their own first buckets plus the shared overflow's few tokens */
    assert_true(allowed <= 3 * 64 + 10);
    ratelimit_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_limited),
        cmocka_unit_test(refills_with_time_up_to_burst),
        cmocka_unit_test(clock_going_backwards_is_harmless),
        cmocka_unit_test(table_keys_are_independent),
        cmocka_unit_test(full_table_forgets_only_refilled_buckets),
        cmocka_unit_test(rotating_keys_cannot_reset_a_limited_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

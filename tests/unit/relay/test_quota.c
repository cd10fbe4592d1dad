/* test_quota.c — per-user and total allocation quotas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "quota.h"

static void test_quota(void **s)
{
    (void)s;
    quota_t *q = quota_new(2, 3);
    assert_int_equal(quota_take(q, "alice", 5), 0);
    assert_int_equal(quota_take(q, "alice", 5), 0);
    assert_int_equal(quota_take(q, "alice", 5), -1); /* per user */
    assert_int_equal(quota_take(q, "bob", 3), 0);
    assert_int_equal(quota_take(q, "carol", 5), -1); /* total */
    assert_int_equal(quota_current(q), 3);
    quota_release(q, "alice", 5);
    assert_int_equal(quota_take(q, "carol", 5), 0);
    quota_release(q, "nobody", 6); /* unknown: no effect */
    assert_int_equal(quota_current(q), 3);
    quota_free(q);
    q = quota_new(1, 2); /* no user: only the total counts */
    assert_int_equal(quota_take(q, NULL, 0), 0);
    assert_int_equal(quota_take(q, NULL, 0), 0);
    assert_int_equal(quota_take(q, NULL, 0), -1);
    quota_release(q, NULL, 0);
    assert_int_equal(quota_current(q), 1);
    quota_free(q);
    q = quota_new(0, 0); /* unlimited */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(quota_take(q, "x", 1), 0);
    quota_free(q); /* frees users still counted */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_quota)};
    return cmocka_run_group_tests_name("quota", tests, NULL, NULL);
}

/* test_streamid.c — stream ids as numbers: parsing, clamping to PostgreSQL's bigint, order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "streamid.h"

static void parses_and_orders(void **state)
{
    (void)state;
    streamid_t a, b;
    assert_int_equal(streamid_parse("1718000123456-0", &a), 1);
    assert_true(a.ms == 1718000123456ULL && a.seq == 0);
    assert_int_equal(streamid_parse("1718000123456-12", &b), 1);
    assert_int_equal(streamid_cmp(a, b), -1);
    assert_int_equal(streamid_cmp(b, a), 1);
    assert_int_equal(streamid_cmp(a, a), 0);
    /* ms decides before seq; numerically, not as text ("9" < "10") */
    assert_int_equal(streamid_parse("9-5", &a), 1);
    assert_int_equal(streamid_parse("10-0", &b), 1);
    assert_int_equal(streamid_cmp(a, b), -1);
}

static void empty_is_none_and_huge_is_clamped(void **state)
{
    (void)state;
    streamid_t a;
    assert_int_equal(streamid_parse("", &a), 0);
    assert_true(a.ms == 0 && a.seq == 0);
    assert_int_equal(streamid_parse(NULL, &a), 0);
    /* 20 digits pass feature_stream_id_valid but not PostgreSQL's bigint: clamped, "past everything" */
    assert_int_equal(streamid_parse("99999999999999999999-99999999999999999999", &a), 1);
    assert_true(a.ms == INT64_MAX && a.seq == INT64_MAX);
    assert_int_equal(streamid_cmp(a, streamid_max()), 0);
    streamid_t b;
    streamid_parse("1718000123456-0", &b);
    assert_int_equal(streamid_cmp(b, streamid_max()), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_and_orders),
        cmocka_unit_test(empty_is_none_and_huge_is_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

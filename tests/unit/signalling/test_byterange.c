/* test_byterange.c — Range and Content-Range values (RFC 9110 14.1.2, 14.4) against a known size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "byterange.h"

static int parse(const char *v, uint64_t size, uint64_t *a, uint64_t *b)
{
    *a = *b = 12345;
    return byterange_parse(v, size, a, b);
}

static void plain_open_and_suffix_ranges(void **state)
{
    (void)state;
    uint64_t a, b;
    assert_int_equal(parse("bytes=0-99", 1000, &a, &b), BYTERANGE_OK);
    assert_true(a == 0 && b == 99);
    assert_int_equal(parse("bytes=500-", 1000, &a, &b), BYTERANGE_OK); /* what a seeking <video> sends */
    assert_true(a == 500 && b == 999);
    assert_int_equal(parse("bytes=900-5000", 1000, &a, &b), BYTERANGE_OK); /* last clamped to the end */
    assert_true(a == 900 && b == 999);
    assert_int_equal(parse("bytes=-100", 1000, &a, &b), BYTERANGE_OK);
    assert_true(a == 900 && b == 999);
    assert_int_equal(parse("bytes=-5000", 1000, &a, &b), BYTERANGE_OK); /* more than all: all */
    assert_true(a == 0 && b == 999);
    assert_int_equal(parse("BYTES= 999-999", 1000, &a, &b), BYTERANGE_OK);
    assert_true(a == 999 && b == 999);
}

static void absent_other_units_and_multi_mean_whole(void **state)
{
    (void)state;
    uint64_t a, b;
    assert_int_equal(parse(NULL, 1000, &a, &b), BYTERANGE_NONE);
    assert_int_equal(parse("", 1000, &a, &b), BYTERANGE_NONE);
    assert_int_equal(parse("items=0-5", 1000, &a, &b), BYTERANGE_NONE);
    assert_int_equal(parse("bytes=0-1,5-9", 1000, &a, &b), BYTERANGE_NONE);
    assert_true(a == 12345 && b == 12345); /* untouched */
}

static void unsatisfiable_and_malformed(void **state)
{
    (void)state;
    uint64_t a, b;
    assert_int_equal(parse("bytes=1000-", 1000, &a, &b), BYTERANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=2000-3000", 1000, &a, &b), BYTERANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=-0", 1000, &a, &b), BYTERANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=0-", 0, &a, &b), BYTERANGE_UNSATISFIABLE); /* an empty file has no byte 0 */
    assert_int_equal(parse("bytes=5-2", 1000, &a, &b), BYTERANGE_BAD);
    assert_int_equal(parse("bytes=abc", 1000, &a, &b), BYTERANGE_BAD);
    assert_int_equal(parse("bytes=-", 1000, &a, &b), BYTERANGE_BAD);
    assert_int_equal(parse("bytes=1-2x", 1000, &a, &b), BYTERANGE_BAD);
    assert_int_equal(parse("bytes=99999999999999999999-", 1000, &a, &b), BYTERANGE_BAD); /* 20 digits */
    assert_int_equal(parse("bytes=18446744073709551615-", 1000, &a, &b), BYTERANGE_BAD);
    assert_true(a == 12345 && b == 12345);
}

static void content_range_of_a_chunk(void **state)
{
    (void)state;
    uint64_t a, b, c;
    assert_int_equal(byterange_content_range("bytes 0-1048575/5000000", &a, &b, &c), 0);
    assert_true(a == 0 && b == 1048575 && c == 5000000);
    assert_int_equal(byterange_content_range("bytes 10-19/*", &a, &b, &c), 0);
    assert_true(a == 10 && b == 19 && c == UINT64_MAX);
    assert_int_equal(byterange_content_range("bytes 4999999-4999999/5000000", &a, &b, &c), 0);
    assert_int_equal(byterange_content_range("bytes 10-5/100", &a, &b, &c), -1);
    assert_int_equal(byterange_content_range("bytes 0-100/100", &a, &b, &c), -1); /* past the end */
    assert_int_equal(byterange_content_range("bytes=0-1/2", &a, &b, &c), -1);
    assert_int_equal(byterange_content_range("bytes */100", &a, &b, &c), -1);
    assert_int_equal(byterange_content_range("bytes 0-1/2 junk", &a, &b, &c), -1);
    assert_int_equal(byterange_content_range(NULL, &a, &b, &c), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_open_and_suffix_ranges),
        cmocka_unit_test(absent_other_units_and_multi_mean_whole),
        cmocka_unit_test(unsatisfiable_and_malformed),
        cmocka_unit_test(content_range_of_a_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

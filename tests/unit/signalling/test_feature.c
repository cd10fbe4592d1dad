/* test_feature.c — the id formats the circle and chat handlers accept before anything reaches Redis:
 * a malformed id must never be spliced into a key name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "feature.h"

static void new_ids_are_valid_and_distinct(void **state)
{
    (void)state;
    char a[FEATURE_ID_LEN + 1], b[FEATURE_ID_LEN + 1];
    assert_int_equal(feature_id_new(a), 0);
    assert_int_equal(feature_id_new(b), 0);
    assert_int_equal(strlen(a), FEATURE_ID_LEN);
    assert_true(feature_id_valid(a));
    assert_true(feature_id_valid(b));
    assert_string_not_equal(a, b);
}

static void ids_are_32_lowercase_hex(void **state)
{
    (void)state;
    assert_true(feature_id_valid("0123456789abcdef0123456789abcdef"));
    assert_false(feature_id_valid("0123456789ABCDEF0123456789abcdef")); /* upper case */
    assert_false(feature_id_valid("0123456789abcdef0123456789abcde"));  /* 31 */
    assert_false(feature_id_valid("0123456789abcdef0123456789abcdef0")); /* 33 */
    assert_false(feature_id_valid("0123456789abcdef0123456789abcd:x"));  /* key separator */
    assert_false(feature_id_valid(""));
}

static void stream_ids_are_ms_dash_seq(void **state)
{
    (void)state;
    assert_true(feature_stream_id_valid("0-0"));
    assert_true(feature_stream_id_valid("1718000123456-12"));
    assert_true(feature_stream_id_valid("18446744073709551615-18446744073709551615"));
    assert_false(feature_stream_id_valid("184467440737095516150-0")); /* 21 digits */
    assert_false(feature_stream_id_valid("1718000123456"));            /* no sequence */
    assert_false(feature_stream_id_valid("-1"));
    assert_false(feature_stream_id_valid("1-"));
    assert_false(feature_stream_id_valid("1-2-3"));
    assert_false(feature_stream_id_valid("+"));
    assert_false(feature_stream_id_valid("(1-0"));                     /* range syntax */
    assert_false(feature_stream_id_valid("1 -0"));
    assert_false(feature_stream_id_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_ids_are_valid_and_distinct),
        cmocka_unit_test(ids_are_32_lowercase_hex),
        cmocka_unit_test(stream_ids_are_ms_dash_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_jsonscan.c — the validating scanner on the cases that matter for passing a client's payload on:
 * nesting, escapes, surrogate pairs, UTF-8, numbers, trailing garbage, depth; and the member walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jsonscan.h"

static int valid(const char *s) { return jsonscan_valid(s, strlen(s)) == 0; }

static void accepts_json(void **state)
{
    (void)state;
    const char *ok[] = {"{}", "[]", " {\"a\" : [1, -2.5e+3, true, false, null, \"x\"]} ", "\"\\ud83d\\ude00\"",
                        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"é ✓ 😀\"", "0", "-0.0E-0", "{\"a\":{\"b\":{\"c\":[[]]}}}"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_true(valid(ok[i]));
}

static void refuses_what_is_not_json(void **state)
{
    (void)state;
    const char *bad[] = {"", "{", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{a:1}", "01", "1.", "-", "1e", ".5", "tru",
                         "nul", "\"\\ud83d\"", "\"\\ude00\"", "\"\\u0000\"", "\"\\x\"", "\"a\nb\"", "\"\xed\xa0\x80\"",
                         "\"\xc0\xaf\"", "\"\xf5\x80\x80\x80\"", "{} {}", "[1] x", "\"abc"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(valid(bad[i]));
    char deep[2 * JSONSCAN_MAX_DEPTH + 3];
    memset(deep, '[', JSONSCAN_MAX_DEPTH + 1);
    memset(deep + JSONSCAN_MAX_DEPTH + 1, ']', JSONSCAN_MAX_DEPTH + 1);
    deep[2 * JSONSCAN_MAX_DEPTH + 2] = '\0';
    assert_false(valid(deep)); /* one level too deep */
    deep[2 * JSONSCAN_MAX_DEPTH + 1] = '\0';
    assert_true(valid(deep + 1)); /* exactly the limit */
}

typedef struct {
    int n;
    char keys[4][16];
    char vals[4][64];
} seen_t;

static int record(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
    seen_t *s = arg;
    snprintf(s->keys[s->n], sizeof s->keys[0], "%.*s", (int)klen, key);
    snprintf(s->vals[s->n], sizeof s->vals[0], "%.*s", (int)vlen, val);
    s->n++;
    return 0;
}

static void walks_top_level_members(void **state)
{
    (void)state;
    const char *s = "{ \"type\" : \"call.signal\" , \"data\" : {\"x\":[1,\"}\"]} ,\"id\":7 }";
    seen_t seen = {0};
    assert_int_equal(jsonscan_members(s, strlen(s), record, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.keys[0], "type");
    assert_string_equal(seen.vals[0], "\"call.signal\"");
    assert_string_equal(seen.vals[1], "{\"x\":[1,\"}\"]}");
    assert_string_equal(seen.vals[2], "7");
    assert_int_equal(jsonscan_members("[1]", 3, record, &seen), -1);
}

/* The one-pass walk: the same members as jsonscan_members on valid objects; -1 for anything that is not
 * one valid object, including faults after members already seen and trailing text. */
static void object_walk_checks_as_it_goes(void **state)
{
    (void)state;
    const char *s = " {\"type\":\"call.signal\",\"data\":{\"x\":[1,\"}\"]},\"id\":7} ";
    seen_t seen = {0};
    assert_int_equal(jsonscan_object(s, strlen(s), record, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.vals[1], "{\"x\":[1,\"}\"]}");
    seen_t empty = {0};
    assert_int_equal(jsonscan_object(" {} ", 4, record, &empty), 0);
    assert_int_equal(empty.n, 0);
    const char *bad[] = {"[1]", "{", "{\"a\":1", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":1} x", "{\"a\":1}{}",
                         "{\"a\":tru}", "{\"a\":1 \"b\":2}", "{,}", "{\"a\":\"\\u0000\"}", "{\"\x01\":1}", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        seen_t any = {0};
        assert_int_equal(jsonscan_object(bad[i], strlen(bad[i]), record, &any), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_json),
        cmocka_unit_test(refuses_what_is_not_json),
        cmocka_unit_test(walks_top_level_members),
        cmocka_unit_test(object_walk_checks_as_it_goes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

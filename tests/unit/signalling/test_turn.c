/* test_turn.c — TURN REST credentials: username format, HMAC-SHA1 + base64 against vectors computed
 * independently with `printf '%s' USERNAME | openssl dgst -sha1 -hmac SECRET -binary | base64`, and
 * reading the shared secret file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "turn.h"

static void username_is_expiry_colon_user(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(turn_username(buf, sizeof buf, 1700000000, "0123456789abcdef0123456789abcdef"), 43);
    assert_string_equal(buf, "1700000000:0123456789abcdef0123456789abcdef");
    assert_int_equal(turn_username(buf, 12, 1700000000, "0123"), -1); /* does not fit */
}

static void credential_matches_openssl_vector(void **state)
{
    (void)state;
    char out[TURN_CREDENTIAL_LEN + 1];
    const char *secret = "staffroom-test-secret";
    assert_int_equal(turn_credential(secret, strlen(secret), "1700000000:0123456789abcdef0123456789abcdef",
                                     out, sizeof out),
                     0);
    assert_string_equal(out, "yzhb9UcM01uTCEcl8vfB4xVH8G0=");
    assert_int_equal(turn_credential("key", 3, "username", out, sizeof out), 0);
    assert_string_equal(out, "lzhxeUeIYBG7JVOZqbM9FSigklM=");
}

static void credential_refuses_small_buffer(void **state)
{
    (void)state;
    char out[TURN_CREDENTIAL_LEN];
    assert_int_equal(turn_credential("key", 3, "username", out, sizeof out), -1);
}

/* Writes text to a fresh temp file; returns its path (static buffer). */
static const char *temp_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_turn_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void secret_is_first_nonblank_line_trimmed(void **state)
{
    (void)state;
    char out[TURN_SECRET_MAX + 1];
    const char *p = temp_file("\n  \r\n  s3cret value \r\nsecond line\n");
    assert_int_equal(turn_read_secret(p, out, sizeof out), 12);
    assert_string_equal(out, "s3cret value");
    unlink(p);
}

static void secret_missing_or_blank_file_fails(void **state)
{
    (void)state;
    char out[TURN_SECRET_MAX + 1];
    assert_int_equal(turn_read_secret("/nonexistent/turn-secret", out, sizeof out), -1);
    const char *p = temp_file("\n \n\t\n");
    assert_int_equal(turn_read_secret(p, out, sizeof out), -1);
    unlink(p);
    p = temp_file("0123456789\n");
    assert_int_equal(turn_read_secret(p, out, 8), -1); /* longer than the buffer */
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(username_is_expiry_colon_user),
        cmocka_unit_test(credential_matches_openssl_vector),
        cmocka_unit_test(credential_refuses_small_buffer),
        cmocka_unit_test(secret_is_first_nonblank_line_trimmed),
        cmocka_unit_test(secret_missing_or_blank_file_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_auth.c — REST credentials, long-term keys, nonces, and auth_check on whole requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth.h"
#include "stun.h"
#include "vectors.h"

#define NOW 1800000000
static const uint8_t nonce_key[32] = {42};
static addr_t client, other;

static int setup(void **state)
{
    auth_t *a = auth_new("staffroom", 600, nonce_key);
    assert_non_null(a);
    assert_int_equal(auth_add_secret(a, "s3cret"), 0);
    addr_parse("192.0.2.7", 5000, &client);
    addr_parse("192.0.2.8", 5000, &other);
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    auth_free(*state);
    return 0;
}

static void test_rest_password(void **s)
{
    (void)s;
    char pass[64];
    const char *u = "1700000000:alice";
    assert_int_equal(auth_rest_password("s3cret", (const uint8_t *)u, strlen(u), pass, sizeof pass), 0);
    /* base64(HMAC-SHA1("s3cret", "1700000000:alice")), computed independently with Python. */
    assert_string_equal(pass, "TtElzSjT0GdnTQ9xdcRNxx96yQs=");
    assert_int_equal(auth_rest_password("s3cret", (const uint8_t *)u, strlen(u), pass, 10), -1);
}

static void test_long_term_key_rfc5769(void **s)
{
    (void)s;
    uint8_t key[16];
    stun_msg_t m;
    auth_long_term_key((const uint8_t *)rfc5769_lt_user, strlen(rfc5769_lt_user),
                       (const uint8_t *)rfc5769_lt_realm, strlen(rfc5769_lt_realm),
                       (const uint8_t *)rfc5769_lt_pass_saslprep, strlen(rfc5769_lt_pass_saslprep), key);
    assert_int_equal(stun_parse(rfc5769_long_term, sizeof rfc5769_long_term, &m), 0);
    assert_int_equal(stun_check_integrity(&m, key, sizeof key), STUN_MI_SHA1);
}

static void test_rest_expiry(void **s)
{
    (void)s;
    int64_t e;
    assert_int_equal(auth_rest_expiry((const uint8_t *)"123:bob", 7, &e), 0);
    assert_int_equal(e, 123);
    assert_int_equal(auth_rest_expiry((const uint8_t *)"123", 3, &e), 0);
    assert_int_equal(auth_rest_expiry((const uint8_t *)":bob", 4, &e), -1);
    assert_int_equal(auth_rest_expiry((const uint8_t *)"bob:123", 7, &e), -1);
    assert_int_equal(auth_rest_expiry((const uint8_t *)"99999999999999999999:x", 22, &e), -1);
}

static void test_nonce(void **state)
{
    auth_t *a = *state;
    char n[AUTH_NONCE_LEN + 1];
    auth_nonce_make(a, NOW, &client, n);
    assert_int_equal(strlen(n), AUTH_NONCE_LEN);
    const uint8_t *p = (const uint8_t *)n;
    assert_int_equal(auth_nonce_check(a, p, AUTH_NONCE_LEN, NOW, &client), AUTH_OK);
    assert_int_equal(auth_nonce_check(a, p, AUTH_NONCE_LEN, NOW + 599, &client), AUTH_OK);
    assert_int_equal(auth_nonce_check(a, p, AUTH_NONCE_LEN, NOW + 600, &client), AUTH_STALE);
    /* Another client's nonce, a changed digit, a changed time, a wrong length: forged. */
    assert_int_equal(auth_nonce_check(a, p, AUTH_NONCE_LEN, NOW, &other), AUTH_BAD);
    char f[AUTH_NONCE_LEN + 1];
    memcpy(f, n, sizeof f);
    f[AUTH_NONCE_LEN - 1] = f[AUTH_NONCE_LEN - 1] == '0' ? '1' : '0';
    assert_int_equal(auth_nonce_check(a, (const uint8_t *)f, AUTH_NONCE_LEN, NOW, &client), AUTH_BAD);
    memcpy(f, n, sizeof f);
    f[15] = f[15] == '0' ? '1' : '0'; /* the issue time: trying to make an old nonce young */
    assert_int_equal(auth_nonce_check(a, (const uint8_t *)f, AUTH_NONCE_LEN, NOW, &client), AUTH_BAD);
    memcpy(f, n, sizeof f);
    f[3] = 'Z';
    assert_int_equal(auth_nonce_check(a, (const uint8_t *)f, AUTH_NONCE_LEN, NOW, &client), AUTH_BAD);
    assert_int_equal(auth_nonce_check(a, p, AUTH_NONCE_LEN - 1, NOW, &client), AUTH_BAD);
    /* A nonce from another server key (e.g. before a restart) is not ours. */
    auth_t *b = auth_new("staffroom", 600, NULL);
    assert_int_equal(auth_nonce_check(b, p, AUTH_NONCE_LEN, NOW, &client), AUTH_BAD);
    auth_free(b);
}

/* Builds an Allocate request signed for user with secret. */
static size_t request(uint8_t *buf, size_t cap, const char *user, const char *secret, const char *realm,
                      const char *nonce, stun_mi_kind_t kind)
{
    static const uint8_t tid[12] = {9, 9, 9};
    stun_builder_t b;
    char pass[64];
    uint8_t key[16];
    stun_build(&b, buf, cap, TURN_ALLOCATE, STUN_REQUEST, tid);
    stun_add_u32(&b, TURN_A_REQUESTED_TRANSPORT, 17u << 24);
    if (user)
        stun_add(&b, STUN_A_USERNAME, user, strlen(user));
    if (realm)
        stun_add(&b, STUN_A_REALM, realm, strlen(realm));
    if (nonce)
        stun_add(&b, STUN_A_NONCE, nonce, strlen(nonce));
    if (kind != STUN_MI_NONE) {
        auth_rest_password(secret, (const uint8_t *)user, strlen(user), pass, sizeof pass);
        auth_long_term_key((const uint8_t *)user, strlen(user), (const uint8_t *)"staffroom", 9,
                           (const uint8_t *)pass, strlen(pass), key);
        stun_add_integrity(&b, kind, key, sizeof key);
    }
    stun_add_fingerprint(&b);
    return (size_t)stun_finish(&b);
}

static int check(auth_t *a, const char *user, const char *secret, const char *realm, const char *nonce,
                 stun_mi_kind_t kind, int64_t now, stun_mi_kind_t *got)
{
    uint8_t buf[512], key[16];
    size_t n = request(buf, sizeof buf, user, secret, realm, nonce, kind);
    stun_msg_t m;
    assert_int_equal(stun_parse(buf, n, &m), 0);
    return auth_check(a, &m, now, &client, key, got);
}

static void test_check(void **state)
{
    auth_t *a = *state;
    char n[AUTH_NONCE_LEN + 1];
    char user[64];
    stun_mi_kind_t kind = STUN_MI_NONE;
    auth_nonce_make(a, NOW, &client, n);
    snprintf(user, sizeof user, "%d:alice", NOW + 3600);
    assert_int_equal(check(a, user, "s3cret", "staffroom", n, STUN_MI_SHA1, NOW, &kind), AUTH_OK);
    assert_int_equal(kind, STUN_MI_SHA1);
    assert_int_equal(check(a, user, "s3cret", "staffroom", n, STUN_MI_SHA256, NOW, &kind), AUTH_OK);
    assert_int_equal(kind, STUN_MI_SHA256);
    /* Wrong secret, wrong realm, no integrity, missing nonce. */
    assert_int_equal(check(a, user, "other", "staffroom", n, STUN_MI_SHA1, NOW, &kind), AUTH_BAD);
    assert_int_equal(check(a, user, "s3cret", "elsewhere", n, STUN_MI_SHA1, NOW, &kind), AUTH_BAD);
    assert_int_equal(check(a, NULL, NULL, NULL, NULL, STUN_MI_NONE, NOW, &kind), AUTH_NEED);
    assert_int_equal(check(a, user, "s3cret", "staffroom", NULL, STUN_MI_SHA1, NOW, &kind), AUTH_MALFORMED);
    assert_int_equal(check(a, user, "s3cret", NULL, n, STUN_MI_SHA1, NOW, &kind), AUTH_MALFORMED);
    /* A username that is no REST credential. */
    assert_int_equal(check(a, "alice", "s3cret", "staffroom", n, STUN_MI_SHA1, NOW, &kind), AUTH_BAD);
    /* Expired credential: refused even with a correct signature and a fresh nonce. */
    snprintf(user, sizeof user, "%d:alice", NOW - 1);
    assert_int_equal(check(a, user, "s3cret", "staffroom", n, STUN_MI_SHA1, NOW, &kind), AUTH_EXPIRED);
    /* Stale nonce (credential still valid) → 438; forged nonce → 438 too (§9.2.4 "no longer valid"). */
    snprintf(user, sizeof user, "%d:alice", NOW + 7200);
    assert_int_equal(check(a, user, "s3cret", "staffroom", n, STUN_MI_SHA1, NOW + 601, &kind), AUTH_STALE);
    assert_int_equal(check(a, user, "s3cret", "staffroom", "0000000000000000aaaaaaaaaaaaaaaa",
                           STUN_MI_SHA1, NOW, &kind), AUTH_STALE);
}

static void test_rotated_secrets(void **s)
{
    (void)s;
    auth_t *a = auth_new("staffroom", 600, nonce_key);
    char path[] = "/tmp/staffroom-auth-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "\n# current\n  new-secret  \n\nold-secret\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char err[256];
    assert_int_equal(auth_load_secrets(a, path, err, sizeof err), 2);
    assert_int_equal(auth_secret_count(a), 2);
    char n[AUTH_NONCE_LEN + 1], user[64];
    stun_mi_kind_t kind;
    auth_nonce_make(a, NOW, &client, n);
    snprintf(user, sizeof user, "%d:bob", NOW + 60);
    assert_int_equal(check(a, user, "new-secret", "staffroom", n, STUN_MI_SHA1, NOW, &kind), AUTH_OK);
    assert_int_equal(check(a, user, "old-secret", "staffroom", n, STUN_MI_SHA1, NOW, &kind), AUTH_OK);
    assert_int_equal(check(a, user, "retired", "staffroom", n, STUN_MI_SHA1, NOW, &kind), AUTH_BAD);
    /* A failed reload keeps the current set. */
    assert_int_equal(auth_load_secrets(a, "/nonexistent/secret", err, sizeof err), -1);
    assert_int_equal(auth_secret_count(a), 2);
    /* Rotation finished: the old secret removed from the file, the file reloaded (SIGHUP). */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(write(fd, "new-secret\n", 11), 11);
    close(fd);
    assert_int_equal(auth_load_secrets(a, path, err, sizeof err), 1);
    unlink(path);
    assert_int_equal(check(a, user, "new-secret", "staffroom", n, STUN_MI_SHA1, NOW, &kind), AUTH_OK);
    assert_int_equal(check(a, user, "old-secret", "staffroom", n, STUN_MI_SHA1, NOW, &kind), AUTH_BAD);
    auth_free(a);
    /* A file with no secret at all is an error. */
    a = auth_new("staffroom", 600, nonce_key);
    char path2[] = "/tmp/staffroom-auth-XXXXXX";
    fd = mkstemp(path2);
    assert_int_equal(write(fd, "\n#x\n", 4), 4);
    close(fd);
    assert_int_equal(auth_load_secrets(a, path2, err, sizeof err), -1);
    unlink(path2);
    auth_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest_password),
        cmocka_unit_test(test_long_term_key_rfc5769),
        cmocka_unit_test(test_rest_expiry),
        cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_rotated_secrets),
    };
    return cmocka_run_group_tests_name("auth", tests, setup, teardown);
}

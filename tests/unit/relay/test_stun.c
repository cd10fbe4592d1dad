/* test_stun.c — the STUN codec: RFC 5769 vectors, building, and the bounds of every attribute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth.h"
#include "stun.h"
#include "vectors.h"

static const uint8_t tid0[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void attr_is(const stun_msg_t *m, uint16_t type, const char *want)
{
    const stun_attr_t *a = stun_find(m, type);
    assert_non_null(a);
    assert_int_equal(a->len, strlen(want));
    assert_memory_equal(stun_attr_value(m, a), want, a->len);
}

static void test_rfc5769_request(void **s)
{
    (void)s;
    stun_msg_t m;
    assert_int_equal(stun_parse(rfc5769_request, sizeof rfc5769_request, &m), 0);
    assert_int_equal(m.method, STUN_BINDING);
    assert_int_equal(m.cls, STUN_REQUEST);
    assert_memory_equal(m.tid, rfc5769_request + 8, 12);
    assert_int_equal(m.nattrs, 6);
    assert_true(m.fp_index == 5 && m.mi_index == 4 && m.mi256_index == -1);
    attr_is(&m, STUN_A_SOFTWARE, "STUN test client");
    attr_is(&m, STUN_A_USERNAME, "evtj:h6vY");
    uint32_t prio;
    assert_int_equal(stun_get_u32(&m, STUN_A_PRIORITY, &prio), 0);
    assert_int_equal(prio, 0x6e0001ff);
    /* Short-term credential: the key is the password itself (RFC 8489 §9.1.1). */
    assert_int_equal(stun_check_integrity(&m, (const uint8_t *)rfc5769_short_pass,
                                          strlen(rfc5769_short_pass)), STUN_MI_SHA1);
    assert_int_equal(stun_check_integrity(&m, (const uint8_t *)"wrong", 5), STUN_ERR_INTEGRITY);
}

static void test_rfc5769_ipv4_response(void **s)
{
    (void)s;
    stun_msg_t m;
    addr_t a, want;
    assert_int_equal(stun_parse(rfc5769_ipv4_response, sizeof rfc5769_ipv4_response, &m), 0);
    assert_int_equal(m.method, STUN_BINDING);
    assert_int_equal(m.cls, STUN_SUCCESS);
    attr_is(&m, STUN_A_SOFTWARE, "test vector");
    assert_int_equal(stun_get_xor_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &a), 0);
    addr_parse("192.0.2.1", 32853, &want);
    assert_true(addr_eq(&a, &want));
    assert_int_equal(stun_check_integrity(&m, (const uint8_t *)rfc5769_short_pass,
                                          strlen(rfc5769_short_pass)), STUN_MI_SHA1);
}

static void test_rfc5769_ipv6_response(void **s)
{
    (void)s;
    stun_msg_t m;
    addr_t a, want;
    assert_int_equal(stun_parse(rfc5769_ipv6_response, sizeof rfc5769_ipv6_response, &m), 0);
    assert_int_equal(m.cls, STUN_SUCCESS);
    assert_int_equal(stun_get_xor_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &a), 0);
    addr_parse("2001:db8:1234:5678:11:2233:4455:6677", 32853, &want);
    assert_true(addr_eq(&a, &want));
    assert_int_equal(stun_check_integrity(&m, (const uint8_t *)rfc5769_short_pass,
                                          strlen(rfc5769_short_pass)), STUN_MI_SHA1);
}

static void test_rfc5769_long_term(void **s)
{
    (void)s;
    stun_msg_t m;
    uint8_t key[16];
    assert_int_equal(stun_parse(rfc5769_long_term, sizeof rfc5769_long_term, &m), 0);
    assert_int_equal(m.fp_index, -1);
    attr_is(&m, STUN_A_USERNAME, rfc5769_lt_user);
    attr_is(&m, STUN_A_NONCE, "f//499k954d6OL34oL9FSTvy64sA");
    attr_is(&m, STUN_A_REALM, rfc5769_lt_realm);
    auth_long_term_key((const uint8_t *)rfc5769_lt_user, strlen(rfc5769_lt_user),
                       (const uint8_t *)rfc5769_lt_realm, strlen(rfc5769_lt_realm),
                       (const uint8_t *)rfc5769_lt_pass_saslprep, strlen(rfc5769_lt_pass_saslprep), key);
    assert_int_equal(stun_check_integrity(&m, key, 16), STUN_MI_SHA1);
    key[0] ^= 1;
    assert_int_equal(stun_check_integrity(&m, key, 16), STUN_ERR_INTEGRITY);
}

/* Every vector with one bit flipped anywhere: parse fails (fingerprint) or integrity fails. */
static void test_rfc5769_bitflips(void **s)
{
    (void)s;
    uint8_t buf[108];
    for (size_t i = 0; i < sizeof buf; i++) {
        memcpy(buf, rfc5769_request, sizeof buf);
        buf[i] ^= 0x10;
        stun_msg_t m;
        int rc = stun_parse(buf, sizeof buf, &m);
        if (rc == 0)
            assert_int_equal(stun_check_integrity(&m, (const uint8_t *)rfc5769_short_pass,
                                                  strlen(rfc5769_short_pass)), STUN_ERR_INTEGRITY);
    }
}

static void test_truncated_vectors(void **s)
{
    (void)s;
    const uint8_t *v[] = {rfc5769_request, rfc5769_ipv4_response, rfc5769_ipv6_response, rfc5769_long_term};
    size_t n[] = {sizeof rfc5769_request, sizeof rfc5769_ipv4_response, sizeof rfc5769_ipv6_response,
                  sizeof rfc5769_long_term};
    for (int k = 0; k < 4; k++)
        for (size_t len = 0; len < n[k]; len++) {
            uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan catches any over-read */
            memcpy(copy, v[k], len);
            stun_msg_t m;
            assert_true(stun_parse(copy, len, &m) < 0);
            free(copy);
        }
}

static void test_build_roundtrip_sha1_sha256(void **s)
{
    (void)s;
    uint8_t buf[512];
    const uint8_t key[] = "0123456789abcdef";
    addr_t a;
    addr_parse("2001:db8::1", 4242, &a);
    for (int kind = STUN_MI_SHA1; kind <= STUN_MI_SHA256; kind++) {
        stun_builder_t b;
        stun_build(&b, buf, sizeof buf, TURN_ALLOCATE, STUN_SUCCESS, tid0);
        stun_add_xor_addr(&b, TURN_A_XOR_RELAYED_ADDRESS, &a);
        stun_add_u32(&b, TURN_A_LIFETIME, 600);
        stun_add(&b, STUN_A_SOFTWARE, "abcde", 5);
        stun_add_integrity(&b, (stun_mi_kind_t)kind, key, 16);
        stun_add_fingerprint(&b);
        long n = stun_finish(&b);
        assert_true(n > 0);
        stun_msg_t m;
        assert_int_equal(stun_parse(buf, (size_t)n, &m), 0);
        assert_int_equal(m.method, TURN_ALLOCATE);
        assert_int_equal(m.cls, STUN_SUCCESS);
        assert_memory_equal(m.tid, tid0, 12);
        addr_t got;
        assert_int_equal(stun_get_xor_addr(&m, TURN_A_XOR_RELAYED_ADDRESS, &got), 0);
        assert_true(addr_eq(&got, &a));
        assert_int_equal(stun_check_integrity(&m, key, 16), kind);
        assert_int_equal(stun_check_integrity(&m, (const uint8_t *)"xxxxxxxxxxxxxxxx", 16),
                         STUN_ERR_INTEGRITY);
    }
}

static void test_build_error_and_overflow(void **s)
{
    (void)s;
    uint8_t buf[64];
    stun_builder_t b;
    stun_build(&b, buf, sizeof buf, TURN_REFRESH, STUN_ERROR, tid0);
    stun_add_error(&b, 438);
    long n = stun_finish(&b);
    assert_true(n > 0);
    stun_msg_t m;
    int code;
    assert_int_equal(stun_parse(buf, (size_t)n, &m), 0);
    assert_int_equal(stun_get_error(&m, &code), 0);
    assert_int_equal(code, 438);
    assert_int_equal(m.cls, STUN_ERROR);
    assert_int_equal(m.method, TURN_REFRESH);
    /* Overflow is sticky. */
    uint8_t big[100] = {0};
    stun_add(&b, TURN_A_DATA, big, sizeof big);
    stun_add_u32(&b, TURN_A_LIFETIME, 1);
    assert_int_equal(stun_finish(&b), STUN_ERR_NOSPACE);
    stun_build(&b, buf, 10, STUN_BINDING, STUN_REQUEST, tid0);
    assert_int_equal(stun_finish(&b), STUN_ERR_NOSPACE);
}

/* A raw message: header + given attribute bytes; the length field = n (or forced). */
static size_t raw(uint8_t *buf, const uint8_t *attrs, size_t n, int force_len)
{
    buf[0] = 0x00; buf[1] = 0x01;
    size_t l = force_len >= 0 ? (size_t)force_len : n;
    buf[2] = (uint8_t)(l >> 8); buf[3] = (uint8_t)l;
    buf[4] = 0x21; buf[5] = 0x12; buf[6] = 0xa4; buf[7] = 0x42;
    memcpy(buf + 8, tid0, 12);
    if (n)
        memcpy(buf + 20, attrs, n);
    return 20 + n;
}

static int parse_raw(const uint8_t *attrs, size_t n, int force_len)
{
    uint8_t *buf = malloc(20 + n);
    size_t len = raw(buf, attrs, n, force_len);
    stun_msg_t m;
    int rc = stun_parse(buf, len, &m);
    free(buf);
    return rc;
}

static void test_header_bounds(void **s)
{
    (void)s;
    uint8_t buf[40];
    stun_msg_t m;
    raw(buf, NULL, 0, -1);
    assert_int_equal(stun_parse(buf, 20, &m), 0);
    assert_int_equal(stun_parse(buf, 19, &m), STUN_ERR_SHORT);
    assert_int_equal(stun_parse(buf, 0, &m), STUN_ERR_SHORT);
    buf[4] = 0x21 ^ 1; /* wrong magic cookie */
    assert_int_equal(stun_parse(buf, 20, &m), STUN_ERR_NOT_STUN);
    raw(buf, NULL, 0, -1);
    buf[0] = 0x80; /* top bits set */
    assert_int_equal(stun_parse(buf, 20, &m), STUN_ERR_NOT_STUN);
    buf[0] = 0x40; /* ChannelData-looking */
    assert_int_equal(stun_parse(buf, 20, &m), STUN_ERR_NOT_STUN);
    /* Length field says more than we have / less than we have / not a multiple of 4. */
    raw(buf, NULL, 0, 8);
    assert_int_equal(stun_parse(buf, 20, &m), STUN_ERR_SHORT);
    raw(buf, (const uint8_t *)"\x80\x22\x00\x00", 4, 0);
    assert_int_equal(stun_parse(buf, 24, &m), STUN_ERR_LENGTH);
    raw(buf, (const uint8_t *)"\x80\x22\x00\x01\x41\x00", 6, 6);
    assert_int_equal(stun_parse(buf, 26, &m), STUN_ERR_LENGTH);
}

static void test_oversized(void **s)
{
    (void)s;
    size_t n = 65516; /* 20 + 65516 = 65536 > STUN_MAX_MSG */
    uint8_t *attrs = calloc(1, n);
    attrs[0] = 0x80; attrs[1] = 0x22; /* SOFTWARE */
    attrs[2] = (uint8_t)((n - 4) >> 8); attrs[3] = (uint8_t)(n - 4);
    assert_int_equal(parse_raw(attrs, n, -1), STUN_ERR_LENGTH);
    free(attrs);
    n = STUN_MAX_MSG - 20 - 3; /* largest multiple of 4 that fits: accepted */
    n &= ~(size_t)3;
    attrs = calloc(1, n);
    attrs[0] = 0x80; attrs[1] = 0x22;
    attrs[2] = (uint8_t)((n - 4) >> 8); attrs[3] = (uint8_t)(n - 4);
    assert_int_equal(parse_raw(attrs, n, -1), 0);
    free(attrs);
}

static void test_attribute_bounds(void **s)
{
    (void)s;
    /* Attribute header cut short. */
    assert_int_equal(parse_raw((const uint8_t *)"\x80\x22\x00\x00\x00\x06\x00\x00", 8, -1), 0);
    assert_int_equal(parse_raw((const uint8_t *)"\x80\x22", 2, -1), STUN_ERR_LENGTH);
    /* Value runs past the end. */
    assert_int_equal(parse_raw((const uint8_t *)"\x00\x06\x00\x08" "abcd", 8, -1), STUN_ERR_ATTR);
    assert_int_equal(parse_raw((const uint8_t *)"\x00\x06\xff\xff" "abcd", 8, -1), STUN_ERR_ATTR);
    /* Bad padding: a 5-byte value not padded to 8 (the message length is then not a multiple of 4). */
    assert_int_equal(parse_raw((const uint8_t *)"\x00\x06\x00\x05" "abcde", 9, -1), STUN_ERR_LENGTH);
    /* Padding present: fine, whatever the padding bytes hold (RFC 5769 pads with spaces). */
    assert_int_equal(parse_raw((const uint8_t *)"\x00\x06\x00\x05" "abcdeXYZ", 12, -1), 0);
    /* Fixed-size attributes with the wrong size. */
    uint8_t mi[4 + 16] = {0x00, 0x08, 0x00, 16};
    assert_int_equal(parse_raw(mi, sizeof mi, -1), STUN_ERR_ATTR);
    uint8_t fp[4 + 8] = {0x80, 0x28, 0x00, 8};
    assert_int_equal(parse_raw(fp, sizeof fp, -1), STUN_ERR_ATTR);
    uint8_t mi256[4 + 12] = {0x00, 0x1c, 0x00, 12};
    assert_int_equal(parse_raw(mi256, sizeof mi256, -1), STUN_ERR_ATTR);
    uint8_t mi256b[4 + 36] = {0x00, 0x1c, 0x00, 36};
    assert_int_equal(parse_raw(mi256b, sizeof mi256b, -1), STUN_ERR_ATTR);
}

static void test_duplicates_and_count(void **s)
{
    (void)s;
    assert_int_equal(parse_raw((const uint8_t *)"\x00\x06\x00\x01" "a\0\0\0" "\x00\x06\x00\x01" "b\0\0\0", 16, -1),
                     STUN_ERR_DUP);
    /* XOR-PEER-ADDRESS may repeat (CreatePermission with several peers). */
    uint8_t two[24] = {0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x12, 0x34, 1, 2, 3, 4,
                       0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x12, 0x35, 1, 2, 3, 5};
    assert_int_equal(parse_raw(two, sizeof two, -1), 0);
    uint8_t many[(STUN_MAX_ATTRS + 1) * 4];
    for (int i = 0; i <= STUN_MAX_ATTRS; i++) {
        many[4 * i] = 0x80;
        many[4 * i + 1] = (uint8_t)(0x40 + i);
        many[4 * i + 2] = many[4 * i + 3] = 0;
    }
    assert_int_equal(parse_raw(many, sizeof many, -1), STUN_ERR_TOO_MANY);
    assert_int_equal(parse_raw(many, sizeof many - 4, -1), 0);
}

/* Builds a message with MI (and more) through the builder, then appends raw attributes after. */
static void test_integrity_ordering(void **s)
{
    (void)s;
    uint8_t buf[256];
    const uint8_t key[16] = {0};
    stun_msg_t m;
    stun_builder_t b;
    /* USERNAME after MESSAGE-INTEGRITY: rejected. */
    stun_build(&b, buf, sizeof buf, TURN_ALLOCATE, STUN_REQUEST, tid0);
    stun_add_integrity(&b, STUN_MI_SHA1, key, 16);
    stun_add(&b, STUN_A_USERNAME, "u", 1);
    assert_int_equal(stun_parse(buf, (size_t)stun_finish(&b), &m), STUN_ERR_ORDER);
    /* MI, MI-SHA256, FINGERPRINT: accepted; the SHA-256 one is checked. */
    stun_build(&b, buf, sizeof buf, TURN_ALLOCATE, STUN_REQUEST, tid0);
    stun_add(&b, STUN_A_USERNAME, "u", 1);
    stun_add_integrity(&b, STUN_MI_SHA1, key, 16);
    stun_add_integrity(&b, STUN_MI_SHA256, key, 16);
    stun_add_fingerprint(&b);
    assert_int_equal(stun_parse(buf, (size_t)stun_finish(&b), &m), 0);
    assert_int_equal(stun_check_integrity(&m, key, 16), STUN_MI_SHA256);
    /* MI after MI-SHA256: rejected. */
    stun_build(&b, buf, sizeof buf, TURN_ALLOCATE, STUN_REQUEST, tid0);
    stun_add_integrity(&b, STUN_MI_SHA256, key, 16);
    stun_add_integrity(&b, STUN_MI_SHA1, key, 16);
    assert_int_equal(stun_parse(buf, (size_t)stun_finish(&b), &m), STUN_ERR_ORDER);
    /* Anything after FINGERPRINT: rejected. */
    stun_build(&b, buf, sizeof buf, STUN_BINDING, STUN_REQUEST, tid0);
    stun_add_fingerprint(&b);
    stun_add(&b, STUN_A_SOFTWARE, "x", 1);
    assert_int_equal(stun_parse(buf, (size_t)stun_finish(&b), &m), STUN_ERR_ORDER);
    /* A wrong FINGERPRINT value. */
    stun_build(&b, buf, sizeof buf, STUN_BINDING, STUN_REQUEST, tid0);
    stun_add_fingerprint(&b);
    long n = stun_finish(&b);
    buf[n - 1] ^= 1;
    assert_int_equal(stun_parse(buf, (size_t)n, &m), STUN_ERR_FINGERPRINT);
    /* No integrity at all. */
    stun_build(&b, buf, sizeof buf, STUN_BINDING, STUN_REQUEST, tid0);
    assert_int_equal(stun_parse(buf, (size_t)stun_finish(&b), &m), 0);
    assert_int_equal(stun_check_integrity(&m, key, 16), STUN_ERR_INTEGRITY);
}

static void test_xor_address_bounds(void **s)
{
    (void)s;
    struct { uint8_t fam; uint16_t len; int ok; } cases[] = {
        {1, 8, 1}, {2, 20, 1}, {1, 20, 0}, {2, 8, 0}, {3, 8, 0}, {0, 8, 0}, {1, 4, 0}, {1, 12, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t attrs[4 + 20] = {0x00, 0x20, 0x00, (uint8_t)cases[i].len, 0, cases[i].fam, 0x11, 0x22};
        uint8_t buf[64];
        size_t len = raw(buf, attrs, 4 + ((cases[i].len + 3u) & ~3u), -1);
        stun_msg_t m;
        addr_t a;
        assert_int_equal(stun_parse(buf, len, &m), 0);
        int rc = stun_get_xor_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &a);
        assert_int_equal(rc, cases[i].ok ? 0 : STUN_ERR_VALUE);
    }
    uint8_t attrs[8] = {0x00, 0x20, 0x00, 0x02, 0, 1, 0, 0}; /* 2 bytes: too short for anything */
    uint8_t buf[64];
    stun_msg_t m;
    addr_t a;
    size_t len = raw(buf, attrs, 8, -1);
    assert_int_equal(stun_parse(buf, len, &m), 0);
    assert_int_equal(stun_get_xor_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &a), STUN_ERR_VALUE);
    assert_int_equal(stun_get_xor_addr(&m, TURN_A_XOR_PEER_ADDRESS, &a), STUN_ERR_MISSING);
    uint32_t v;
    assert_int_equal(stun_get_u32(&m, STUN_A_XOR_MAPPED_ADDRESS, &v), STUN_ERR_VALUE);
    int code;
    assert_int_equal(stun_get_error(&m, &code), STUN_ERR_MISSING);
}

static void test_error_code_bounds(void **s)
{
    (void)s;
    uint8_t bad[8] = {0x00, 0x09, 0x00, 0x04, 0, 0, 7, 0}; /* class 7 */
    uint8_t buf[64];
    stun_msg_t m;
    int code;
    size_t len = raw(buf, bad, 8, -1);
    assert_int_equal(stun_parse(buf, len, &m), 0);
    assert_int_equal(stun_get_error(&m, &code), STUN_ERR_VALUE);
    bad[6] = 4; bad[7] = 100; /* number > 99 */
    len = raw(buf, bad, 8, -1);
    assert_int_equal(stun_parse(buf, len, &m), 0);
    assert_int_equal(stun_get_error(&m, &code), STUN_ERR_VALUE);
}

static void test_frame_len_and_channel(void **s)
{
    (void)s;
    uint8_t b[8] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42};
    assert_int_equal(stun_frame_len(b, 3), 0);
    assert_int_equal(stun_frame_len(b, 8), 28);
    b[4] = 0;
    assert_int_equal(stun_frame_len(b, 8), -1);
    uint8_t c[6] = {0x40, 0x00, 0x00, 0x05, 'a', 'b'};
    assert_int_equal(stun_frame_len(c, 4), 12); /* 4 + 5 padded to 8 */
    c[0] = 0xc0;
    assert_int_equal(stun_frame_len(c, 4), -1);
    uint16_t num;
    const uint8_t *d;
    size_t dl;
    uint8_t ch[8] = {0x40, 0x01, 0x00, 0x03, 'x', 'y', 'z', 0};
    assert_int_equal(stun_channel_parse(ch, 8, &num, &d, &dl), 0); /* padding allowed */
    assert_int_equal(num, 0x4001);
    assert_int_equal(dl, 3);
    assert_int_equal(stun_channel_parse(ch, 6, &num, &d, &dl), -1); /* length past the end */
    assert_int_equal(stun_channel_parse(ch, 3, &num, &d, &dl), -1);
    ch[0] = 0x3f;
    assert_int_equal(stun_channel_parse(ch, 8, &num, &d, &dl), -1);
    ch[0] = 0x80;
    assert_int_equal(stun_channel_parse(ch, 8, &num, &d, &dl), -1);
    ch[0] = 0x7f; ch[1] = 0xff;
    assert_int_equal(stun_channel_parse(ch, 8, &num, &d, &dl), 0);
}

static void test_crc32(void **s)
{
    (void)s;
    assert_int_equal(stun_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u); /* the check value */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5769_request),
        cmocka_unit_test(test_rfc5769_ipv4_response),
        cmocka_unit_test(test_rfc5769_ipv6_response),
        cmocka_unit_test(test_rfc5769_long_term),
        cmocka_unit_test(test_rfc5769_bitflips),
        cmocka_unit_test(test_truncated_vectors),
        cmocka_unit_test(test_build_roundtrip_sha1_sha256),
        cmocka_unit_test(test_build_error_and_overflow),
        cmocka_unit_test(test_header_bounds),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_attribute_bounds),
        cmocka_unit_test(test_duplicates_and_count),
        cmocka_unit_test(test_integrity_ordering),
        cmocka_unit_test(test_xor_address_bounds),
        cmocka_unit_test(test_error_code_bounds),
        cmocka_unit_test(test_frame_len_and_channel),
        cmocka_unit_test(test_crc32),
    };
    return cmocka_run_group_tests_name("stun", tests, NULL, NULL);
}

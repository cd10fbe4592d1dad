/* test_srtp.c — srtp.h against a second participant's sessions keyed the other way round (as the two
 * ends of one DTLS handshake are): RTP of many SSRCs (more than a subscriber in a room of 25 gets),
 * interleaved, decrypts; a resent packet (same seq) is protected again and the receiver's replay check
 * drops it; RTCP goes through; a tampered packet fails; both profiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "srtp.h"

static int setup(void **st)
{
    (void)st;
    return sfu_srtp_init();
}

static int teardown(void **st)
{
    (void)st;
    sfu_srtp_deinit();
    return 0;
}

/* Sender and receiver sessions of one handshake: the receiver's remote key is the sender's local one. */
static void pair(dtls_srtp_profile_t profile, sfu_srtp_t **tx, sfu_srtp_t **rx)
{
    dtls_srtp_keys_t a = {.profile = profile, .len = profile == DTLS_SRTP_AEAD_AES_128_GCM ? 28 : 30};
    for (size_t i = 0; i < sizeof a.local; i++) {
        a.local[i] = (uint8_t)(i * 7 + 1);
        a.remote[i] = (uint8_t)(i * 13 + 5);
    }
    dtls_srtp_keys_t b = a;
    memcpy(b.local, a.remote, sizeof b.local);
    memcpy(b.remote, a.local, sizeof b.remote);
    *tx = sfu_srtp_new(&a);
    *rx = sfu_srtp_new(&b);
    assert_non_null(*tx);
    assert_non_null(*rx);
}

static size_t rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq, size_t payload)
{
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    memset(buf + 4, 0, 4);
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    for (size_t i = 0; i < payload; i++)
        buf[12 + i] = (uint8_t)(seq + ssrc + i);
    return 12 + payload;
}

static void many_ssrcs(dtls_srtp_profile_t profile)
{
    sfu_srtp_t *tx, *rx;
    pair(profile, &tx, &rx);
    enum { NSSRC = 200, ROUNDS = 5 };
    for (uint16_t seq = 0; seq < ROUNDS; seq++)
        for (uint32_t k = 0; k < NSSRC; k++) {
            uint8_t buf[1200 + SFU_SRTP_TRAILER], plain[1200];
            size_t len = rtp(buf, 1000 + k * 17, (uint16_t)(seq + 100), 100 + k);
            memcpy(plain, buf, len);
            size_t n = len;
            assert_int_equal(sfu_srtp_protect_rtp(tx, buf, &n), 0);
            assert_true(n > len);
            assert_memory_not_equal(buf + 12, plain + 12, len - 12); /* encrypted */
            assert_int_equal(sfu_srtp_unprotect_rtp(rx, buf, &n), 0);
            assert_int_equal(n, len);
            assert_memory_equal(buf, plain, len);
        }
    sfu_srtp_free(tx);
    sfu_srtp_free(rx);
}

static void test_many_ssrcs_gcm(void **st)
{
    (void)st;
    many_ssrcs(DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_many_ssrcs_cm(void **st)
{
    (void)st;
    many_ssrcs(DTLS_SRTP_AES128_CM_SHA1_80);
}

static void test_resend_tamper_rtcp(void **st)
{
    (void)st;
    sfu_srtp_t *tx, *rx;
    pair(DTLS_SRTP_AEAD_AES_128_GCM, &tx, &rx);
    uint8_t buf[300 + SFU_SRTP_TRAILER], plain[300];
    size_t len = rtp(plain, 42, 7, 200);
    /* First send, then a retransmission of the same packet (a NACK answered without RTX). */
    for (int i = 0; i < 2; i++) {
        memcpy(buf, plain, len);
        size_t n = len;
        assert_int_equal(sfu_srtp_protect_rtp(tx, buf, &n), 0);
        assert_int_equal(sfu_srtp_unprotect_rtp(rx, buf, &n), i == 0 ? 0 : -1); /* the receiver's replay check */
    }
    /* Tampered: fails authentication. */
    memcpy(buf, plain, len);
    buf[3] = 8;
    size_t n = len;
    assert_int_equal(sfu_srtp_protect_rtp(tx, buf, &n), 0);
    buf[20] ^= 1;
    assert_int_equal(sfu_srtp_unprotect_rtp(rx, buf, &n), -1);
    /* RTCP (a receiver report with no blocks) from the sender SSRC of a media stream. */
    uint8_t rr[8 + SFU_SRTP_TRAILER] = {0x80, 201, 0, 1, 0, 0, 0, 42};
    n = 8;
    assert_int_equal(sfu_srtp_protect_rtcp(tx, rr, &n), 0);
    assert_int_equal(sfu_srtp_unprotect_rtcp(rx, rr, &n), 0);
    assert_int_equal(n, 8);
    assert_int_equal(rr[1], 201);
    sfu_srtp_free(tx);
    sfu_srtp_free(rx);
    sfu_srtp_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_ssrcs_gcm),
        cmocka_unit_test(test_many_ssrcs_cm),
        cmocka_unit_test(test_resend_tamper_rtcp),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

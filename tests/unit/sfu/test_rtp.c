/* test_rtp.c — the RTP view: a Chromium-shaped VP8 packet and Opus packet, both extension forms, CSRCs,
 * padding, every truncation, malformed extensions, in-place setters, demultiplexing, seq extension. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rtp.h"

/* VP8 as Chromium sends it: PT 96, one-byte extensions (abs-send-time id 2, transport-wide-cc id 3,
 * sdes:mid id 4 = "0", then a padding byte), a VP8 payload descriptor and payload. */
static const uint8_t chrome_vp8[] = {
    0x90, 0xe0, 0x12, 0x34,             /* V=2 X=1, M=1 PT=96, seq 0x1234 */
    0x00, 0x01, 0x5f, 0x90,             /* ts 90000 */
    0xde, 0xad, 0xbe, 0xef,             /* ssrc */
    0xbe, 0xde, 0x00, 0x03,             /* one-byte form, 3 words */
    0x22, 0x12, 0x34, 0x56,             /* id 2 len 3: abs-send-time */
    0x31, 0x00, 0x07,                   /* id 3 len 2: transport seq 7 */
    0x40, 0x30,                         /* id 4 len 1: mid "0" */
    0x00, 0x00, 0x00,                   /* padding to the word */
    0x90, 0x80, 0x81, 0x23,             /* VP8 descriptor: X S, I, 15-bit PictureID 0x0123 */
    0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, /* VP8 payload header (keyframe) … */
};

/* Opus with ssrc-audio-level (id 1, V=1 level 30) and padding of 4 bytes. */
static const uint8_t chrome_opus[] = {
    0xb0, 0x6f, 0xff, 0xff, /* V=2 P=1 X=1, PT=111, seq 65535 */
    0xff, 0xff, 0xff, 0xf0, /* ts near the wrap */
    0x01, 0x02, 0x03, 0x04, /* ssrc */
    0xbe, 0xde, 0x00, 0x01, /* one word */
    0x10, 0x9e, 0x00, 0x00, /* id 1 len 1: V=1 level 30; padding */
    0xfc, 0xff, 0xfe,       /* Opus TOC + 2 bytes */
    0x00, 0x00, 0x00, 0x04, /* RTP padding, count 4 */
};

static uint8_t *dup(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    memcpy(d, p, n);
    return d;
}

static void test_chrome_vp8(void **st)
{
    (void)st;
    rtp_view_t v;
    assert_int_equal(rtp_parse(chrome_vp8, sizeof chrome_vp8, &v), 0);
    assert_int_equal(v.pt, 96);
    assert_true(v.marker);
    assert_int_equal(v.seq, 0x1234);
    assert_int_equal(v.ts, 90000);
    assert_int_equal(v.ssrc, 0xdeadbeef);
    assert_int_equal(v.csrc_count, 0);
    assert_int_equal(v.ext_profile, 0xbede);
    assert_int_equal(v.ext_off, 16);
    assert_int_equal(v.ext_len, 12);
    assert_int_equal(v.payload_off, 28);
    assert_int_equal(v.payload_len, sizeof chrome_vp8 - 28);
    assert_int_equal(v.padding_len, 0);
    const uint8_t *val;
    size_t len;
    assert_int_equal(rtp_find_ext(&v, 2, &val, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(val, "\x12\x34\x56", 3);
    assert_int_equal(rtp_find_ext(&v, 3, &val, &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(val[1], 7);
    assert_int_equal(rtp_find_ext(&v, 4, &val, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(val[0], '0');
    assert_int_equal(rtp_find_ext(&v, 5, &val, &len), RTP_ERR_NOT_FOUND);
    assert_int_equal(rtp_find_ext(&v, 15, &val, &len), RTP_ERR_ARG);
    assert_int_equal(rtp_find_ext(&v, 0, &val, &len), RTP_ERR_ARG);
    /* Iteration sees the three elements in order, not the padding. */
    size_t pos = 0, n = 0;
    uint8_t id, ids[4];
    while (rtp_ext_next(&v, &pos, &id, &val, &len) == 1 && n < 4)
        ids[n++] = id;
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 4);
}

static void test_chrome_opus_padding_and_level(void **st)
{
    (void)st;
    rtp_view_t v;
    assert_int_equal(rtp_parse(chrome_opus, sizeof chrome_opus, &v), 0);
    assert_int_equal(v.pt, 111);
    assert_false(v.marker);
    assert_int_equal(v.seq, 65535);
    assert_int_equal(v.padding_len, 4);
    assert_int_equal(v.payload_off, 20);
    assert_int_equal(v.payload_len, 3);
    const uint8_t *val;
    size_t len;
    assert_int_equal(rtp_find_ext(&v, 1, &val, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(val[0] & 0x80, 0x80); /* V */
    assert_int_equal(val[0] & 0x7f, 30);
}

static void test_two_byte_form(void **st)
{
    (void)st;
    static const uint8_t pkt[] = {
        0x90, 0x60, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 2,
        0x10, 0x00, 0x00, 0x03, /* two-byte form, appbits 0, 3 words */
        0x05, 0x00,             /* id 5, empty value (allowed in this form) */
        0x00,                   /* padding */
        0x20, 0x04, 'a', 'b', 'c', 'd', /* id 32 len 4 */
        0x07, 0x01, 0x99,       /* id 7 len 1 */
        0xaa,                   /* payload */
    };
    rtp_view_t v;
    assert_int_equal(rtp_parse(pkt, sizeof pkt, &v), 0);
    assert_int_equal(v.ext_profile, 0x1000);
    assert_int_equal(v.payload_len, 1);
    const uint8_t *val;
    size_t len;
    assert_int_equal(rtp_find_ext(&v, 5, &val, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(rtp_find_ext(&v, 32, &val, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(val, "abcd", 4);
    assert_int_equal(rtp_find_ext(&v, 7, &val, &len), 0);
    assert_int_equal(val[0], 0x99);
    /* Setting a value in place: same length only. */
    uint8_t *w = dup(pkt, sizeof pkt);
    assert_int_equal(rtp_parse(w, sizeof pkt, &v), 0);
    assert_int_equal(rtp_set_ext(w, &v, 32, (const uint8_t *)"wxyz", 4), 0);
    assert_int_equal(rtp_set_ext(w, &v, 32, (const uint8_t *)"xyz", 3), RTP_ERR_LENGTH);
    assert_int_equal(rtp_set_ext(w, &v, 9, (const uint8_t *)"x", 1), RTP_ERR_NOT_FOUND);
    assert_int_equal(rtp_find_ext(&v, 32, &val, &len), 0);
    assert_memory_equal(val, "wxyz", 4);
    assert_int_equal(w[sizeof pkt - 1], 0xaa);
    free(w);
}

static void test_csrc_list(void **st)
{
    (void)st;
    static const uint8_t pkt[] = {0x82, 0x00, 0, 5, 0, 0, 0, 9, 0, 0, 0, 1,
                                  0, 0, 0, 0xa, 0, 0, 0, 0xb, 0x55};
    rtp_view_t v;
    assert_int_equal(rtp_parse(pkt, sizeof pkt, &v), 0);
    assert_int_equal(v.csrc_count, 2);
    assert_int_equal(v.payload_off, 20);
    assert_int_equal(v.payload_len, 1);
    assert_int_equal(rtp_parse(pkt, 19, &v), RTP_ERR_SHORT);
    assert_int_equal(rtp_parse(pkt, 20, &v), 0); /* empty payload */
}

static void test_malformed(void **st)
{
    (void)st;
    rtp_view_t v;
    uint8_t p[32];
    memcpy(p, chrome_vp8, sizeof p);
    p[0] = 0x50; /* version 1 */
    assert_int_equal(rtp_parse(p, sizeof p, &v), RTP_ERR_VERSION);
    /* Padding count 0, and a count that eats into the header. */
    static const uint8_t pad0[] = {0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0};
    assert_int_equal(rtp_parse(pad0, sizeof pad0, &v), RTP_ERR_PADDING);
    static const uint8_t padbig[] = {0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4};
    assert_int_equal(rtp_parse(padbig, sizeof padbig, &v), RTP_ERR_PADDING);
    static const uint8_t padall[] = {0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
    assert_int_equal(rtp_parse(padall, sizeof padall, &v), 0); /* padding-only probe */
    assert_int_equal(v.payload_len, 0);
    /* An element that runs past its block (id 1 len 4 in a 1-word block). */
    static const uint8_t over[] = {0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                                   0xbe, 0xde, 0, 1, 0x13, 1, 2, 3, 9};
    assert_int_equal(rtp_parse(over, sizeof over, &v), RTP_ERR_EXT);
    /* Two-byte form: a lone id byte at the end of the block. */
    static const uint8_t lone[] = {0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                                   0x10, 0x00, 0, 1, 0, 0, 0, 0x05};
    assert_int_equal(rtp_parse(lone, sizeof lone, &v), RTP_ERR_EXT);
    /* One-byte form: id 15 stops parsing, what follows is not looked at. */
    static const uint8_t stop[] = {0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                                   0xbe, 0xde, 0, 1, 0x10, 0x33, 0xf0, 0xff};
    assert_int_equal(rtp_parse(stop, sizeof stop, &v), 0);
    const uint8_t *val;
    size_t len;
    assert_int_equal(rtp_find_ext(&v, 1, &val, &len), 0);
    assert_int_equal(val[0], 0x33);
    /* One-byte form: a byte with id 0 is padding whatever its length nibble says. */
    static const uint8_t id0[] = {0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                                  0xbe, 0xde, 0, 1, 0x05, 0x20, 0x44, 0x00};
    assert_int_equal(rtp_parse(id0, sizeof id0, &v), 0);
    assert_int_equal(rtp_find_ext(&v, 2, &val, &len), 0);
    assert_int_equal(val[0], 0x44);
    /* An extension of another profile is exposed raw and has no elements. */
    static const uint8_t other[] = {0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                                    0x12, 0x34, 0, 1, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(rtp_parse(other, sizeof other, &v), 0);
    assert_int_equal(rtp_find_ext(&v, 1, &val, &len), RTP_ERR_NOT_FOUND);
    /* Extension length past the packet. */
    static const uint8_t extlong[] = {0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 9, 0, 0};
    assert_int_equal(rtp_parse(extlong, sizeof extlong, &v), RTP_ERR_SHORT);
}

/* Every prefix of a valid packet is either rejected or parsed within its bounds (ASan checks the
 * reads: each prefix is an exactly sized heap copy). Prefixes that cut the header or extension fail. */
static void truncations(const uint8_t *pkt, size_t n, size_t header_end)
{
    for (size_t l = 0; l < n; l++) {
        uint8_t *c = dup(pkt, l);
        rtp_view_t v;
        int r = rtp_parse(c, l, &v);
        if (l < header_end)
            assert_true(r < 0);
        if (r == 0) {
            assert_true(v.payload_off + v.payload_len + v.padding_len == l);
            const uint8_t *val;
            size_t len;
            for (unsigned id = 0; id < 16; id++)
                (void)rtp_find_ext(&v, (uint8_t)id, &val, &len);
        }
        free(c);
    }
}

static void test_truncated_at_every_length(void **st)
{
    (void)st;
    truncations(chrome_vp8, sizeof chrome_vp8, 28);
    truncations(chrome_opus, sizeof chrome_opus, 20);
}

static void test_setters(void **st)
{
    (void)st;
    uint8_t *w = dup(chrome_vp8, sizeof chrome_vp8);
    rtp_set_ssrc(w, 0x11223344);
    rtp_set_seq(w, 0xfffe);
    rtp_set_ts(w, 0xfffffff0);
    rtp_set_pt(w, 100);
    rtp_view_t v;
    assert_int_equal(rtp_parse(w, sizeof chrome_vp8, &v), 0);
    assert_int_equal(v.ssrc, 0x11223344);
    assert_int_equal(v.seq, 0xfffe);
    assert_int_equal(v.ts, 0xfffffff0);
    assert_int_equal(v.pt, 100);
    assert_true(v.marker); /* kept */
    rtp_set_marker(w, false);
    assert_int_equal(rtp_parse(w, sizeof chrome_vp8, &v), 0);
    assert_false(v.marker);
    assert_int_equal(v.pt, 100);
    /* Nothing else moved. */
    assert_memory_equal(w + 12, chrome_vp8 + 12, sizeof chrome_vp8 - 12);
    free(w);
}

static void test_demux(void **st)
{
    (void)st;
    static const uint8_t stun[] = {0x00, 0x01, 0, 0};
    static const uint8_t dtls[] = {22, 0xfe, 0xfd};
    static const uint8_t rtcp_rr[] = {0x80, 201, 0, 1, 0, 0, 0, 1};
    static const uint8_t rtcp_pli[] = {0x81, 206, 0, 2};
    static const uint8_t rtp_m[] = {0x80, 0xe0, 0, 1}; /* PT 96 marker */
    static const uint8_t rtp_pt0[] = {0x80, 0x00};
    static const uint8_t junk[] = {0x10, 0x00};
    assert_int_equal(rtp_demux(stun, sizeof stun), RTP_DEMUX_STUN);
    assert_int_equal(rtp_demux(dtls, sizeof dtls), RTP_DEMUX_DTLS);
    assert_int_equal(rtp_demux(rtcp_rr, sizeof rtcp_rr), RTP_DEMUX_RTCP);
    assert_int_equal(rtp_demux(rtcp_pli, sizeof rtcp_pli), RTP_DEMUX_RTCP);
    assert_int_equal(rtp_demux(rtp_m, sizeof rtp_m), RTP_DEMUX_RTP);
    assert_int_equal(rtp_demux(rtp_pt0, sizeof rtp_pt0), RTP_DEMUX_RTP);
    assert_int_equal(rtp_demux(junk, sizeof junk), RTP_DEMUX_UNKNOWN);
    assert_int_equal(rtp_demux(rtp_m, 1), RTP_DEMUX_UNKNOWN);
    assert_int_equal(rtp_demux(rtp_m, 0), RTP_DEMUX_UNKNOWN);
    assert_true(rtp_is_rtcp(rtcp_rr, sizeof rtcp_rr));
    assert_false(rtp_is_rtcp(rtp_m, sizeof rtp_m));
    assert_false(rtp_is_rtcp(rtcp_rr, 1));
    /* Every second byte: RTCP exactly for 192–223 (64–95 after masking the marker bit). */
    for (unsigned b = 0; b < 256; b++) {
        uint8_t p[2] = {0x80, (uint8_t)b};
        bool want = (b & 0x7f) >= 64 && (b & 0x7f) <= 95;
        assert_int_equal(rtp_is_rtcp(p, 2), want);
    }
}

static void test_seq_diff_and_extension(void **st)
{
    (void)st;
    assert_int_equal(rtp_seq_diff(1, 65535), 2);
    assert_int_equal(rtp_seq_diff(65535, 1), -2);
    assert_int_equal(rtp_seq_diff(100, 100), 0);
    assert_true(rtp_ts_diff(5, 0xfffffff0u) == 21);
    assert_true(rtp_ts_diff(0xfffffff0u, 5) == -21);
    rtp_seq_ext_t e;
    rtp_seq_ext_init(&e);
    uint64_t a = rtp_seq_ext_update(&e, 65534);
    uint64_t b = rtp_seq_ext_update(&e, 65535);
    uint64_t c = rtp_seq_ext_update(&e, 1); /* wrapped, 0 lost */
    uint64_t d = rtp_seq_ext_update(&e, 0); /* reordered across the wrap */
    uint64_t x = rtp_seq_ext_update(&e, 65533); /* reordered, before the first */
    assert_true(b == a + 1);
    assert_true(c == a + 3);
    assert_true(d == a + 2);
    assert_true(x == a - 1);
    assert_true(e.highest == c);
    assert_true(rtp_seq_ext_peek(&e, 2) == c + 1);
    assert_true(e.highest == c); /* peek does not move it */
    /* A long run through several wraps stays monotonic. */
    uint64_t prev = e.highest;
    uint16_t s = 1;
    for (int i = 0; i < 200000; i++) {
        s = (uint16_t)(s + 7);
        uint64_t v = rtp_seq_ext_update(&e, s);
        assert_true(v == prev + 7);
        prev = v;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chrome_vp8),
        cmocka_unit_test(test_chrome_opus_padding_and_level),
        cmocka_unit_test(test_two_byte_form),
        cmocka_unit_test(test_csrc_list),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_setters),
        cmocka_unit_test(test_demux),
        cmocka_unit_test(test_seq_diff_and_extension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_rtcp.c — RTCP: a Chromium-shaped compound (RR + REMB), SR, BYE, feedback decoding; the builders
 * against the decoders; NACK PID+BLP packing round trips (wrap, any order, limits); truncation at every
 * length; malformed lengths and padding; SSRC rewriting of feedback for the publisher's side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rtcp.h"

/* What a Chromium receiver sends: an RR with one report block, then a REMB (PSFB FMT 15). */
static const uint8_t chrome_rr_remb[] = {
    0x81, 0xc9, 0x00, 0x07,                         /* RR, RC=1, length 7 (32 bytes) */
    0x00, 0x00, 0x00, 0x01,                         /* reporter SSRC 1 */
    0xde, 0xad, 0xbe, 0xef,                         /* report about 0xdeadbeef */
    0x0a, 0xff, 0xff, 0xfe,                         /* fraction 10, cumulative -2 */
    0x00, 0x01, 0x12, 0x34,                         /* extended highest seq 0x11234 */
    0x00, 0x00, 0x00, 0x20,                         /* jitter 32 */
    0x12, 0x34, 0x56, 0x78,                         /* LSR */
    0x00, 0x01, 0x00, 0x00,                         /* DLSR 1 s */
    0x8f, 0xce, 0x00, 0x05,                         /* PSFB FMT 15, length 5 (24 bytes) */
    0x00, 0x00, 0x00, 0x01,                         /* sender 1 */
    0x00, 0x00, 0x00, 0x00,                         /* media 0 */
    'R', 'E', 'M', 'B',
    0x01, 0x0b, 0xd7, 0x84,                         /* 1 SSRC, exp 2, mantissa 0x3d784: 1007120 bit/s */
    0xde, 0xad, 0xbe, 0xef,
};

static uint8_t *dup(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    memcpy(d, p, n);
    return d;
}

static void test_chrome_compound(void **st)
{
    (void)st;
    assert_int_equal(rtcp_validate(chrome_rr_remb, sizeof chrome_rr_remb), 2);
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_iter_init(&it, chrome_rr_remb, sizeof chrome_rr_remb);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(p.type, RTCP_RR);
    assert_int_equal(p.len, 32);
    rtcp_rr_t rr;
    assert_int_equal(rtcp_parse_rr(&p, &rr), 0);
    assert_int_equal(rr.ssrc, 1);
    assert_int_equal(rr.n_reports, 1);
    assert_int_equal(rr.reports[0].ssrc, 0xdeadbeef);
    assert_int_equal(rr.reports[0].fraction_lost, 10);
    assert_int_equal(rr.reports[0].cumulative_lost, -2);
    assert_int_equal(rr.reports[0].highest_seq, 0x11234);
    assert_int_equal(rr.reports[0].jitter, 32);
    assert_int_equal(rr.reports[0].lsr, 0x12345678);
    assert_int_equal(rr.reports[0].dlsr, 65536);
    rtcp_sr_t sr;
    assert_int_equal(rtcp_parse_sr(&p, &sr), RTCP_ERR_TYPE);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(p.type, RTCP_PSFB);
    rtcp_fb_t fb;
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    assert_int_equal(fb.fmt, RTCP_PSFB_AFB);
    assert_false(rtcp_fb_is_pli(&fb));
    rtcp_remb_t remb;
    assert_int_equal(rtcp_parse_remb(&fb, &remb), 0);
    assert_int_equal(remb.bitrate, 0x3d784u << 2);
    assert_int_equal(remb.n_ssrcs, 1);
    assert_int_equal(remb.ssrcs[0], 0xdeadbeef);
    assert_int_equal(rtcp_next(&it, &p), 0);
}

static void test_sr_bye_build_parse(void **st)
{
    (void)st;
    rtcp_sr_t sr = {.ssrc = 0x1234, .ntp = 0xe1234567890abcdeull, .rtp_ts = 0xfffffff0, .packets = 77,
                    .octets = 9999, .n_reports = 2};
    sr.reports[0] = (rtcp_report_t){.ssrc = 5, .fraction_lost = 3, .cumulative_lost = 100,
                                    .highest_seq = 70000, .jitter = 9, .lsr = 1, .dlsr = 2};
    sr.reports[1] = (rtcp_report_t){.ssrc = 6, .cumulative_lost = -5};
    uint8_t buf[256];
    long n = rtcp_build_sr(buf, sizeof buf, &sr);
    assert_int_equal(n, 28 + 48);
    assert_int_equal(rtcp_build_sr(buf, (size_t)n - 1, &sr), RTCP_ERR_SPACE);
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(rtcp_next(&it, &p), 1);
    rtcp_sr_t got;
    assert_int_equal(rtcp_parse_sr(&p, &got), 0);
    assert_true(got.ntp == sr.ntp);
    assert_int_equal(got.rtp_ts, sr.rtp_ts);
    assert_int_equal(got.packets, 77);
    assert_int_equal(got.octets, 9999);
    assert_int_equal(got.n_reports, 2);
    assert_int_equal(got.reports[0].highest_seq, 70000);
    assert_int_equal(got.reports[0].cumulative_lost, 100);
    assert_int_equal(got.reports[1].cumulative_lost, -5);
    /* RR builder, and its 31-report limit. */
    rtcp_report_t many[32] = {{0}};
    assert_int_equal(rtcp_build_rr(buf, sizeof buf, 9, many, 0), 8);
    static uint8_t big[1024];
    assert_int_equal(rtcp_build_rr(big, sizeof big, 9, many, 31), 8 + 31 * 24);
    assert_int_equal(rtcp_build_rr(big, sizeof big, 9, many, 32), RTCP_ERR_SPACE);
    /* BYE with a reason after the SSRCs. */
    static const uint8_t bye[] = {0x82, 0xcb, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 2, 'o', 'k', 0};
    rtcp_iter_init(&it, bye, sizeof bye);
    assert_int_equal(rtcp_next(&it, &p), 1);
    rtcp_bye_t b;
    assert_int_equal(rtcp_parse_bye(&p, &b), 0);
    assert_int_equal(b.n_ssrcs, 2);
    assert_int_equal(b.ssrcs[1], 2);
}

static void test_pli_fir(void **st)
{
    (void)st;
    uint8_t buf[64];
    long n = rtcp_build_pli(buf, sizeof buf, 1, 0xabcdef01);
    assert_int_equal(n, 12);
    static const uint8_t want_pli[] = {0x81, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0xab, 0xcd, 0xef, 0x01};
    assert_memory_equal(buf, want_pli, 12);
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_fb_t fb;
    rtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    assert_true(rtcp_fb_is_pli(&fb));
    assert_int_equal(fb.media_ssrc, 0xabcdef01);
    n = rtcp_build_fir(buf, sizeof buf, 1, 0xabcdef01, 42);
    assert_int_equal(n, 20);
    rtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    assert_false(rtcp_fb_is_pli(&fb));
    assert_int_equal(fb.media_ssrc, 0);
    assert_int_equal(rtcp_fir_count(&fb), 1);
    rtcp_fir_entry_t e;
    assert_int_equal(rtcp_fir_entry(&fb, 0, &e), 0);
    assert_int_equal(e.ssrc, 0xabcdef01);
    assert_int_equal(e.seq, 42);
    assert_int_equal(rtcp_fir_entry(&fb, 1, &e), RTCP_ERR_LENGTH);
    assert_int_equal(rtcp_build_pli(buf, 11, 1, 2), RTCP_ERR_SPACE);
    assert_int_equal(rtcp_build_fir(buf, 19, 1, 2, 0), RTCP_ERR_SPACE);
}

/* Builds a NACK from seqs, parses it back, and checks the same set comes out (order may differ). */
static size_t nack_round_trip(const uint16_t *seqs, size_t n)
{
    static uint8_t buf[4096];
    long len = rtcp_build_nack(buf, sizeof buf, 7, 8, seqs, n);
    assert_true(len > 0);
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_fb_t fb;
    rtcp_iter_init(&it, buf, (size_t)len);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    assert_int_equal(fb.sender_ssrc, 7);
    assert_int_equal(fb.media_ssrc, 8);
    static uint16_t out[20000];
    int got = rtcp_nack_seqs(&fb, out, 20000);
    assert_true(got >= 0);
    static uint8_t in_set[65536], out_set[65536];
    memset(in_set, 0, sizeof in_set);
    memset(out_set, 0, sizeof out_set);
    for (size_t i = 0; i < n; i++)
        in_set[seqs[i]] = 1;
    for (int i = 0; i < got; i++) {
        assert_int_equal(out_set[out[i]], 0); /* no duplicates out */
        out_set[out[i]] = 1;
    }
    assert_memory_equal(in_set, out_set, sizeof in_set);
    return fb.fci_len / 4;
}

static void test_nack_blp_round_trip(void **st)
{
    (void)st;
    /* One item: PID 100 and BLP for 101, 103, 116. */
    uint16_t a[] = {100, 101, 103, 116};
    assert_int_equal(nack_round_trip(a, 4), 1);
    uint8_t buf[64];
    assert_int_equal(rtcp_build_nack(buf, sizeof buf, 1, 2, a, 4), 16);
    assert_int_equal(buf[12] << 8 | buf[13], 100);
    assert_int_equal(buf[14] << 8 | buf[15], 0x8005); /* bits 0, 2, 15 */
    /* 117 is 17 after 100: a second item. */
    uint16_t b[] = {100, 117};
    assert_int_equal(nack_round_trip(b, 2), 2);
    /* Across the wrap: 65530 … 5 in one item plus one. */
    uint16_t c[] = {65530, 65531, 65535, 0, 5, 11};
    assert_int_equal(nack_round_trip(c, 6), 2);
    /* Duplicates and descending order still give the right set. */
    uint16_t d[] = {50, 49, 50, 48, 10, 10};
    nack_round_trip(d, 6);
    /* A long run: every other packet of 3000 lost, starting before the wrap. */
    static uint16_t e[1500];
    for (int i = 0; i < 1500; i++)
        e[i] = (uint16_t)(64000 + 2 * i);
    assert_int_equal(nack_round_trip(e, 1500), (1500 + 8) / 9);
    /* Pseudo-random sets, ascending: the packed form holds exactly the set. */
    uint32_t r = 12345;
    for (int round = 0; round < 200; round++) {
        uint16_t s[300];
        size_t n = 0;
        uint16_t cur = (uint16_t)(r >> 8);
        for (int i = 0; i < 300; i++) {
            r = r * 1103515245u + 12345u;
            cur = (uint16_t)(cur + 1 + (r >> 16) % 40);
            s[n++] = cur;
        }
        nack_round_trip(s, n);
    }
    /* Limits: nothing to say, or no room for the items. */
    assert_int_equal(rtcp_build_nack(buf, sizeof buf, 1, 2, a, 0), RTCP_ERR_SPACE);
    assert_int_equal(rtcp_build_nack(buf, 15, 1, 2, a, 1), RTCP_ERR_SPACE);
    uint16_t far[] = {0, 100, 200};
    assert_int_equal(rtcp_build_nack(buf, 20, 1, 2, far, 3), RTCP_ERR_SPACE);
    assert_int_equal(rtcp_build_nack(buf, 24, 1, 2, far, 3), 24);
    /* A decoder given more lost packets than its array: counts them all, writes max. */
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_fb_t fb;
    rtcp_iter_init(&it, buf, 24);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    uint16_t two[2];
    assert_int_equal(rtcp_nack_seqs(&fb, two, 2), 3);
    assert_int_equal(two[1], 100);
}

static void test_remb_build_parse(void **st)
{
    (void)st;
    uint64_t rates[] = {0, 1, 262143, 262144, 1000000, 2500000000ull, 1ull << 40};
    uint32_t ssrcs[3] = {1, 2, 3};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        uint8_t buf[64];
        long n = rtcp_build_remb(buf, sizeof buf, 9, rates[i], ssrcs, 3);
        assert_int_equal(n, 32);
        rtcp_iter_t it;
        rtcp_pkt_t p;
        rtcp_fb_t fb;
        rtcp_iter_init(&it, buf, (size_t)n);
        assert_int_equal(rtcp_next(&it, &p), 1);
        assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
        rtcp_remb_t remb;
        assert_int_equal(rtcp_parse_remb(&fb, &remb), 0);
        /* Rounded down to an 18-bit mantissa: within 2^-17 below. */
        assert_true(remb.bitrate <= rates[i]);
        assert_true(rates[i] - remb.bitrate <= rates[i] / 131072);
        assert_int_equal(remb.n_ssrcs, 3);
        assert_int_equal(remb.ssrcs[2], 3);
    }
    /* A huge exponent saturates instead of wrapping. */
    static const uint8_t huge[] = {0x8f, 0xce, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 'R', 'E', 'M', 'B', 0, 0xff, 0xff, 0xff};
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_fb_t fb;
    rtcp_iter_init(&it, huge, sizeof huge);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    rtcp_remb_t remb;
    assert_int_equal(rtcp_parse_remb(&fb, &remb), 0);
    assert_true(remb.bitrate == UINT64_MAX);
    /* Another AFB message is not a REMB; a REMB whose SSRC count overruns is malformed. */
    static const uint8_t afb[] = {0x8f, 0xce, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 'X', 'Y', 'Z', 'W'};
    rtcp_iter_init(&it, afb, sizeof afb);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    assert_int_equal(rtcp_parse_remb(&fb, &remb), RTCP_ERR_TYPE);
    static const uint8_t over[] = {0x8f, 0xce, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 'R', 'E', 'M', 'B', 2, 0, 0, 1};
    rtcp_iter_init(&it, over, sizeof over);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    assert_int_equal(rtcp_parse_remb(&fb, &remb), RTCP_ERR_LENGTH);
}

static void test_twcc(void **st)
{
    (void)st;
    /* transport-cc: base seq 0x0102, 3 packets, reference time -1 (0xffffff), fb count 9, one run-length
     * chunk and three 1-byte deltas. */
    static const uint8_t tw[] = {0x8f, 0xcd, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 2,
                                 0x01, 0x02, 0x00, 0x03, 0xff, 0xff, 0xff, 0x09,
                                 0x20, 0x03, 0x04, 0x05, 0x06, 0x00, 0x00, 0x00};
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_fb_t fb;
    rtcp_iter_init(&it, tw, sizeof tw);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    assert_int_equal(fb.type, RTCP_RTPFB);
    assert_int_equal(fb.fmt, RTCP_RTPFB_TWCC);
    rtcp_twcc_t t;
    assert_int_equal(rtcp_parse_twcc(&fb, &t), 0);
    assert_int_equal(t.base_seq, 0x0102);
    assert_int_equal(t.status_count, 3);
    assert_int_equal(t.reference_time, -1);
    assert_int_equal(t.fb_count, 9);
    assert_int_equal(t.rest_len, 8);
    assert_int_equal(t.rest[0], 0x20);
    uint16_t s[4];
    assert_int_equal(rtcp_nack_seqs(&fb, s, 4), RTCP_ERR_TYPE);
}

static void test_malformed(void **st)
{
    (void)st;
    rtcp_iter_t it;
    rtcp_pkt_t p;
    /* Wrong version. */
    static const uint8_t v1[] = {0x41, 0xc9, 0, 1, 0, 0, 0, 1};
    assert_int_equal(rtcp_validate(v1, sizeof v1), RTCP_ERR_VERSION);
    /* Length past the end. */
    static const uint8_t longer[] = {0x80, 0xc9, 0, 2, 0, 0, 0, 1};
    assert_int_equal(rtcp_validate(longer, sizeof longer), RTCP_ERR_SHORT);
    /* A count that the length cannot hold. */
    static const uint8_t rc2[] = {0x82, 0xc9, 0, 1, 0, 0, 0, 1};
    rtcp_iter_init(&it, rc2, sizeof rc2);
    assert_int_equal(rtcp_next(&it, &p), 1);
    rtcp_rr_t rr;
    assert_int_equal(rtcp_parse_rr(&p, &rr), RTCP_ERR_LENGTH);
    /* Padding on a packet that is not the last; a padding count of 0 or one that eats the header. */
    static const uint8_t padfirst[] = {0xa0, 0xc9, 0, 1, 0, 0, 0, 4, 0x80, 0xc9, 0, 1, 0, 0, 0, 1};
    assert_int_equal(rtcp_validate(padfirst, sizeof padfirst), RTCP_ERR_PADDING);
    static const uint8_t pad0[] = {0xa0, 0xc9, 0, 1, 0, 0, 0, 0};
    assert_int_equal(rtcp_validate(pad0, sizeof pad0), RTCP_ERR_PADDING);
    static const uint8_t padbig[] = {0xa0, 0xc9, 0, 1, 0, 0, 0, 8};
    assert_int_equal(rtcp_validate(padbig, sizeof padbig), RTCP_ERR_PADDING);
    /* A padded last packet: its content excludes the padding. */
    static const uint8_t padok[] = {0xa0, 0xc9, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4};
    rtcp_iter_init(&it, padok, sizeof padok);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(p.len, 8);
    assert_true(p.padding);
    assert_int_equal(rtcp_parse_rr(&p, &rr), 0);
    /* Feedback shorter than its two SSRCs; NACK FCI not whole items; FIR FCI not whole entries. */
    static const uint8_t fbshort[] = {0x81, 0xcd, 0, 1, 0, 0, 0, 1};
    rtcp_fb_t fb;
    rtcp_iter_init(&it, fbshort, sizeof fbshort);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), RTCP_ERR_LENGTH);
    static const uint8_t firbad[] = {0x84, 0xce, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2};
    rtcp_iter_init(&it, firbad, sizeof firbad);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    assert_int_equal(rtcp_fir_count(&fb), RTCP_ERR_LENGTH);
    /* Empty input is not a compound packet. */
    assert_int_equal(rtcp_validate(firbad, 0), RTCP_ERR_SHORT);
}

static void test_truncated_at_every_length(void **st)
{
    (void)st;
    for (size_t l = 0; l < sizeof chrome_rr_remb; l++) {
        uint8_t *c = dup(chrome_rr_remb, l);
        int r = rtcp_validate(c, l);
        if (l == 32)
            assert_int_equal(r, 1); /* the RR alone is whole */
        else
            assert_true(r < 0);
        rtcp_iter_t it;
        rtcp_pkt_t p;
        rtcp_iter_init(&it, c, l);
        while (rtcp_next(&it, &p) == 1) {
            rtcp_rr_t rr;
            rtcp_fb_t fb;
            rtcp_remb_t remb;
            (void)rtcp_parse_rr(&p, &rr);
            if (rtcp_parse_fb(&p, &fb) == 0)
                (void)rtcp_parse_remb(&fb, &remb);
        }
        free(c);
    }
}

/* The SFU's mapping for a subscriber's feedback going to the publisher: the subscriber-side SSRC
 * 0x50b5 becomes the publisher's 0x90b1, senders become the SFU's own SSRC 0x5f0. */
static bool to_publisher(void *ctx, rtcp_ssrc_role_t role, uint32_t ssrc, uint32_t *out)
{
    int *calls = ctx;
    (*calls)++;
    if (role == RTCP_SSRC_SENDER) {
        *out = 0x5f0;
        return true;
    }
    if (ssrc == 0x50b5) {
        *out = 0x90b1;
        return true;
    }
    return false;
}

static void test_rewrite_feedback_ssrcs(void **st)
{
    (void)st;
    uint8_t buf[256];
    size_t n = 0;
    rtcp_report_t rep = {.ssrc = 0x50b5};
    n += (size_t)rtcp_build_rr(buf + n, sizeof buf - n, 0x77, &rep, 1);
    n += (size_t)rtcp_build_pli(buf + n, sizeof buf - n, 0x77, 0x50b5);
    n += (size_t)rtcp_build_fir(buf + n, sizeof buf - n, 0x77, 0x50b5, 3);
    uint16_t seqs[] = {10, 12};
    n += (size_t)rtcp_build_nack(buf + n, sizeof buf - n, 0x77, 0x50b5, seqs, 2);
    uint32_t remb_ssrcs[] = {0x50b5, 0x1111};
    n += (size_t)rtcp_build_remb(buf + n, sizeof buf - n, 0x77, 500000, remb_ssrcs, 2);
    static const uint8_t sdes[] = {0x81, 0xca, 0, 2, 0, 0, 0x50, 0xb5, 1, 1, 'x', 0};
    memcpy(buf + n, sdes, sizeof sdes);
    n += sizeof sdes;
    int calls = 0;
    /* Senders: RR, PLI, FIR, NACK, REMB = 5; media: report, PLI, FIR entry, NACK, REMB first = 5. */
    assert_int_equal(rtcp_rewrite_ssrcs(buf, n, to_publisher, &calls), 10);
    assert_int_equal(calls, 11); /* REMB's second SSRC was asked about and left */
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_fb_t fb;
    rtcp_iter_init(&it, buf, n);
    assert_int_equal(rtcp_next(&it, &p), 1);
    rtcp_rr_t rr;
    assert_int_equal(rtcp_parse_rr(&p, &rr), 0);
    assert_int_equal(rr.ssrc, 0x5f0);
    assert_int_equal(rr.reports[0].ssrc, 0x90b1);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    assert_true(rtcp_fb_is_pli(&fb));
    assert_int_equal(fb.sender_ssrc, 0x5f0);
    assert_int_equal(fb.media_ssrc, 0x90b1);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    rtcp_fir_entry_t e;
    assert_int_equal(rtcp_fir_entry(&fb, 0, &e), 0);
    assert_int_equal(e.ssrc, 0x90b1);
    assert_int_equal(e.seq, 3);
    assert_int_equal(fb.media_ssrc, 0);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    assert_int_equal(fb.media_ssrc, 0x90b1);
    uint16_t got[4];
    assert_int_equal(rtcp_nack_seqs(&fb, got, 4), 2);
    assert_int_equal(got[1], 12);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    rtcp_remb_t remb;
    assert_int_equal(rtcp_parse_remb(&fb, &remb), 0);
    assert_int_equal(remb.ssrcs[0], 0x90b1);
    assert_int_equal(remb.ssrcs[1], 0x1111);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_memory_equal(p.data, sdes, sizeof sdes); /* SDES untouched */
    /* Malformed input: an error, nothing read outside. */
    static const uint8_t bad[] = {0x83, 0xc9, 0, 1, 0, 0, 0, 1};
    uint8_t *c = dup(bad, sizeof bad);
    assert_int_equal(rtcp_rewrite_ssrcs(c, sizeof bad, to_publisher, &calls), RTCP_ERR_LENGTH);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chrome_compound),
        cmocka_unit_test(test_sr_bye_build_parse),
        cmocka_unit_test(test_pli_fir),
        cmocka_unit_test(test_nack_blp_round_trip),
        cmocka_unit_test(test_remb_build_parse),
        cmocka_unit_test(test_twcc),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_rewrite_feedback_ssrcs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

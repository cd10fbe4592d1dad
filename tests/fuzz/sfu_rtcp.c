/* sfu_rtcp.c — libFuzzer target: the RTCP walker, every decoder, the builders fed with what was
 * decoded (NACK and REMB must round-trip), and the feedback SSRC rewrite on an exactly sized copy
 * (which must leave the packet's structure valid as before). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtcp.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* Maps every other SSRC it is asked about, counting the calls. */
static bool mapper(void *ctx, rtcp_ssrc_role_t role, uint32_t ssrc, uint32_t *out)
{
    unsigned *calls = ctx;
    (*calls)++;
    *out = ssrc ^ 0x5a5a5a5au ^ (uint32_t)role;
    return (ssrc & 1) == 0;
}

/* NACK: rebuilding from the decoded list must give the same set back. */
static void nack_round_trip(const rtcp_fb_t *fb)
{
    static uint16_t seqs[20000], again[20000];
    static uint8_t set_a[65536], set_b[65536];
    int n = rtcp_nack_seqs(fb, seqs, 20000);
    if (n <= 0 || n > 20000)
        return;
    static uint8_t buf[65536];
    long len = rtcp_build_nack(buf, sizeof buf, fb->sender_ssrc, fb->media_ssrc, seqs, (size_t)n);
    CHECK(len > 0);
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_fb_t fb2;
    rtcp_iter_init(&it, buf, (size_t)len);
    CHECK(rtcp_next(&it, &p) == 1 && rtcp_parse_fb(&p, &fb2) == 0);
    int m = rtcp_nack_seqs(&fb2, again, 20000);
    CHECK(m > 0 && m <= n);
    memset(set_a, 0, sizeof set_a);
    memset(set_b, 0, sizeof set_b);
    for (int i = 0; i < n; i++)
        set_a[seqs[i]] = 1;
    for (int i = 0; i < m; i++)
        set_b[again[i]] = 1;
    CHECK(memcmp(set_a, set_b, sizeof set_a) == 0);
}

static void remb_round_trip(const rtcp_remb_t *r)
{
    uint8_t buf[20 + 4 * RTCP_MAX_REMB_SSRCS];
    long len = rtcp_build_remb(buf, sizeof buf, 1, r->bitrate, r->ssrcs, r->n_ssrcs);
    CHECK(len > 0);
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_fb_t fb;
    rtcp_remb_t back;
    rtcp_iter_init(&it, buf, (size_t)len);
    CHECK(rtcp_next(&it, &p) == 1 && rtcp_parse_fb(&p, &fb) == 0 && rtcp_parse_remb(&fb, &back) == 0);
    CHECK(back.n_ssrcs == r->n_ssrcs);
    if (r->bitrate != UINT64_MAX)
        CHECK(back.bitrate == r->bitrate); /* a decoded value is exactly representable */
}

static void decode_all(const uint8_t *data, size_t size)
{
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_iter_init(&it, data, size);
    while (rtcp_next(&it, &p) == 1) {
        CHECK(p.data >= data && p.data + p.len <= data + size);
        static rtcp_sr_t sr;
        static rtcp_rr_t rr;
        rtcp_bye_t bye;
        rtcp_fb_t fb;
        uint8_t out[1024];
        if (rtcp_parse_sr(&p, &sr) == 0)
            CHECK(rtcp_build_sr(out, sizeof out, &sr) == 28 + 24 * (long)sr.n_reports);
        if (rtcp_parse_rr(&p, &rr) == 0)
            CHECK(rtcp_build_rr(out, sizeof out, rr.ssrc, rr.reports, rr.n_reports) > 0);
        (void)rtcp_parse_bye(&p, &bye);
        if (rtcp_parse_fb(&p, &fb) != 0)
            continue;
        CHECK(fb.fci + fb.fci_len <= data + size);
        (void)rtcp_fb_is_pli(&fb);
        uint16_t few[4];
        (void)rtcp_nack_seqs(&fb, few, 4);
        nack_round_trip(&fb);
        int firs = rtcp_fir_count(&fb);
        for (int i = 0; i < firs; i++) {
            rtcp_fir_entry_t e;
            CHECK(rtcp_fir_entry(&fb, (size_t)i, &e) == 0);
            CHECK(rtcp_build_fir(out, sizeof out, fb.sender_ssrc, e.ssrc, e.seq) == 20);
        }
        static rtcp_remb_t remb;
        if (rtcp_parse_remb(&fb, &remb) == 0)
            remb_round_trip(&remb);
        rtcp_twcc_t tw;
        if (rtcp_parse_twcc(&fb, &tw) == 0)
            CHECK(tw.rest + tw.rest_len == fb.fci + fb.fci_len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int valid = rtcp_validate(data, size);
    decode_all(data, size);
    uint8_t *c = malloc(size ? size : 1);
    memcpy(c, data, size);
    unsigned calls = 0;
    int n = rtcp_rewrite_ssrcs(c, size, mapper, &calls);
    CHECK(n < 0 || (unsigned)n <= calls);
    /* Rewriting SSRCs never changes the structure: a valid compound stays valid, same count. */
    if (n >= 0)
        CHECK(rtcp_validate(c, size) == valid);
    decode_all(c, size);
    free(c);
    return 0;
}

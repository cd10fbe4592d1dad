/* test_rewrite.c — the outgoing-stream rewriter: continuity of SSRC, seq, ts, PictureID and TL0PICIDX
 * across three switches (with every counter near its wrap), reordering, gaps, drops before the switch
 * point and of stale packets, a publisher reconnect on the same SSRC, payload type, ts mapping, and
 * packets the SFU chooses not to forward (padding probes, layers) closing their gap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rewrite.h"
#include "rtp.h"
#include "vp8.h"

#define OUT_SSRC 0xa0a0a0a0u

/* A source stream: one VP8 packet per frame, 30 frames/s, every frame on temporal layer 0. */
typedef struct {
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
    uint16_t pid;
    uint8_t tl0;
} source_t;

typedef struct {
    uint8_t buf[64];
    size_t len;
} pkt_t;

/* Builds the next packet of src (keyframe or not) and advances src. */
static pkt_t next_packet(source_t *src, bool keyframe)
{
    pkt_t p;
    uint8_t *b = p.buf;
    b[0] = 0x80;
    b[1] = 96;
    b[2] = (uint8_t)(src->seq >> 8);
    b[3] = (uint8_t)src->seq;
    b[4] = (uint8_t)(src->ts >> 24);
    b[5] = (uint8_t)(src->ts >> 16);
    b[6] = (uint8_t)(src->ts >> 8);
    b[7] = (uint8_t)src->ts;
    b[8] = (uint8_t)(src->ssrc >> 24);
    b[9] = (uint8_t)(src->ssrc >> 16);
    b[10] = (uint8_t)(src->ssrc >> 8);
    b[11] = (uint8_t)src->ssrc;
    /* X S; I L T; 15-bit PictureID; TL0PICIDX; TID 0 */
    uint8_t d[] = {0x90, 0xe0, (uint8_t)(0x80 | (src->pid >> 8)), (uint8_t)src->pid, src->tl0, 0x00,
                   keyframe ? 0x00 : 0x01, 0xab};
    memcpy(b + 12, d, sizeof d);
    p.len = 12 + sizeof d;
    src->seq++;
    src->ts += 3000;
    src->pid = (src->pid + 1) & 0x7fff;
    src->tl0++;
    return p;
}

typedef struct {
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
    uint16_t pid;
    uint8_t tl0;
    bool key;
} seen_t;

/* Feeds one packet; returns the rewriter's verdict and what the subscriber receives. */
static int feed(rewrite_t *rw, pkt_t *p, uint64_t now, seen_t *out, rewrite_result_t *res)
{
    rtp_view_t v;
    assert_int_equal(rtp_parse(p->buf, p->len, &v), 0);
    int r = rewrite_packet(rw, p->buf, p->len, &v, now, res);
    if (r == REWRITE_FORWARD && out) {
        assert_int_equal(rtp_parse(p->buf, p->len, &v), 0);
        vp8_desc_t d;
        assert_int_equal(vp8_parse(p->buf + v.payload_off, v.payload_len, &d), 0);
        *out = (seen_t){v.ssrc, v.seq, v.ts, d.picture_id, d.tl0picidx, d.keyframe};
    }
    return r;
}

static rewrite_t *new_video(void)
{
    rewrite_config_t cfg = {.out_ssrc = OUT_SSRC, .clock_rate = 90000, .out_pt = -1, .vp8 = true};
    rewrite_t *rw = rewrite_new(&cfg);
    assert_non_null(rw);
    return rw;
}

static void test_continuity_across_three_switches(void **st)
{
    (void)st;
    rewrite_t *rw = new_video();
    /* Three sources, each with counters about to wrap at a different place. */
    source_t a = {.ssrc = 1, .seq = 65530, .ts = 0xffff0000u, .pid = 0x7ffa, .tl0 = 250};
    source_t b = {.ssrc = 2, .seq = 100, .ts = 12345, .pid = 3, .tl0 = 0};
    source_t c = {.ssrc = 3, .seq = 40000, .ts = 0x80000000u, .pid = 0x4000, .tl0 = 128};
    source_t *order[] = {&a, &b, &c, &a}; /* back to a: its numbering went on meanwhile */
    uint64_t now = 1000000;
    seen_t prev = {0}, cur;
    bool have_prev = false;
    int switches = 0;
    for (size_t s = 0; s < 4; s++) {
        source_t *src = order[s];
        if (s == 3) { /* a kept sending while it was not forwarded */
            for (int i = 0; i < 40; i++)
                next_packet(src, false);
        }
        uint64_t gap_ms = 0;
        if (s > 0) {
            gap_ms = 50 + 100 * s; /* the subscriber saw nothing for this long */
            now += gap_ms;
        }
        for (int i = 0; i < 20; i++) {
            pkt_t p = next_packet(src, i == 0);
            rewrite_result_t res;
            assert_int_equal(feed(rw, &p, now, &cur, &res), REWRITE_FORWARD);
            assert_int_equal(cur.ssrc, OUT_SSRC);
            assert_int_equal(res.seq, cur.seq);
            assert_int_equal(res.ts, cur.ts);
            if (have_prev) {
                assert_int_equal((uint16_t)(cur.seq - prev.seq), 1);
                assert_int_equal((uint16_t)((cur.pid - prev.pid) & 0x7fff), 1);
                assert_int_equal((uint8_t)(cur.tl0 - prev.tl0), 1);
                if (i == 0) {
                    /* A switch: the timeline advances by the wall-clock time since the last packet. */
                    assert_true(res.switched);
                    switches++;
                    uint32_t want = (uint32_t)((33 + gap_ms) * 90);
                    assert_int_equal((uint32_t)(cur.ts - prev.ts), want);
                    assert_true(cur.key);
                } else {
                    assert_false(res.switched);
                    assert_int_equal((uint32_t)(cur.ts - prev.ts), 3000);
                }
            }
            prev = cur;
            have_prev = true;
            now += 33;
        }
    }
    assert_int_equal(switches, 3);
    assert_int_equal(rewrite_packets_sent(rw), 80);
    rewrite_free(rw);
}

static void test_first_packet_keeps_numbers(void **st)
{
    (void)st;
    rewrite_t *rw = new_video();
    source_t a = {.ssrc = 9, .seq = 777, .ts = 4242, .pid = 99, .tl0 = 5};
    pkt_t p = next_packet(&a, true);
    seen_t s;
    rewrite_result_t res;
    assert_false(rewrite_map_ts(rw, 1, &(uint32_t){0}));
    assert_int_equal(feed(rw, &p, 5, &s, &res), REWRITE_FORWARD);
    assert_true(res.switched);
    assert_int_equal(s.seq, 777);
    assert_int_equal(s.ts, 4242);
    assert_int_equal(s.pid, 99);
    assert_int_equal(s.tl0, 5);
    assert_int_equal(rewrite_last_seq(rw), 777);
    uint32_t t;
    assert_true(rewrite_map_ts(rw, 5000, &t));
    assert_int_equal(t, 5000);
    rewrite_free(rw);
}

static void test_reorder_gap_and_drops(void **st)
{
    (void)st;
    rewrite_t *rw = new_video();
    source_t a = {.ssrc = 1, .seq = 1000, .ts = 0, .pid = 0, .tl0 = 0};
    pkt_t pa[10];
    for (int i = 0; i < 10; i++)
        pa[i] = next_packet(&a, i == 0);
    seen_t s;
    uint64_t now = 10;
    assert_int_equal(feed(rw, &pa[0], now, &s, NULL), REWRITE_FORWARD);
    uint16_t base = s.seq;
    /* 2 arrives before 1; 3 is lost; 4 follows: the gap stays a gap, the order stays the order. */
    assert_int_equal(feed(rw, &pa[2], now, &s, NULL), REWRITE_FORWARD);
    assert_int_equal(s.seq, (uint16_t)(base + 2));
    assert_int_equal(feed(rw, &pa[1], now, &s, NULL), REWRITE_FORWARD);
    assert_int_equal(s.seq, (uint16_t)(base + 1));
    assert_int_equal(rewrite_last_seq(rw), (uint16_t)(base + 2)); /* not lowered by the late one */
    assert_int_equal(feed(rw, &pa[4], now, &s, NULL), REWRITE_FORWARD);
    assert_int_equal(s.seq, (uint16_t)(base + 4));
    /* Switch to b; then a late packet of b from before its first forwarded one is dropped untouched. */
    source_t b = {.ssrc = 2, .seq = 500, .ts = 90000, .pid = 10, .tl0 = 1};
    pkt_t early = next_packet(&b, false);
    pkt_t first = next_packet(&b, true);
    assert_int_equal(feed(rw, &first, now + 20, &s, NULL), REWRITE_FORWARD);
    assert_int_equal(s.seq, (uint16_t)(base + 5));
    pkt_t copy = early;
    assert_int_equal(feed(rw, &early, now + 21, NULL, NULL), REWRITE_DROP);
    assert_memory_equal(early.buf, copy.buf, early.len);
    /* A stale packet far behind the newest (more than the reorder window) is dropped too. */
    for (int i = 0; i < REWRITE_REORDER_WINDOW + 5; i++) {
        pkt_t p = next_packet(&b, false);
        assert_int_equal(feed(rw, &p, now + 30, NULL, NULL), REWRITE_FORWARD);
    }
    source_t old = b;
    old.seq = (uint16_t)(b.seq - REWRITE_REORDER_WINDOW - 3);
    pkt_t stale = next_packet(&old, false);
    assert_int_equal(feed(rw, &stale, now + 31, NULL, NULL), REWRITE_DROP);
    /* A packet just inside the window is still forwarded (a late retransmission-free reorder). */
    old.seq = (uint16_t)(b.seq - 10);
    pkt_t late = next_packet(&old, false);
    assert_int_equal(feed(rw, &late, now + 31, &s, NULL), REWRITE_FORWARD);
    rewrite_free(rw);
}

static void test_publisher_reconnect_same_ssrc(void **st)
{
    (void)st;
    rewrite_t *rw = new_video();
    source_t a = {.ssrc = 1, .seq = 30000, .ts = 500000, .pid = 200, .tl0 = 20};
    seen_t s, last = {0};
    uint64_t now = 0;
    for (int i = 0; i < 5; i++) {
        pkt_t p = next_packet(&a, i == 0);
        assert_int_equal(feed(rw, &p, now, &last, NULL), REWRITE_FORWARD);
        now += 33;
    }
    /* The publisher came back with the same SSRC but fresh, much lower numbers. Without a reset the
     * packets would read as ancient and be dropped; after rewrite_reset_source they continue. */
    source_t a2 = {.ssrc = 1, .seq = 3, .ts = 77, .pid = 1, .tl0 = 1};
    pkt_t p = next_packet(&a2, true);
    pkt_t q = p;
    assert_int_equal(feed(rw, &q, now, NULL, NULL), REWRITE_DROP);
    rewrite_reset_source(rw);
    rewrite_result_t res;
    assert_int_equal(feed(rw, &p, now + 1000, &s, &res), REWRITE_FORWARD);
    assert_true(res.switched);
    assert_int_equal((uint16_t)(s.seq - last.seq), 1);
    assert_int_equal((uint16_t)(s.pid - last.pid), 1);
    assert_int_equal((uint8_t)(s.tl0 - last.tl0), 1);
    assert_int_equal(s.ts - last.ts, (1000 + 33) * 90);
    /* Source ts → outgoing ts, for the subscriber's SR. */
    uint32_t t;
    assert_true(rewrite_map_ts(rw, 77 + 3000, &t));
    assert_int_equal(t, s.ts + 3000);
    rewrite_free(rw);
}

static void test_audio_payload_type_and_counters(void **st)
{
    (void)st;
    rewrite_config_t cfg = {.out_ssrc = 5, .clock_rate = 48000, .out_pt = 109, .vp8 = false};
    rewrite_t *rw = rewrite_new(&cfg);
    assert_non_null(rw);
    uint8_t pkt[] = {0x80, 0xef, 0x00, 0x10, 0, 0, 0x10, 0, 0, 0, 0, 7, 0xfc, 1, 2}; /* M, PT 111 */
    rtp_view_t v;
    assert_int_equal(rtp_parse(pkt, sizeof pkt, &v), 0);
    assert_int_equal(rewrite_packet(rw, pkt, sizeof pkt, &v, 0, NULL), REWRITE_FORWARD);
    assert_int_equal(rtp_parse(pkt, sizeof pkt, &v), 0);
    assert_int_equal(v.pt, 109);
    assert_true(v.marker);
    assert_int_equal(v.ssrc, 5);
    assert_memory_equal(pkt + 12, "\xfc\x01\x02", 3); /* payload untouched without vp8 */
    assert_int_equal(rewrite_octets_sent(rw), 3);
    /* Switch from a 48 kHz source after 20 ms: 960 ticks. */
    uint8_t pkt2[] = {0x80, 0x6f, 0x99, 0x99, 0, 0, 0, 0, 0, 0, 0, 8, 0xfc};
    assert_int_equal(rtp_parse(pkt2, sizeof pkt2, &v), 0);
    rewrite_result_t res;
    assert_int_equal(rewrite_packet(rw, pkt2, sizeof pkt2, &v, 20, &res), REWRITE_FORWARD);
    assert_int_equal(res.seq, 0x11);
    assert_int_equal(res.ts, 0x1000 + 960);
    rewrite_set_out_pt(rw, -1);
    uint8_t pkt3[] = {0x80, 0x6f, 0x99, 0x9a, 0, 0, 0x03, 0xc0, 0, 0, 0, 8, 0xfc};
    assert_int_equal(rtp_parse(pkt3, sizeof pkt3, &v), 0);
    assert_int_equal(rewrite_packet(rw, pkt3, sizeof pkt3, &v, 40, &res), REWRITE_FORWARD);
    assert_int_equal(pkt3[1], 0x6f);
    assert_int_equal(res.ts, 0x1000 + 960 + 960);
    assert_int_equal(rewrite_packets_sent(rw), 3);
    /* A switch with no time elapsed still moves the timeline forward. */
    uint8_t pkt4[] = {0x80, 0x6f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0xfc};
    assert_int_equal(rtp_parse(pkt4, sizeof pkt4, &v), 0);
    assert_int_equal(rewrite_packet(rw, pkt4, sizeof pkt4, &v, 40, &res), REWRITE_FORWARD);
    assert_int_equal(res.ts, 0x1000 + 960 + 960 + 1);
    rewrite_free(rw);
    cfg.clock_rate = 0;
    assert_null(rewrite_new(&cfg));
}

/* Feeds p to rewrite_drop (rule 7). */
static int drop(rewrite_t *rw, pkt_t *p)
{
    rtp_view_t v;
    assert_int_equal(rtp_parse(p->buf, p->len, &v), 0);
    pkt_t before = *p;
    int r = rewrite_drop(rw, &v);
    assert_memory_equal(p->buf, before.buf, p->len); /* never touched */
    return r;
}

static void test_drop_closes_the_gap(void **st)
{
    (void)st;
    rewrite_t *rw = new_video();
    source_t a = {.ssrc = 1, .seq = 65500, .ts = 0, .pid = 0, .tl0 = 0};
    seen_t s;
    pkt_t p = next_packet(&a, true);
    assert_int_equal(feed(rw, &p, 0, &s, NULL), REWRITE_FORWARD);
    uint16_t expect = (uint16_t)(s.seq + 1);
    /* Every third packet is a padding probe the SFU drops; a burst of 100 of them across the wrap. */
    for (int i = 0; i < 200; i++) {
        pkt_t q = next_packet(&a, false);
        if (i % 3 == 2 || (i >= 50 && i < 150)) {
            assert_int_equal(drop(rw, &q), 1);
            continue;
        }
        assert_int_equal(feed(rw, &q, 0, &s, NULL), REWRITE_FORWARD);
        assert_int_equal(s.seq, expect);
        expect++;
    }
    /* A duplicate of a dropped packet is not forwarded either (it would take another's number). */
    source_t dup_src = a;
    dup_src.seq = (uint16_t)(a.seq - 3); /* i = 197, a padding probe */
    pkt_t dupl = next_packet(&dup_src, false);
    assert_int_equal(feed(rw, &dupl, 0, NULL, NULL), REWRITE_DROP);
    assert_int_equal(drop(rw, &dupl), 0);
    rewrite_free(rw);
}

static void test_drop_with_reordering_and_folding(void **st)
{
    (void)st;
    rewrite_t *rw = new_video();
    source_t a = {.ssrc = 1, .seq = 10, .ts = 0, .pid = 0, .tl0 = 0};
    pkt_t p[8];
    for (int i = 0; i < 8; i++)
        p[i] = next_packet(&a, i == 0);
    seen_t s;
    /* 0, 1 forwarded; 3 arrives before 2 and is dropped; then 2 (late) gets the number it would
     * have had; 4 follows 2 directly. */
    assert_int_equal(feed(rw, &p[0], 0, &s, NULL), REWRITE_FORWARD);
    uint16_t base = s.seq;
    assert_int_equal(feed(rw, &p[1], 0, &s, NULL), REWRITE_FORWARD);
    assert_int_equal(drop(rw, &p[3]), 1);
    assert_int_equal(feed(rw, &p[2], 0, &s, NULL), REWRITE_FORWARD);
    assert_int_equal(s.seq, (uint16_t)(base + 2));
    assert_int_equal(feed(rw, &p[4], 0, &s, NULL), REWRITE_FORWARD);
    assert_int_equal(s.seq, (uint16_t)(base + 3));
    /* Dropping a packet older than the newest changes nothing: its number was passed already. */
    assert_int_equal(drop(rw, &p[3]), 0);
    /* Another source's packet is not ours to drop. */
    source_t b = {.ssrc = 2, .seq = 1};
    pkt_t other = next_packet(&b, false);
    assert_int_equal(drop(rw, &other), 0);
    /* More scattered drops than ranges kept: the oldest are folded, in-order numbering stays
     * continuous, and a late packet from before a folded range is dropped rather than misnumbered. */
    source_t late_src = a;
    pkt_t late = next_packet(&late_src, false); /* seq of p[7] + 1 … kept back */
    a = late_src;
    uint16_t expect = (uint16_t)(s.seq + 1);
    pkt_t skip5 = p[5];
    assert_int_equal(drop(rw, &skip5), 1);
    assert_int_equal(feed(rw, &p[6], 0, &s, NULL), REWRITE_FORWARD);
    assert_int_equal(s.seq, expect);
    expect++;
    assert_int_equal(feed(rw, &p[7], 0, &s, NULL), REWRITE_FORWARD);
    assert_int_equal(s.seq, expect);
    expect++;
    expect++; /* the late packet, not arrived yet, keeps its number: a gap the subscriber may NACK */
    for (int i = 0; i < 3 * REWRITE_MAX_DROP_RANGES; i++) {
        pkt_t d = next_packet(&a, false);
        assert_int_equal(drop(rw, &d), 1);
        pkt_t q = next_packet(&a, false);
        assert_int_equal(feed(rw, &q, 0, &s, NULL), REWRITE_FORWARD);
        assert_int_equal(s.seq, expect);
        expect++;
    }
    assert_int_equal(feed(rw, &late, 0, NULL, NULL), REWRITE_DROP);
    rewrite_free(rw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continuity_across_three_switches),
        cmocka_unit_test(test_first_packet_keeps_numbers),
        cmocka_unit_test(test_reorder_gap_and_drops),
        cmocka_unit_test(test_publisher_reconnect_same_ssrc),
        cmocka_unit_test(test_audio_payload_type_and_counters),
        cmocka_unit_test(test_drop_closes_the_gap),
        cmocka_unit_test(test_drop_with_reordering_and_folding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_nackbuf.c — the retransmission buffer: store and answer, the 16-bit wrap, overwritten and stale
 * entries, repeated NACKs, oversized packets, the answer to a NACK decoded by rtcp.h, its memory (taken
 * as the leg's rate needs, reused once stale, bounded, given back by clear), and bodies shared between
 * the legs of a track (only identical bytes, each leg's own header kept, kept alive by the legs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nackbuf.h"
#include "rtcp.h"

typedef struct {
    size_t n;
    uint16_t seqs[64];
} sent_t;

/* The "socket": records the seq of each packet resent (its first two bytes here). */
static bool record(void *ctx, const uint8_t *buf, size_t len)
{
    sent_t *s = ctx;
    assert_true(len >= 2);
    if (s->n < 64)
        s->seqs[s->n++] = (uint16_t)(buf[0] << 8 | buf[1]);
    return true;
}

/* A budget of `left` packets, then refusals. */
typedef struct {
    sent_t sent;
    size_t left;
} budget_t;

static bool record_within(void *ctx, const uint8_t *buf, size_t len)
{
    budget_t *b = ctx;
    if (!b->left)
        return false;
    b->left--;
    return record(&b->sent, buf, len);
}

/* nackbuf_get into a buffer of the test's: the packet, or NULL when not held. */
static const uint8_t *get(const nackbuf_t *nb, uint16_t seq, uint64_t now, size_t *len)
{
    static uint8_t buf[NACKBUF_MAX_SLOT_SIZE];
    *len = nackbuf_get(nb, seq, now, buf, sizeof buf);
    return *len ? buf : NULL;
}

static void store_seq(nackbuf_t *nb, uint16_t seq, size_t len, uint64_t now)
{
    uint8_t pkt[1500];
    memset(pkt, seq & 0xff, sizeof pkt);
    pkt[0] = (uint8_t)(seq >> 8);
    pkt[1] = (uint8_t)seq;
    assert_int_equal(nackbuf_store(nb, pkt, len, 0, seq, now), 0);
}

static void test_new_rejects_bad_sizes(void **st)
{
    (void)st;
    assert_null(nackbuf_new(100, 1500, 1000)); /* not a power of two */
    assert_null(nackbuf_new(8, 1500, 1000));
    assert_null(nackbuf_new(65536, 1500, 1000));
    assert_null(nackbuf_new(512, 0, 1000));
    nackbuf_t *nb = nackbuf_new(NACKBUF_DEFAULT_SLOTS, NACKBUF_DEFAULT_SLOT_SIZE, NACKBUF_DEFAULT_MAX_AGE_MS);
    assert_non_null(nb);
    nackbuf_free(nb);
    nackbuf_free(NULL);
}

static void test_store_get_across_wrap(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(64, 1500, 1000);
    for (uint32_t i = 0; i < 40; i++)
        store_seq(nb, (uint16_t)(65520 + i), 100 + i, 10);
    size_t len;
    for (uint32_t i = 0; i < 40; i++) {
        uint16_t seq = (uint16_t)(65520 + i);
        const uint8_t *p = get(nb, seq, 20, &len);
        assert_non_null(p);
        assert_int_equal(len, 100 + i);
        assert_int_equal(p[0] << 8 | p[1], seq);
        assert_int_equal(p[len - 1], seq & 0xff);
    }
    assert_null(get(nb, 65519, 20, &len)); /* never stored */
    assert_null(get(nb, 40, 20, &len));
    nackbuf_free(nb);
}

static void test_overwritten_and_stale(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(16, 1500, 1000);
    for (uint16_t s = 0; s < 20; s++)
        store_seq(nb, s, 50, 100);
    size_t len;
    /* 0–3 were overwritten by 16–19 (same slots): not resent, even though the slot is full. */
    for (uint16_t s = 0; s < 4; s++)
        assert_null(get(nb, s, 100, &len));
    for (uint16_t s = 4; s < 20; s++)
        assert_non_null(get(nb, s, 100, &len));
    /* Exactly max_age old is still fresh; a millisecond later it is stale. */
    assert_non_null(get(nb, 10, 1100, &len));
    assert_null(get(nb, 10, 1101, &len));
    sent_t sent = {0};
    size_t missed;
    uint16_t ask[] = {10, 2};
    assert_int_equal(nackbuf_answer(nb, ask, 2, 2000, record, &sent, &missed), 0);
    assert_int_equal(missed, 2);
    assert_int_equal(sent.n, 0);
    /* Cleared: nothing is found. */
    store_seq(nb, 21, 10, 3000);
    nackbuf_clear(nb);
    assert_null(get(nb, 21, 3000, &len));
    nackbuf_free(nb);
}

static void test_answer_once_per_interval(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(512, 1500, 1000);
    for (uint16_t s = 100; s < 200; s++)
        store_seq(nb, s, 1200, 0);
    sent_t sent = {0};
    size_t missed;
    /* The same seq twice in one NACK, and one never sent. */
    uint16_t ask[] = {110, 111, 110, 250};
    assert_int_equal(nackbuf_answer(nb, ask, 4, 50, record, &sent, &missed), 2);
    assert_int_equal(missed, 1);
    assert_int_equal(sent.seqs[0], 110);
    assert_int_equal(sent.seqs[1], 111);
    /* Asked again 5 ms later (before our answer can have arrived): ignored. */
    assert_int_equal(nackbuf_answer(nb, ask, 2, 55, record, &sent, NULL), 0);
    /* Later, a real second loss: resent again. */
    assert_int_equal(nackbuf_answer(nb, ask, 2, 50 + NACKBUF_MIN_RESEND_MS, record, &sent, NULL), 2);
    assert_int_equal(sent.n, 4);
    nackbuf_free(nb);
}

/* A packet lost again and again on a policed path is resent NACKBUF_MAX_RESENDS times, no more. */
static void test_resends_bounded(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(512, 1500, 1000);
    for (uint16_t s = 100; s < 110; s++)
        store_seq(nb, s, 1200, 0);
    sent_t sent = {0};
    uint16_t ask[] = {105};
    uint64_t now = 20;
    for (int i = 0; i < NACKBUF_MAX_RESENDS + 3; i++, now += NACKBUF_MIN_RESEND_MS)
        nackbuf_answer(nb, ask, 1, now, record, &sent, NULL);
    assert_int_equal(sent.n, NACKBUF_MAX_RESENDS);
    /* others are unaffected */
    uint16_t other[] = {106};
    assert_int_equal(nackbuf_answer(nb, other, 1, now, record, &sent, NULL), 1);
    nackbuf_free(nb);
}

/* When the sender's budget refuses, the rest of the NACK is left, and the refused packets are not
 * counted as resent: the next NACK (with budget again) gets them at once. */
static void test_budget_refusal(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(512, 1500, 1000);
    for (uint16_t s = 100; s < 110; s++)
        store_seq(nb, s, 1200, 0);
    budget_t b = {.left = 2};
    uint16_t ask[] = {101, 102, 103, 104};
    assert_int_equal(nackbuf_answer(nb, ask, 4, 20, record_within, &b, NULL), 2);
    assert_int_equal(b.sent.n, 2);
    assert_int_equal(b.sent.seqs[1], 102);
    b.left = 10;
    assert_int_equal(nackbuf_answer(nb, ask, 4, 21, record_within, &b, NULL), 2); /* 101, 102: too soon */
    assert_int_equal(b.sent.seqs[2], 103);
    assert_int_equal(b.sent.seqs[3], 104);
    nackbuf_free(nb);
}

static void test_too_big(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(16, 100, 1000);
    store_seq(nb, 3, 100, 0);
    uint8_t big[101] = {0};
    size_t len;
    assert_int_equal(nackbuf_store(nb, big, sizeof big, 0, 19, 0), NACKBUF_ERR_TOO_BIG);
    /* The packet 16 numbers earlier in that slot is not handed out for seq 19, nor for its own. */
    assert_null(get(nb, 19, 0, &len));
    assert_null(get(nb, 3, 0, &len));
    nackbuf_free(nb);
}

/* End to end with rtcp.h: a subscriber's NACK bytes, decoded, answered from the buffer. */
static void test_answer_decoded_nack(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(512, 1500, 1000);
    for (uint32_t i = 0; i < 600; i++)
        store_seq(nb, (uint16_t)(65300 + i), 200, 1000 + i);
    uint16_t lost[] = {65530, 65533, 65535, 0, 2, 300};
    uint8_t buf[64];
    long n = rtcp_build_nack(buf, sizeof buf, 0x55, 0x66, lost, 6);
    assert_true(n > 0);
    rtcp_iter_t it;
    rtcp_pkt_t p;
    rtcp_fb_t fb;
    rtcp_iter_init(&it, buf, (size_t)n);
    assert_int_equal(rtcp_next(&it, &p), 1);
    assert_int_equal(rtcp_parse_fb(&p, &fb), 0);
    uint16_t seqs[64];
    int k = rtcp_nack_seqs(&fb, seqs, 64);
    assert_int_equal(k, 6);
    sent_t sent = {0};
    size_t missed;
    assert_int_equal(nackbuf_answer(nb, seqs, (size_t)k, 1700, record, &sent, &missed), 6);
    assert_int_equal(missed, 0);
    /* 65300–65323 were overwritten by 0–23 + 512 later: ask for one of them. */
    uint16_t old = 65301;
    assert_int_equal(nackbuf_answer(nb, &old, 1, 1700, record, &sent, &missed), 0);
    assert_int_equal(missed, 1);
    nackbuf_free(nb);
}

/* Nothing is allocated before the first packet, and clear gives everything back. */
static void test_memory_lazy_and_cleared(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(256, 1300, 1000);
    assert_int_equal(nackbuf_bytes(nb), 0);
    store_seq(nb, 1, 1000, 0);
    assert_true(nackbuf_bytes(nb) > 0);
    assert_true(nackbuf_bytes(nb) <= 256 * 32 + 8192 + 64); /* the index and one chunk */
    nackbuf_clear(nb);
    assert_int_equal(nackbuf_bytes(nb), 0);
    size_t len;
    assert_null(get(nb, 1, 0, &len));
    store_seq(nb, 2, 1000, 0); /* usable again after clear */
    assert_non_null(get(nb, 2, 0, &len));
    nackbuf_free(nb);
}

/* A video leg of 90 packets of 1000 bytes a second for 20 s holds about one second of them: memory
 * follows the rate over max_age, not slots × slot_size; every packet of the last second stays
 * resendable. When the rate falls, the chunks it no longer needs are freed. */
static void test_memory_follows_rate(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(256, 1300, 1000);
    uint16_t seq = 0;
    uint64_t now = 0;
    size_t peak = 0;
    for (int i = 0; i < 20 * 90; i++, seq++) {
        now = (uint64_t)i * 1000 / 90;
        store_seq(nb, seq, 1000, now);
        size_t b = nackbuf_bytes(nb);
        peak = b > peak ? b : peak;
    }
    assert_true(peak < 150 * 1024); /* the bound would be 256 × 1300 = 332,800 */
    size_t len;
    for (uint16_t back = 1; back <= 89; back++)
        assert_non_null(get(nb, (uint16_t)(seq - back), now, &len));
    /* Then 10 packets a second for 5 s: most chunks go stale and are freed. */
    for (int i = 0; i < 50; i++, seq++) {
        now += 100;
        store_seq(nb, seq, 1000, now);
    }
    assert_true(nackbuf_bytes(nb) < 40 * 1024);
    for (uint16_t back = 1; back <= 10; back++)
        assert_non_null(get(nb, (uint16_t)(seq - back), now, &len));
    nackbuf_free(nb);
}

/* At the bound (every chunk holds a fresh packet), the oldest chunk is reused anyway: its packets are
 * gone even where their index entries were not replaced, and memory stays at slots × slot_size. */
static void test_memory_bound(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(16, 100, 1000); /* bound: 1600 bytes */
    for (uint16_t s = 0; s < 16; s++)
        store_seq(nb, s, 100, 0);
    size_t full = nackbuf_bytes(nb);
    store_seq(nb, 16, 100, 0);
    assert_int_equal(nackbuf_bytes(nb), full);
    size_t len;
    const uint8_t *p = get(nb, 16, 0, &len);
    assert_non_null(p);
    assert_int_equal(p[0] << 8 | p[1], 16);
    assert_null(get(nb, 1, 0, &len)); /* in the reused chunk */
    p = get(nb, 15, 0, &len);         /* in the other one */
    assert_non_null(p);
    assert_int_equal(p[0] << 8 | p[1], 15);
    assert_int_equal(p[len - 1], 15);
    nackbuf_free(nb);
}

/* The index grows only while the packets of the last max_age_ms do not fit: a slow leg keeps a small
 * one, a fast one gets up to `slots` entries and keeps every fresh packet. */
static void test_index_grows_as_needed(void **st)
{
    (void)st;
    nackbuf_t *slow = nackbuf_new(512, 1500, 1000), *fast = nackbuf_new(512, 1500, 1000);
    uint16_t seq = 0;
    for (int i = 0; i < 200; i++, seq++) /* 40 packets a second for 5 s */
        store_seq(slow, seq, 100, (uint64_t)i * 25);
    size_t len;
    for (uint16_t back = 1; back <= 40; back++)
        assert_non_null(get(slow, (uint16_t)(seq - back), 199 * 25, &len));
    for (uint16_t s = 0; s < 300; s++) /* 300 in one second */
        store_seq(fast, s, 100, 10 + s * 3u);
    for (uint16_t s = 0; s < 300; s++)
        assert_non_null(get(fast, s, 1000, &len));
    assert_true(nackbuf_bytes(slow) < nackbuf_bytes(fast));
    assert_true(nackbuf_bytes(slow) <= 64 * 32 + 2 * 8192 + 256);
    nackbuf_free(slow);
    nackbuf_free(fast);
}

/* The packet legs of one track send: its own header (first `head` bytes: seq and a leg mark) and the
 * body every leg shares. */
static size_t leg_packet(uint8_t *pkt, int leg, uint16_t seq, size_t head, size_t len)
{
    for (size_t i = 0; i < len; i++)
        pkt[i] = (uint8_t)(seq * 7 + i);
    pkt[0] = (uint8_t)(seq >> 8);
    pkt[1] = (uint8_t)seq;
    for (size_t i = 2; i < head; i++)
        pkt[i] = (uint8_t)(0xA0 + leg);
    return len;
}

/* Three legs of one track: the body is kept once, each leg's packet comes back exactly as it stored it
 * (its own head, the shared body), and the legs hold far less than they would alone. */
static void test_shared_bodies(void **st)
{
    (void)st;
    nackbuf_bodies_t *b = nackbuf_bodies_new(256 * 1300, 1000);
    nackbuf_t *legs[3], *alone = nackbuf_new(256, 1300, 1000);
    for (int k = 0; k < 3; k++) {
        legs[k] = nackbuf_new(256, 1300, 1000);
        nackbuf_share(legs[k], b);
    }
    uint8_t pkt[1300];
    for (uint16_t seq = 0; seq < 90; seq++) {
        for (int k = 0; k < 3; k++)
            assert_int_equal(nackbuf_store(legs[k], pkt, leg_packet(pkt, k, seq, 28, 1000), 28, seq, seq * 11u), 0);
        assert_int_equal(nackbuf_store(alone, pkt, leg_packet(pkt, 0, seq, 28, 1000), 28, seq, seq * 11u), 0);
    }
    size_t shared = nackbuf_bodies_bytes(b);
    assert_true(shared >= 90 * 972);
    assert_true(shared < 90 * 972 + 2 * 8192);
    for (int k = 0; k < 3; k++) {
        assert_true(nackbuf_bytes(legs[k]) < nackbuf_bytes(alone) / 5);
        for (uint16_t seq = 0; seq < 90; seq++) {
            uint8_t want[1300];
            size_t len;
            const uint8_t *p = get(legs[k], seq, 1000, &len);
            assert_non_null(p);
            assert_int_equal(len, leg_packet(want, k, seq, 28, 1000));
            assert_memory_equal(p, want, len);
        }
    }
    /* The track goes (its owner's reference dropped): the legs keep what they reference. */
    nackbuf_bodies_unref(b);
    size_t len;
    assert_non_null(get(legs[1], 50, 1000, &len));
    /* A leg bound to another track's store forgets the old packets. */
    nackbuf_bodies_t *b2 = nackbuf_bodies_new(256 * 1300, 1000);
    nackbuf_share(legs[1], b2);
    assert_null(get(legs[1], 50, 1000, &len));
    nackbuf_bodies_unref(b2);
    for (int k = 0; k < 3; k++)
        nackbuf_free(legs[k]); /* the last references: ASan's leak check sees both stores freed */
    nackbuf_free(alone);
}

/* Bodies that differ between legs (anything the caller did not count in head) are not shared: each leg
 * gets back its own bytes. */
static void test_shared_only_identical(void **st)
{
    (void)st;
    nackbuf_bodies_t *b = nackbuf_bodies_new(64 * 1500, 1000);
    nackbuf_t *l0 = nackbuf_new(64, 1500, 1000), *l1 = nackbuf_new(64, 1500, 1000);
    nackbuf_share(l0, b);
    nackbuf_share(l1, b);
    uint8_t p0[600], p1[600];
    leg_packet(p0, 0, 7, 20, sizeof p0);
    leg_packet(p1, 1, 7, 20, sizeof p1);
    p1[599] ^= 0xFF; /* the last byte differs */
    assert_int_equal(nackbuf_store(l0, p0, sizeof p0, 20, 7, 0), 0);
    assert_int_equal(nackbuf_store(l1, p1, sizeof p1, 20, 7, 0), 0);
    size_t len;
    const uint8_t *g = get(l0, 7, 0, &len);
    assert_int_equal(len, sizeof p0);
    assert_memory_equal(g, p0, len);
    g = get(l1, 7, 0, &len);
    assert_int_equal(len, sizeof p1);
    assert_memory_equal(g, p1, len);
    /* Answering reassembles too. */
    sent_t sent = {0};
    uint16_t ask = 7;
    assert_int_equal(nackbuf_answer(l1, &ask, 1, 5, record, &sent, NULL), 1);
    assert_int_equal(sent.seqs[0], 7);
    nackbuf_free(l0);
    nackbuf_free(l1);
    nackbuf_bodies_unref(b);
}

/* When the shared body's chunk is reused (the track's store at its bound), the legs' packets that used
 * it are gone too, even though their own heads are still held. */
static void test_shared_body_reused(void **st)
{
    (void)st;
    nackbuf_bodies_t *b = nackbuf_bodies_new(4 * 1500, 1000); /* chunks of 3000 bytes, two of them */
    nackbuf_t *l = nackbuf_new(256, 1500, 1000);
    nackbuf_share(l, b);
    uint8_t pkt[1000];
    for (uint16_t seq = 0; seq < 9; seq++)
        assert_int_equal(nackbuf_store(l, pkt, leg_packet(pkt, 0, seq, 20, sizeof pkt), 20, seq, 0), 0);
    size_t len;
    assert_null(get(l, 0, 0, &len)); /* its body's chunk was reused for 6–8 */
    assert_non_null(get(l, 8, 0, &len));
    assert_true(nackbuf_bodies_bytes(b) <= 4 * 1500);
    nackbuf_free(l);
    nackbuf_bodies_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_sizes),
        cmocka_unit_test(test_store_get_across_wrap),
        cmocka_unit_test(test_overwritten_and_stale),
        cmocka_unit_test(test_answer_once_per_interval),
        cmocka_unit_test(test_resends_bounded),
        cmocka_unit_test(test_budget_refusal),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_answer_decoded_nack),
        cmocka_unit_test(test_memory_lazy_and_cleared),
        cmocka_unit_test(test_memory_follows_rate),
        cmocka_unit_test(test_memory_bound),
        cmocka_unit_test(test_index_grows_as_needed),
        cmocka_unit_test(test_shared_bodies),
        cmocka_unit_test(test_shared_only_identical),
        cmocka_unit_test(test_shared_body_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

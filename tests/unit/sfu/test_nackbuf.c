/* test_nackbuf.c — the retransmission buffer: store and answer, the 16-bit wrap, overwritten and stale
 * entries, repeated NACKs, oversized packets, the answer to a NACK decoded by rtcp.h, and its memory:
 * taken as the leg's rate needs, reused once stale, bounded, given back by clear. */
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
static void record(void *ctx, const uint8_t *buf, size_t len)
{
    sent_t *s = ctx;
    assert_true(len >= 2);
    if (s->n < 64)
        s->seqs[s->n++] = (uint16_t)(buf[0] << 8 | buf[1]);
}

static void store_seq(nackbuf_t *nb, uint16_t seq, size_t len, uint64_t now)
{
    uint8_t pkt[1500];
    memset(pkt, seq & 0xff, sizeof pkt);
    pkt[0] = (uint8_t)(seq >> 8);
    pkt[1] = (uint8_t)seq;
    assert_int_equal(nackbuf_store(nb, pkt, len, seq, now), 0);
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
        const uint8_t *p = nackbuf_get(nb, seq, 20, &len);
        assert_non_null(p);
        assert_int_equal(len, 100 + i);
        assert_int_equal(p[0] << 8 | p[1], seq);
        assert_int_equal(p[len - 1], seq & 0xff);
    }
    assert_null(nackbuf_get(nb, 65519, 20, &len)); /* never stored */
    assert_null(nackbuf_get(nb, 40, 20, &len));
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
        assert_null(nackbuf_get(nb, s, 100, &len));
    for (uint16_t s = 4; s < 20; s++)
        assert_non_null(nackbuf_get(nb, s, 100, &len));
    /* Exactly max_age old is still fresh; a millisecond later it is stale. */
    assert_non_null(nackbuf_get(nb, 10, 1100, &len));
    assert_null(nackbuf_get(nb, 10, 1101, &len));
    sent_t sent = {0};
    size_t missed;
    uint16_t ask[] = {10, 2};
    assert_int_equal(nackbuf_answer(nb, ask, 2, 2000, record, &sent, &missed), 0);
    assert_int_equal(missed, 2);
    assert_int_equal(sent.n, 0);
    /* Cleared: nothing is found. */
    store_seq(nb, 21, 10, 3000);
    nackbuf_clear(nb);
    assert_null(nackbuf_get(nb, 21, 3000, &len));
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

static void test_too_big(void **st)
{
    (void)st;
    nackbuf_t *nb = nackbuf_new(16, 100, 1000);
    store_seq(nb, 3, 100, 0);
    uint8_t big[101] = {0};
    size_t len;
    assert_int_equal(nackbuf_store(nb, big, sizeof big, 19, 0), NACKBUF_ERR_TOO_BIG);
    /* The packet 16 numbers earlier in that slot is not handed out for seq 19, nor for its own. */
    assert_null(nackbuf_get(nb, 19, 0, &len));
    assert_null(nackbuf_get(nb, 3, 0, &len));
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
    assert_true(nackbuf_bytes(nb) < 16 * 1024);
    nackbuf_clear(nb);
    assert_int_equal(nackbuf_bytes(nb), 0);
    size_t len;
    assert_null(nackbuf_get(nb, 1, 0, &len));
    store_seq(nb, 2, 1000, 0); /* usable again after clear */
    assert_non_null(nackbuf_get(nb, 2, 0, &len));
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
        assert_non_null(nackbuf_get(nb, (uint16_t)(seq - back), now, &len));
    /* Then 10 packets a second for 5 s: most chunks go stale and are freed. */
    for (int i = 0; i < 50; i++, seq++) {
        now += 100;
        store_seq(nb, seq, 1000, now);
    }
    assert_true(nackbuf_bytes(nb) < 40 * 1024);
    for (uint16_t back = 1; back <= 10; back++)
        assert_non_null(nackbuf_get(nb, (uint16_t)(seq - back), now, &len));
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
    const uint8_t *p = nackbuf_get(nb, 16, 0, &len);
    assert_non_null(p);
    assert_int_equal(p[0] << 8 | p[1], 16);
    assert_null(nackbuf_get(nb, 1, 0, &len)); /* in the reused chunk */
    p = nackbuf_get(nb, 15, 0, &len);         /* in the other one */
    assert_non_null(p);
    assert_int_equal(p[0] << 8 | p[1], 15);
    assert_int_equal(p[len - 1], 15);
    nackbuf_free(nb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_sizes),
        cmocka_unit_test(test_store_get_across_wrap),
        cmocka_unit_test(test_overwritten_and_stale),
        cmocka_unit_test(test_answer_once_per_interval),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_answer_decoded_nack),
        cmocka_unit_test(test_memory_lazy_and_cleared),
        cmocka_unit_test(test_memory_follows_rate),
        cmocka_unit_test(test_memory_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

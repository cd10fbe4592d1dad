/* test_twcc.c — transport-cc feedback decoding: each chunk form (run length, one-bit and two-bit status
 * vectors), small and large/negative deltas, a built message read back, and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "twcc.h"

static rtcp_twcc_t fb_of(const uint8_t *fci, size_t len)
{
    rtcp_twcc_t t;
    t.base_seq = (uint16_t)(fci[0] << 8 | fci[1]);
    t.status_count = (uint16_t)(fci[2] << 8 | fci[3]);
    uint32_t ref = (uint32_t)fci[4] << 16 | (uint32_t)fci[5] << 8 | fci[6];
    t.reference_time = (ref & 0x800000u) ? (int32_t)ref - 0x1000000 : (int32_t)ref;
    t.fb_count = fci[7];
    t.rest = fci + 8;
    t.rest_len = len - 8;
    return t;
}

/* The draft's forms by hand: a run of 3 "small delta", then a two-bit vector; then a one-bit vector. */
static void test_chunk_forms(void **st)
{
    (void)st;
    const uint8_t fci[] = {
        0xff, 0xfe, 0x00, 0x0a, 0x00, 0x00, 0x02, 0x07, /* base 65534, 10 statuses, ref 2 (128 ms), fb 7 */
        0x20, 0x03,                                     /* run length: symbol 1 × 3 */
        0xe0, 0x10,                                     /* two-bit vector: 2,0,0,0,1,0,0 */
        4, 8, 0,    /* small deltas: 1 ms, 2 ms, 0 */
        0xff, 0xfc, /* large delta: -4 × 250 µs = -1 ms */
        12,         /* small: 3 ms */
        0, 0,
    };
    rtcp_twcc_t t = fb_of(fci, sizeof fci);
    twcc_pkt_t out[16];
    assert_int_equal(twcc_decode(&t, out, 16), 10);
    assert_int_equal(out[0].seq, 65534);
    assert_int_equal(out[2].seq, 0); /* wraps */
    assert_true(out[0].received && out[1].received && out[2].received);
    assert_int_equal(out[0].arrival_us, 128000 + 1000);
    assert_int_equal(out[1].arrival_us, 128000 + 3000);
    assert_int_equal(out[2].arrival_us, 128000 + 3000);
    assert_true(out[3].received);
    assert_int_equal(out[3].arrival_us, 128000 + 2000);
    for (int i = 4; i < 7; i++)
        assert_false(out[i].received);
    assert_true(out[7].received);
    assert_int_equal(out[7].arrival_us, 128000 + 5000);
    assert_false(out[8].received);
    assert_false(out[9].received);
    /* fewer slots than statuses: the first ones */
    assert_int_equal(twcc_decode(&t, out, 2), 2);

    const uint8_t one_bit[] = {0, 0, 0, 14, 0xff, 0xff, 0xff, 0, 0xa0, 0x01, 4, 8, 0, 0}; /* ref -1: -64 ms */
    t = fb_of(one_bit, sizeof one_bit);
    assert_int_equal(twcc_decode(&t, out, 16), 14);
    assert_true(out[0].received);
    assert_int_equal(out[0].arrival_us, -64000 + 1000);
    for (int i = 1; i < 13; i++)
        assert_false(out[i].received);
    assert_true(out[13].received);
    assert_int_equal(out[13].arrival_us, -64000 + 3000);
}

static void test_round_trip(void **st)
{
    (void)st;
    bool rx[40];
    int64_t at[40];
    for (int i = 0; i < 40; i++) {
        rx[i] = i % 5 != 3;
        at[i] = 5000000 + i * 3000 - (i == 10 ? 9000 : 0); /* one reordered arrival: a negative delta */
    }
    uint8_t fci[256];
    long n = twcc_build_fci(fci, sizeof fci, 100, rx, at, 40, 1);
    assert_true(n > 8);
    rtcp_twcc_t t = fb_of(fci, (size_t)n);
    twcc_pkt_t out[64];
    assert_int_equal(twcc_decode(&t, out, 64), 40);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(out[i].seq, 100 + i);
        assert_int_equal(out[i].received, rx[i]);
        if (rx[i])
            assert_int_equal(out[i].arrival_us / 250, at[i] / 250);
    }
}

/* Arrival times before the reference's zero (a feedback whose reference time is negative, as the fuzzer
 * found): each rebuilt time falls in the same 250 µs tick as the original, rounded down on both sides of
 * zero. Rounding towards zero made a later arrival just below zero come back one tick early. */
static void test_round_trip_before_zero(void **st)
{
    (void)st;
    bool rx[4] = {true, true, true, true};
    int64_t at[4] = {-300, -100, 100, -64100};
    uint8_t fci[64];
    long n = twcc_build_fci(fci, sizeof fci, 7, rx, at, 4, 0);
    assert_true(n > 8);
    rtcp_twcc_t t = fb_of(fci, (size_t)n);
    twcc_pkt_t out[4];
    assert_int_equal(twcc_decode(&t, out, 4), 4);
    const int64_t want[4] = {-500, -250, 0, -64250}; /* the start of each one's tick */
    for (int i = 0; i < 4; i++)
        assert_int_equal(out[i].arrival_us, want[i]);
    /* a first arrival below the 24-bit reference time's range cannot be written */
    int64_t too_early = -0x800000LL * 64000 - 250;
    assert_int_equal(twcc_build_fci(fci, sizeof fci, 7, rx, &too_early, 1, 0), -1);
}

static void test_malformed(void **st)
{
    (void)st;
    twcc_pkt_t out[16];
    /* 5 statuses announced, chunks end early */
    const uint8_t short_chunks[] = {0, 1, 0, 5, 0, 0, 0, 0, 0x20, 0x02};
    rtcp_twcc_t t = fb_of(short_chunks, sizeof short_chunks);
    assert_int_equal(twcc_decode(&t, out, 16), TWCC_ERR_SHORT);
    /* deltas missing */
    const uint8_t no_deltas[] = {0, 1, 0, 2, 0, 0, 0, 0, 0x20, 0x02};
    t = fb_of(no_deltas, sizeof no_deltas);
    assert_int_equal(twcc_decode(&t, out, 16), TWCC_ERR_SHORT);
    /* the reserved symbol 3 */
    const uint8_t reserved[] = {0, 1, 0, 1, 0, 0, 0, 0, 0x60, 0x01, 0, 0};
    t = fb_of(reserved, sizeof reserved);
    assert_int_equal(twcc_decode(&t, out, 16), TWCC_ERR_SYMBOL);
    /* a huge run of "not received" is fine and bounded by the caller's table */
    const uint8_t lost[] = {0, 1, 0x1f, 0xff, 0, 0, 0, 0, 0x1f, 0xff, 0, 0};
    t = fb_of(lost, sizeof lost);
    assert_int_equal(twcc_decode(&t, out, 16), 16);
    assert_false(out[15].received);
    /* a builder with no room */
    bool rx = true;
    int64_t at = 0;
    uint8_t tiny[6];
    assert_int_equal(twcc_build_fci(tiny, sizeof tiny, 0, &rx, &at, 1, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_forms),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_before_zero),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

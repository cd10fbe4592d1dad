/* test_rtpstats.c — the SFU's own RTCP report contents, with time passed explicitly: loss and fraction
 * lost per interval (RFC 3550 A.3), sequence wrap, jitter of a steady and of a jittery stream (A.8),
 * LSR/DLSR, and a publisher's SR carried forward to now (NTP and RTP advance together). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "rtpstats.h"

static void test_no_report_before_a_packet(void **st)
{
    (void)st;
    rtpstats_rx_t r;
    rtpstats_rx_init(&r, 90000);
    rtcp_report_t rep = {.ssrc = 7};
    assert_false(rtpstats_rx_report(&r, 1, 0, &rep));
    assert_int_equal(rep.ssrc, 7);
    uint64_t ntp;
    uint32_t ts;
    assert_false(rtpstats_sr_now(&r, 0, 5000000, &ntp, &ts));
}

static void test_loss_and_fraction_per_interval(void **st)
{
    (void)st;
    rtpstats_rx_t r;
    rtpstats_rx_init(&r, 90000);
    /* Packets 1000..1099 sent, every 10th lost. */
    for (uint16_t s = 1000; s < 1100; s++)
        if (s % 10)
            rtpstats_rx_packet(&r, s, s * 3000u, (uint64_t)s * 33333);
    rtcp_report_t rep;
    assert_true(rtpstats_rx_report(&r, 0xabcd, 40000000, &rep));
    assert_int_equal(rep.ssrc, 0xabcd);
    /* 1000 itself is a multiple of 10, so the first received is 1001 and expected counts from it: 99
     * expected (1001..1099), 9 of them lost (1010, 1020, … 1090). */
    assert_int_equal(rep.highest_seq, 1099);
    assert_int_equal(rep.cumulative_lost, 9);
    assert_int_equal(rep.fraction_lost, (9 * 256) / 99);
    /* The next interval: 50 packets, none lost → fraction 0, cumulative unchanged. */
    for (uint16_t s = 1100; s < 1150; s++)
        rtpstats_rx_packet(&r, s, s * 3000u, (uint64_t)s * 33333);
    assert_true(rtpstats_rx_report(&r, 0xabcd, 50000000, &rep));
    assert_int_equal(rep.fraction_lost, 0);
    assert_int_equal(rep.cumulative_lost, 9);
    assert_int_equal(rep.highest_seq, 1149);
}

static void test_wrap_counts_a_cycle(void **st)
{
    (void)st;
    rtpstats_rx_t r;
    rtpstats_rx_init(&r, 48000);
    for (uint32_t i = 0; i < 20; i++)
        rtpstats_rx_packet(&r, (uint16_t)(65530 + i), i * 960, i * 20000);
    rtcp_report_t rep;
    assert_true(rtpstats_rx_report(&r, 1, 400000, &rep));
    assert_int_equal(rep.highest_seq, 65536 + 13); /* one cycle, then seq 13 */
    assert_int_equal(rep.cumulative_lost, 0);
    assert_int_equal(rep.fraction_lost, 0);
}

static void test_duplicates_make_loss_negative_not_huge(void **st)
{
    (void)st;
    rtpstats_rx_t r;
    rtpstats_rx_init(&r, 90000);
    for (int i = 0; i < 3; i++)
        rtpstats_rx_packet(&r, 5, 0, 0);
    rtcp_report_t rep;
    assert_true(rtpstats_rx_report(&r, 1, 0, &rep));
    assert_int_equal(rep.cumulative_lost, -2);
    assert_int_equal(rep.fraction_lost, 0);
}

static void test_jitter(void **st)
{
    (void)st;
    /* Steady: one packet every 20 ms carrying 20 ms of 48 kHz audio → no jitter. */
    rtpstats_rx_t r;
    rtpstats_rx_init(&r, 48000);
    for (uint32_t i = 0; i < 200; i++)
        rtpstats_rx_packet(&r, (uint16_t)i, 12345 + i * 960, 1000000 + (uint64_t)i * 20000);
    rtcp_report_t rep;
    assert_true(rtpstats_rx_report(&r, 1, 5000000, &rep));
    assert_int_equal(rep.jitter, 0);
    /* Every other packet arrives 10 ms late: |D| = 10 ms = 480 units each time; J converges to 480. */
    rtpstats_rx_init(&r, 48000);
    for (uint32_t i = 0; i < 400; i++)
        rtpstats_rx_packet(&r, (uint16_t)i, i * 960, 1000000 + (uint64_t)i * 20000 + (i % 2 ? 10000 : 0));
    assert_true(rtpstats_rx_report(&r, 1, 9000000, &rep));
    assert_in_range(rep.jitter, 440, 480);
}

static void test_lsr_dlsr(void **st)
{
    (void)st;
    rtpstats_rx_t r;
    rtpstats_rx_init(&r, 90000);
    rtpstats_rx_packet(&r, 1, 0, 0);
    uint64_t ntp = (0x12345678ull << 32) | 0x9abcdef0u;
    rtpstats_rx_sr(&r, ntp, 90000, 2000000);
    rtcp_report_t rep;
    assert_true(rtpstats_rx_report(&r, 1, 2500000, &rep));
    assert_int_equal(rep.lsr, 0x56789abcu);
    assert_int_equal(rep.dlsr, 32768); /* 0.5 s in 1/65536 s */
}

static void test_sr_carried_forward(void **st)
{
    (void)st;
    rtpstats_rx_t r;
    rtpstats_rx_init(&r, 90000);
    uint64_t ntp0 = 3900000000ull << 32; /* whole seconds */
    rtpstats_rx_sr(&r, ntp0, 0xfffff000u, 10000000);
    uint64_t ntp;
    uint32_t ts;
    /* 1.25 s later: NTP + 1.25 s, RTP + 112500 (wrapping past 2^32). */
    assert_true(rtpstats_sr_now(&r, 11250000, 5000000, &ntp, &ts));
    assert_int_equal(ntp >> 32, 3900000001ull);
    assert_int_equal((uint32_t)ntp, 0x40000000u);
    assert_int_equal(ts, (uint32_t)(0xfffff000u + 112500u));
    /* The same instant: an SR at the moment it arrived maps to itself. */
    assert_true(rtpstats_sr_now(&r, 10000000, 5000000, &ntp, &ts));
    assert_int_equal(ntp, ntp0);
    assert_int_equal(ts, 0xfffff000u);
    /* Too old: refused rather than extrapolated across minutes of clock drift. */
    assert_false(rtpstats_sr_now(&r, 16000001, 5000000, &ntp, &ts));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_report_before_a_packet),
        cmocka_unit_test(test_loss_and_fraction_per_interval),
        cmocka_unit_test(test_wrap_counts_a_cycle),
        cmocka_unit_test(test_duplicates_make_loss_negative_not_huge),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_lsr_dlsr),
        cmocka_unit_test(test_sr_carried_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

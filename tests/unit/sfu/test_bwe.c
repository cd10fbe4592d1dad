/* test_bwe.c — the estimator (bwe.c) and the layer choice (layers.c) in a closed loop over a simulated
 * link: a bottleneck of given capacity with a drop-tail queue of 100 ms (what `tc tbf latency 100ms`
 * does), 20 ms each way, feedback every 100 ms. The sender sends the chosen layer (100 / 300 / 900
 * kbit/s) plus 48 kbit/s of audio, in 1000-byte packets. Checked: a steady link never switches, a
 * capacity drop to 300 kbit/s brings the lowest layer within 5 s, and lifting it brings the top layer
 * back within 15 s; the estimator alone tracks capacity down and up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bwe.h"
#include "layers.h"

#define PKT 1000
#define PROP_US 20000
#define QUEUE_US 100000
#define MAXPK 200000

typedef struct {
    bwe_t *bwe;
    double cap_bps;
    uint64_t busy_until;
    uint16_t seq;
    uint64_t t;          /* µs */
    double credit;       /* bytes the sender may send */
    /* sent packets waiting to be reported */
    struct {
        uint16_t seq;
        bool rx;
        int64_t arrival;
        uint64_t sent;
    } q[MAXPK];
    size_t nq, reported;
    uint64_t next_fb;
    layers_leg_t leg;
    int switches_at[64];
    size_t nsw;
} sim_t;

static const uint32_t LAYER_BPS[3] = {100000, 300000, 900000};

static void sim_init(sim_t *s, double cap)
{
    memset(s, 0, sizeof *s);
    bwe_config_t c = {0};
    s->bwe = bwe_new(&c);
    s->cap_bps = cap;
    s->t = 1000000;
    s->next_fb = s->t + 100000;
    s->leg.chosen = -1;
    s->leg.visible = true;
    s->leg.nlayers = 3;
    for (int i = 0; i < 3; i++) {
        s->leg.bps[i] = LAYER_BPS[i];
        s->leg.width[i] = (uint16_t)(160 << i);
    }
}

/* Runs the loop until t_end (µs), with the layer choice every 250 ms when choose is set, else sending
 * rate_bps. */
static void sim_run(sim_t *s, uint64_t t_end, bool choose, double rate_bps)
{
    uint64_t next_choice = s->t;
    while (s->t < t_end) {
        if (choose && s->t >= next_choice) {
            int before = s->leg.chosen;
            uint32_t est = bwe_estimate(s->bwe);
            layers_leg_t *l = &s->leg;
            layers_allocate(&l, 1, est > 48000 ? est - 48000 : 0, s->t / 1000);
            if (s->leg.started && before >= 0 && before != s->leg.chosen && s->nsw < 64)
                s->switches_at[s->nsw++] = (int)(s->t / 1000);
            next_choice += 250000;
        }
        double rate = choose ? (s->leg.chosen >= 0 ? LAYER_BPS[s->leg.chosen] : 0) + 48000 : rate_bps;
        s->credit += rate / 8 * 0.005;
        while (s->credit >= PKT && s->nq < MAXPK) {
            s->credit -= PKT;
            uint64_t start = s->busy_until > s->t ? s->busy_until : s->t;
            bool rx = start - s->t <= QUEUE_US;
            if (rx)
                s->busy_until = start + (uint64_t)(PKT * 8 / s->cap_bps * 1e6);
            s->q[s->nq].seq = s->seq;
            s->q[s->nq].rx = rx;
            s->q[s->nq].arrival = rx ? (int64_t)(s->busy_until + PROP_US) + 7000000000LL : 0; /* another clock */
            s->q[s->nq].sent = s->t;
            s->nq++;
            bwe_sent(s->bwe, s->seq++, PKT, s->t);
        }
        if (s->t >= s->next_fb) {
            /* report what was sent up to 150 ms ago (it has arrived or been dropped), 20 ms later */
            twcc_pkt_t fb[4096];
            size_t n = 0;
            while (s->reported < s->nq && s->q[s->reported].sent + 150000 <= s->t && n < 4096) {
                fb[n].seq = s->q[s->reported].seq;
                fb[n].received = s->q[s->reported].rx;
                fb[n].arrival_us = s->q[s->reported].arrival;
                n++;
                s->reported++;
            }
            bwe_feedback(s->bwe, fb, n, s->t + PROP_US);
            s->next_fb += 100000;
        }
        s->t += 5000;
    }
}

static void test_estimate_tracks_capacity(void **st)
{
    (void)st;
    static sim_t s;
    sim_init(&s, 5e6);
    sim_run(&s, 11000000, false, 1.2e6); /* 10 s at 1.2 Mbit/s on a 5 Mbit/s link */
    uint32_t e = bwe_estimate(s.bwe);
    assert_true(e >= 1200000);
    s.cap_bps = 300000; /* capacity drops below the rate; the sender follows the estimate */
    for (int i = 0; i < 30; i++) {
        double r = bwe_estimate(s.bwe) * 0.9;
        sim_run(&s, s.t + 100000, false, r > 1.2e6 ? 1.2e6 : r);
    }
    e = bwe_estimate(s.bwe);
    printf("# after 3 s at 300 kbit/s: %u bit/s\n", e);
    assert_true(e < 400000);
    s.cap_bps = 5e6; /* and comes back (slowly at first: near the capacity it last saw, the estimate
                      * grows by 5 % of it a second until the acked rate passes it) */
    for (int i = 0; i < 150; i++) {
        double r = bwe_estimate(s.bwe) * 0.9;
        sim_run(&s, s.t + 100000, false, r > 2e6 ? 2e6 : r);
    }
    e = bwe_estimate(s.bwe);
    printf("# 15 s after the limit is lifted: %u bit/s\n", e);
    assert_true(e > 1000000);
    bwe_free(s.bwe);
}

static void test_steady_link_never_switches(void **st)
{
    (void)st;
    static sim_t s;
    sim_init(&s, 5e6);
    sim_run(&s, 61000000, true, 0);
    assert_int_equal(s.leg.chosen, 2);
    assert_int_equal(s.nsw, 0);
    bwe_free(s.bwe);
}

static void test_drop_then_recovery(void **st)
{
    (void)st;
    static sim_t s;
    sim_init(&s, 5e6);
    sim_run(&s, 11000000, true, 0);
    assert_int_equal(s.leg.chosen, 2);
    s.cap_bps = 300000;
    uint64_t drop_at = s.t;
    while (s.leg.chosen != 0 && s.t < drop_at + 5000000)
        sim_run(&s, s.t + 50000, true, 0);
    printf("# down to the lowest layer %llu ms after the drop\n", (unsigned long long)(s.t - drop_at) / 1000);
    assert_int_equal(s.leg.chosen, 0);
    sim_run(&s, s.t + 20000000, true, 0); /* 20 s constrained: probes stay rare */
    size_t probes = s.nsw;
    printf("# switches while constrained (incl. the drop): %zu at", probes);
    for (size_t i = 0; i < s.nsw; i++)
        printf(" %d", s.switches_at[i] - (int)(drop_at / 1000));
    printf(" ms\n");
    assert_true(probes <= 8);
    s.cap_bps = 5e6;
    uint64_t lift_at = s.t;
    while (s.leg.chosen != 2 && s.t < lift_at + 15000000)
        sim_run(&s, s.t + 50000, true, 0);
    printf("# back to the top layer %llu ms after the limit was lifted\n", (unsigned long long)(s.t - lift_at) / 1000);
    assert_int_equal(s.leg.chosen, 2);
    bwe_free(s.bwe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate_tracks_capacity),
        cmocka_unit_test(test_steady_link_never_switches),
        cmocka_unit_test(test_drop_then_recovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

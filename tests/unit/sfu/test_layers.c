/* test_layers.c — the layer choice (layers.c): lowest layers first for everyone, the dominant speaker
 * raised first, hidden tiles get nothing, a small tile caps the layer, and the hysteresis: a budget just
 * around a layer's rate does not flap, a failed probe doubles the hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "layers.h"

static void leg_init(layers_leg_t *l)
{
    memset(l, 0, sizeof *l);
    l->chosen = -1;
    l->visible = true;
    l->nlayers = 3;
    l->bps[0] = 100000;
    l->bps[1] = 300000;
    l->bps[2] = 900000;
    l->width[0] = 120;
    l->width[1] = 240;
    l->width[2] = 480;
}

static void test_speaker_first_and_floor(void **st)
{
    (void)st;
    layers_leg_t a, b, c;
    leg_init(&a);
    leg_init(&b);
    leg_init(&c);
    c.speaker = true;
    layers_leg_t *legs[] = {&a, &b, &c};
    /* 1.4 Mbit/s: everyone's lowest (300k), then the speaker to the top (+800k, and the 25 % margin of a
     * step up: 1025k of the 1.1M left); the 300k left raise the next in order by one step, not both */
    assert_int_equal(layers_allocate(legs, 3, 1400000, 1000), 3);
    assert_int_equal(c.chosen, 2);
    assert_int_equal(a.chosen, 1);
    assert_int_equal(b.chosen, 0);
    /* too little for anyone's lowest: still the lowest (a picture rather than a freeze) */
    layers_leg_t d;
    leg_init(&d);
    layers_leg_t *one[] = {&d};
    layers_allocate(one, 1, 10000, 1000);
    assert_int_equal(d.chosen, 0);
}

/* A leg stepping up never pushes down another that keeps its layer: with room for one leg above the
 * lowest, the one already there stays, whatever the order. */
static void test_keeping_before_stepping_up(void **st)
{
    (void)st;
    layers_leg_t a, b;
    leg_init(&a);
    leg_init(&b);
    layers_leg_t *legs[] = {&a, &b};
    /* 500k: both lowest (200k), then a (first in order) up one step (with the 25 % margin: 275k of the
     * 300k left); b's step would need 275k of the 25k left */
    layers_allocate(legs, 2, 500000, 1000);
    assert_int_equal(a.chosen, 1);
    assert_int_equal(b.chosen, 0);
    /* b's layer 1 now looks cheaper (its step would fit in the 300k above the lowest layers) and b comes
     * first: a still keeps its step, and b's does not fit in what is left */
    b.bps[1] = 250000;
    layers_leg_t *swapped[] = {&b, &a};
    for (uint64_t t = 2000; t < 60000; t += 250)
        layers_allocate(swapped, 2, 500000, t);
    assert_int_equal(a.chosen, 1);
    assert_int_equal(b.chosen, 0);
    assert_int_equal(a.switches + b.switches, 0);
}

static void test_hidden_and_tile_size(void **st)
{
    (void)st;
    layers_leg_t a, b;
    leg_init(&a);
    leg_init(&b);
    a.visible = false;
    b.tile_width = 200; /* a 200-pixel tile needs the 240-wide layer, no more */
    layers_leg_t *legs[] = {&a, &b};
    layers_allocate(legs, 2, 10000000, 1000);
    assert_int_equal(a.chosen, -1);
    assert_int_equal(b.chosen, 1);
    /* unknown widths: no cap */
    b.width[1] = 0;
    layers_allocate(legs, 2, 10000000, 2000);
    assert_int_equal(b.chosen, 2);
    /* a layer that stopped arriving is not chosen */
    b.bps[2] = 0;
    layers_allocate(legs, 2, 10000000, 3000);
    assert_int_equal(b.chosen, 1);
    a.visible = true;
    layers_allocate(legs, 2, 10000000, 4000);
    assert_int_equal(a.chosen, 2);
}

static void test_hysteresis(void **st)
{
    (void)st;
    layers_leg_t a;
    leg_init(&a);
    layers_leg_t *legs[] = {&a};
    layers_allocate(legs, 1, 1000000, 0); /* a step up needs 1125k */
    assert_int_equal(a.chosen, 1);
    layers_allocate(legs, 1, 1200000, 0);
    assert_int_equal(a.chosen, 2);
    a.switches = 0;
    /* a budget wobbling around 900k: staying needs only the rate, so 905k–1M keeps it */
    for (uint64_t t = 250; t < 10000; t += 250)
        layers_allocate(legs, 1, t % 500 ? 905000 : 1000000, t);
    assert_int_equal(a.chosen, 2);
    assert_int_equal(a.switches, 0);
    /* down below it: down at once */
    layers_allocate(legs, 1, 800000, 10000);
    assert_int_equal(a.chosen, 1);
    /* back at 1M: 900k × 1.25 does not fit — no up-switch; at 1.2M, not before the 3 s hold */
    layers_allocate(legs, 1, 1000000, 10250);
    assert_int_equal(a.chosen, 1);
    layers_allocate(legs, 1, 1200000, 12000);
    assert_int_equal(a.chosen, 1);
    layers_allocate(legs, 1, 1200000, 13000);
    assert_int_equal(a.chosen, 2);
    /* a failed probe (down again within the hold) doubles the hold: 6 s */
    layers_allocate(legs, 1, 800000, 14000);
    assert_int_equal(a.chosen, 1);
    layers_allocate(legs, 1, 1200000, 19000);
    assert_int_equal(a.chosen, 1);
    layers_allocate(legs, 1, 1200000, 20000);
    assert_int_equal(a.chosen, 2);
    assert_int_equal(a.switches, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_speaker_first_and_floor),
        cmocka_unit_test(test_keeping_before_stepping_up),
        cmocka_unit_test(test_hidden_and_tile_size),
        cmocka_unit_test(test_hysteresis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_speaker.c — dominant speaker: the first speaker takes the floor, hysteresis (two equal speakers
 * never oscillate, a louder one needs 1.5 s without a break), silence never switches, DTX fades, the V
 * bit with use_vad, removal of the dominant speaker. Time is simulated: 20 ms audio packets, a tick
 * every 100 ms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "speaker.h"

#define VOICE 0x80

/* What one participant sends during a simulation: a level (-dBov) or nothing (-1: DTX silence). */
typedef int (*level_fn)(uint32_t id, uint64_t now, void *ctx);

typedef struct {
    unsigned changes;
    uint64_t last_change_ms;
    uint32_t dominant;
} sim_t;

/* Runs from `from` to `to` ms: each of ids[0..n) sends a packet every 20 ms, a tick every 100 ms. */
static void run(speaker_t *s, const uint32_t *ids, size_t n, uint64_t from, uint64_t to, level_fn f, void *ctx,
                sim_t *sim)
{
    for (uint64_t t = from; t < to; t += 20) {
        for (size_t i = 0; i < n; i++) {
            int lvl = f(ids[i], t, ctx);
            if (lvl >= 0)
                speaker_level(s, ids[i], (uint8_t)(VOICE | lvl), t);
        }
        if (t % 100 == 0) {
            uint32_t d;
            if (speaker_tick(s, t, &d)) {
                sim->changes++;
                sim->last_change_ms = t;
            }
            sim->dominant = d;
            assert_int_equal(d, speaker_dominant(s));
        }
    }
}

static int equal_speakers(uint32_t id, uint64_t now, void *ctx)
{
    uint32_t *rng = ctx;
    *rng = *rng * 1103515245u + 12345u;
    (void)id;
    (void)now;
    return 28 + (int)((*rng >> 16) % 5); /* both around -30 dBov, ±2 dB of jitter */
}

static void test_two_equal_speakers_do_not_oscillate(void **st)
{
    (void)st;
    speaker_t *s = speaker_new(NULL);
    uint32_t ids[] = {1, 2};
    assert_int_equal(speaker_add(s, 1), 0);
    assert_int_equal(speaker_add(s, 2), 0);
    uint32_t rng = 7;
    sim_t sim = {0};
    run(s, ids, 2, 0, 60000, equal_speakers, &rng, &sim);
    assert_int_equal(sim.changes, 1); /* someone took the floor once, and kept it for a minute */
    assert_true(sim.dominant == 1 || sim.dominant == 2);
    assert_true(sim.last_change_ms <= 600);
    speaker_free(s);
}

typedef struct {
    uint64_t b_starts;     /* when participant 2 starts talking loudly */
    uint64_t b_pause_from; /* a break in 2's speech (0: none) */
    uint64_t b_pause_to;
} scene_t;

/* 1 talks at -40 dBov all along; 2 is silent (level 127) until b_starts, then talks at -25 dBov. */
static int takeover(uint32_t id, uint64_t now, void *ctx)
{
    scene_t *sc = ctx;
    if (id == 1)
        return 40;
    if (now < sc->b_starts || (now >= sc->b_pause_from && now < sc->b_pause_to))
        return 127;
    return 25;
}

static void test_louder_speaker_takes_over_after_switch_time(void **st)
{
    (void)st;
    speaker_t *s = speaker_new(NULL);
    uint32_t ids[] = {1, 2};
    speaker_add(s, 1);
    speaker_add(s, 2);
    scene_t sc = {.b_starts = 5000};
    sim_t sim = {0};
    run(s, ids, 2, 0, 5000, takeover, &sc, &sim);
    assert_int_equal(sim.dominant, 1);
    assert_int_equal(sim.changes, 1);
    run(s, ids, 2, 5000, 10000, takeover, &sc, &sim);
    assert_int_equal(sim.dominant, 2);
    assert_int_equal(sim.changes, 2);
    /* Not before 1.5 s of being louder; not much after (the window fills, then 1.5 s). */
    assert_true(sim.last_change_ms >= 5000 + 1500);
    assert_true(sim.last_change_ms <= 5000 + 1500 + 600);
    speaker_free(s);
}

static void test_break_in_speech_restarts_the_clock(void **st)
{
    (void)st;
    speaker_t *s = speaker_new(NULL);
    uint32_t ids[] = {1, 2};
    speaker_add(s, 1);
    speaker_add(s, 2);
    /* 2 is louder for 1.2 s, breaks for 300 ms, louder for 1.2 s again: never 1.5 s in a row. */
    scene_t sc = {.b_starts = 3000, .b_pause_from = 4200, .b_pause_to = 4500};
    sim_t sim = {0};
    run(s, ids, 2, 0, 5700, takeover, &sc, &sim);
    assert_int_equal(sim.dominant, 1);
    assert_int_equal(sim.changes, 1);
    speaker_free(s);
}

static int one_then_silence(uint32_t id, uint64_t now, void *ctx)
{
    (void)ctx;
    if (id == 1)
        return now < 3000 ? 30 : -1; /* then DTX: no packets at all */
    return 127;                      /* 2 sends comfort noise at -127 dBov */
}

static void test_silence_does_not_switch(void **st)
{
    (void)st;
    speaker_t *s = speaker_new(NULL);
    uint32_t ids[] = {1, 2};
    speaker_add(s, 1);
    speaker_add(s, 2);
    sim_t sim = {0};
    run(s, ids, 2, 0, 20000, one_then_silence, NULL, &sim);
    assert_int_equal(sim.dominant, 1);
    assert_int_equal(sim.changes, 1);
    /* 1 fades to 0 without packets (DTX); 2's comfort noise reads as 0 too. */
    assert_int_equal(speaker_loudness(s, 1, 20000), 0);
    assert_int_equal(speaker_loudness(s, 2, 20000), 0);
    assert_int_equal(speaker_loudness(s, 3, 20000), -1);
    speaker_free(s);
}

static int both_loud(uint32_t id, uint64_t now, void *ctx)
{
    (void)now;
    (void)ctx;
    return id == 1 ? 20 : 40;
}

static void test_vad_bit(void **st)
{
    (void)st;
    speaker_config_t cfg = {.use_vad = true};
    speaker_t *s = speaker_new(&cfg);
    speaker_add(s, 1);
    speaker_add(s, 2);
    /* 1 is loud but its V bit says "no voice" (music, a door): it does not count. 2 has voice. */
    for (uint64_t t = 0; t < 2000; t += 20) {
        speaker_level(s, 1, 10, t);
        speaker_level(s, 2, VOICE | 40, t);
    }
    uint32_t d;
    assert_true(speaker_tick(s, 2000, &d));
    assert_int_equal(d, 2);
    assert_int_equal(speaker_loudness(s, 1, 2000), 0);
    assert_int_equal(speaker_loudness(s, 2, 2000), 87);
    speaker_free(s);
    /* Without use_vad the level alone counts. */
    s = speaker_new(NULL);
    speaker_add(s, 1);
    for (uint64_t t = 0; t < 2000; t += 20)
        speaker_level(s, 1, 10, t);
    assert_int_equal(speaker_loudness(s, 1, 2000), 117);
    speaker_free(s);
}

static void test_remove_dominant_and_table(void **st)
{
    (void)st;
    speaker_config_t cfg = {.max_participants = 2};
    speaker_t *s = speaker_new(&cfg);
    assert_int_equal(speaker_add(s, SPEAKER_NONE), -1);
    assert_int_equal(speaker_add(s, 1), 0);
    assert_int_equal(speaker_add(s, 1), 0); /* twice: harmless */
    assert_int_equal(speaker_add(s, 2), 0);
    assert_int_equal(speaker_add(s, 3), -1); /* full */
    uint32_t ids[] = {1, 2};
    sim_t sim = {0};
    run(s, ids, 2, 0, 3000, both_loud, NULL, &sim);
    assert_int_equal(sim.dominant, 1);
    /* The dominant one leaves: the other speaking participant takes the floor at the next tick. */
    speaker_remove(s, 1);
    uint32_t d;
    assert_true(speaker_tick(s, 3000, &d));
    assert_int_equal(d, 2);
    /* The last one leaves: "no one", reported once. */
    speaker_remove(s, 2);
    assert_true(speaker_tick(s, 3100, &d));
    assert_int_equal(d, SPEAKER_NONE);
    assert_false(speaker_tick(s, 3200, &d));
    speaker_remove(s, 42); /* unknown: ignored */
    speaker_level(s, 42, 0, 3300);
    /* The freed entries can be reused. */
    assert_int_equal(speaker_add(s, 3), 0);
    assert_int_equal(speaker_add(s, 4), 0);
    speaker_free(s);
    speaker_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_equal_speakers_do_not_oscillate),
        cmocka_unit_test(test_louder_speaker_takes_over_after_switch_time),
        cmocka_unit_test(test_break_in_speech_restarts_the_clock),
        cmocka_unit_test(test_silence_does_not_switch),
        cmocka_unit_test(test_vad_bit),
        cmocka_unit_test(test_remove_dominant_and_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

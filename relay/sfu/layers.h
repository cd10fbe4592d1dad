/* layers.h — which simulcast layer of each publisher a subscriber gets: the estimate (bwe.h) shared out
 * over the subscriber's video legs.
 *
 * Owns: the allocation rule and its hysteresis, per subscriber:
 *   1. A leg whose tile is hidden or off screen gets nothing (-1).
 *   2. Every other leg first gets its lowest live layer (a layer is live when it arrives: bps > 0), so
 *      that nobody freezes while somebody else gets a sharper picture.
 *   3. What is left goes, the dominant speaker's leg first, then in the given order, to raise each leg
 *      as far as its tile needs (the smallest layer at least as wide as the tile; every layer when
 *      widths or the tile size are unknown) and the budget allows: first to keep the layers legs have
 *      (a leg stepping up never pushes another one down), then to steps up.
 *   4. Hysteresis: staying on a layer needs its rate to fit; going up needs LAYERS_UP_MARGIN more, and
 *      no up-switch before hold time has passed since the leg's last down-switch. The hold starts at
 *      LAYERS_HOLD_MIN_MS and doubles (up to LAYERS_HOLD_MAX_MS) when a leg goes down again within a
 *      hold after an up-switch (a probe that failed), so that a link just below a layer's rate does not
 *      make the picture flap.
 *   5. One probe at a time: a leg that shows a layer steps up (which tries the link at a higher rate) only
 *      when no other leg of the subscriber did in the last LAYERS_PROBE_SPACING_MS, and one per call, so
 *      that a probe that fails costs one leg's extra rate, found before the next one adds more. A leg
 *      that shows nothing yet (new, or its tile shown again) takes what the budget allows at once.
 * Must not: know packets, clocks (now is passed), tracks or keyframes (the caller switches on one).
 */
#ifndef STAFFROOM_SFU_LAYERS_H
#define STAFFROOM_SFU_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAYERS_MAX 4
#define LAYERS_UP_MARGIN 1.25
#define LAYERS_HOLD_MIN_MS 3000
#define LAYERS_HOLD_MAX_MS 30000
#define LAYERS_PROBE_SPACING_MS 2000

typedef struct {
    /* inputs, refreshed by the caller before each call */
    int nlayers;                /* the publisher's layers, lowest first (1 = not simulcast) */
    uint32_t bps[LAYERS_MAX];   /* each layer's measured rate; 0 = not arriving */
    uint16_t width[LAYERS_MAX]; /* each layer's frame width (from its keyframes), 0 = unknown */
    uint16_t tile_width;        /* the subscriber's tile width in CSS pixels × devicePixelRatio, 0 = unknown */
    bool visible;
    bool speaker;
    /* state kept by layers.c between calls (zero it once) */
    int chosen;                 /* last choice, -1 none */
    bool started;
    uint64_t up_after_ms, last_up_ms;
    uint32_t hold_ms;
    uint32_t switches;          /* changes of choice (for metrics) */
} layers_leg_t;

/* Shares budget_bps (bits/s for video: the caller has already set aside audio) over legs[0..n) and
 * writes each leg's layer into legs[i]->chosen (-1: nothing). Returns how many legs changed layer. */
size_t layers_allocate(layers_leg_t *const *legs, size_t n, uint32_t budget_bps, uint64_t now_ms);

#endif

/* layers.c — see layers.h; the numbers in comments are its rules. */
#include "layers.h"

static int lowest_live(const layers_leg_t *l)
{
    for (int i = 0; i < l->nlayers; i++)
        if (l->bps[i])
            return i;
    return -1;
}

/* Rule 3: the highest layer the tile can use. */
static int size_cap(const layers_leg_t *l)
{
    int top = l->nlayers - 1;
    if (!l->tile_width)
        return top;
    for (int i = 0; i < l->nlayers; i++) {
        if (!l->width[i])
            return top;
        if (l->width[i] >= l->tile_width)
            return i;
    }
    return top;
}

static void note_choice(layers_leg_t *l, int layer, uint64_t now_ms)
{
    if (l->started && layer == l->chosen)
        return;
    if (l->started) {
        l->switches++;
        if (layer < l->chosen) { /* rule 4: down; a failed probe doubles the hold */
            if (!l->hold_ms)
                l->hold_ms = LAYERS_HOLD_MIN_MS;
            else if (now_ms - l->last_up_ms < l->hold_ms)
                l->hold_ms = l->hold_ms * 2 > LAYERS_HOLD_MAX_MS ? LAYERS_HOLD_MAX_MS : l->hold_ms * 2;
            else
                l->hold_ms = LAYERS_HOLD_MIN_MS;
            l->up_after_ms = now_ms + l->hold_ms;
        } else if (layer > l->chosen && l->chosen >= 0) {
            l->last_up_ms = now_ms; /* a step up from a picture: a probe of the link (from none is not) */
        }
    }
    l->started = true;
    l->chosen = layer;
}

size_t layers_allocate(layers_leg_t *const *legs, size_t n, uint32_t budget_bps, uint64_t now_ms)
{
    int pick[64];
    if (n > 64)
        n = 64;
    double left = budget_bps;
    /* Rules 1 and 2. */
    for (size_t i = 0; i < n; i++) {
        const layers_leg_t *l = legs[i];
        pick[i] = l->visible ? lowest_live(l) : -1;
        if (pick[i] >= 0)
            left -= l->bps[pick[i]];
    }
    /* Rule 3: first every leg keeps what it has as far as that still fits (the speaker's first), then
     * the steps up, the speaker first. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            const layers_leg_t *l = legs[i];
            if (pick[i] < 0 || l->speaker != (pass == 0) || !l->started || l->chosen <= pick[i] ||
                l->chosen > size_cap(l) || !l->bps[l->chosen])
                continue;
            double extra = (double)l->bps[l->chosen] - l->bps[pick[i]];
            if (extra <= left) {
                left -= extra;
                pick[i] = l->chosen;
            }
        }
    }
    /* Rule 5: one probe at a time. */
    uint64_t last_probe = 0;
    for (size_t i = 0; i < n; i++)
        if (legs[i]->last_up_ms > last_probe)
            last_probe = legs[i]->last_up_ms;
    bool may_probe = !last_probe || now_ms - last_probe >= LAYERS_PROBE_SPACING_MS;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            const layers_leg_t *l = legs[i];
            if (pick[i] < 0 || l->speaker != (pass == 0))
                continue;
            int cap = size_cap(l);
            for (int k = cap; k > pick[i]; k--) {
                if (!l->bps[k])
                    continue;
                double extra = (double)l->bps[k] - l->bps[pick[i]];
                bool stay = l->started && k <= l->chosen;
                bool probe = l->started && l->chosen >= 0 && k > l->chosen;
                bool may_go_up = now_ms >= l->up_after_ms && (!probe || may_probe);
                if (stay ? extra <= left : may_go_up && (double)l->bps[k] * LAYERS_UP_MARGIN - l->bps[pick[i]] <= left) {
                    left -= extra;
                    pick[i] = k;
                    may_probe = may_probe && !probe;
                    break;
                }
            }
        }
    }
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        int before = legs[i]->started ? legs[i]->chosen : -2;
        note_choice(legs[i], pick[i], now_ms);
        changed += before != pick[i];
    }
    return changed;
}

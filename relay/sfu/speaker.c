/* speaker.c — dominant speaker detection with hysteresis. See speaker.h for the rules. */
#include "speaker.h"

#include <stdlib.h>
#include <string.h>

/* The window is cut into this many buckets of time; only complete buckets are averaged, so the figure
 * does not dip each time a new bucket starts empty. */
#define SPEAKER_BUCKETS 5

typedef struct {
    uint32_t id; /* SPEAKER_NONE: free entry */
    uint64_t epoch[SPEAKER_BUCKETS]; /* which bucket number (now / bucket_ms) each entry holds */
    uint32_t sum[SPEAKER_BUCKETS];
    uint32_t count[SPEAKER_BUCKETS];
} member_t;

struct speaker {
    speaker_config_t cfg;
    uint32_t bucket_ms;
    member_t *members;
    uint32_t dominant;
    bool dominant_gone; /* the dominant participant was removed: report a change at the next tick */
    uint32_t challenger;
    uint64_t challenger_since_ms;
};

speaker_t *speaker_new(const speaker_config_t *cfg)
{
    speaker_config_t c = cfg ? *cfg : (speaker_config_t){0};
    if (!c.max_participants)
        c.max_participants = 64;
    if (!c.window_ms)
        c.window_ms = 500;
    if (!c.switch_ms)
        c.switch_ms = 1500;
    if (!c.min_loudness)
        c.min_loudness = 57;
    if (!c.margin)
        c.margin = 6;
    speaker_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->members = calloc(c.max_participants, sizeof *s->members);
    if (!s->members) {
        free(s);
        return NULL;
    }
    s->cfg = c;
    s->bucket_ms = c.window_ms / SPEAKER_BUCKETS ? c.window_ms / SPEAKER_BUCKETS : 1;
    return s;
}

void speaker_free(speaker_t *s)
{
    if (!s)
        return;
    free(s->members);
    free(s);
}

static member_t *find(const speaker_t *s, uint32_t id)
{
    if (id == SPEAKER_NONE)
        return NULL;
    for (size_t i = 0; i < s->cfg.max_participants; i++)
        if (s->members[i].id == id)
            return &s->members[i];
    return NULL;
}

int speaker_add(speaker_t *s, uint32_t id)
{
    if (id == SPEAKER_NONE)
        return -1;
    if (find(s, id))
        return 0;
    member_t *free_slot = NULL;
    for (size_t i = 0; i < s->cfg.max_participants; i++) {
        if (s->members[i].id == SPEAKER_NONE) {
            free_slot = &s->members[i];
            break;
        }
    }
    if (!free_slot)
        return -1;
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->id = id;
    return 0;
}

void speaker_remove(speaker_t *s, uint32_t id)
{
    member_t *m = find(s, id);
    if (!m)
        return;
    m->id = SPEAKER_NONE;
    if (s->dominant == id) {
        s->dominant = SPEAKER_NONE;
        s->dominant_gone = true;
    }
    if (s->challenger == id)
        s->challenger = SPEAKER_NONE;
}

void speaker_level(speaker_t *s, uint32_t id, uint8_t ext_byte, uint64_t now_ms)
{
    member_t *m = find(s, id);
    if (!m)
        return;
    bool voice = (ext_byte & 0x80) != 0;
    uint8_t level = ext_byte & 0x7f; /* RFC 6464 §3: 0 = 0 dBov (loudest), 127 = -127 dBov */
    uint32_t loud = (s->cfg.use_vad && !voice) ? 0 : 127u - level;
    uint64_t epoch = now_ms / s->bucket_ms;
    size_t b = epoch % SPEAKER_BUCKETS;
    if (m->epoch[b] != epoch) { /* the entry held an older bucket: start it afresh */
        m->epoch[b] = epoch;
        m->sum[b] = 0;
        m->count[b] = 0;
    }
    m->sum[b] += loud;
    m->count[b]++;
}

/* The mean of the per-bucket means of the SPEAKER_BUCKETS complete buckets before now; a bucket with
 * no packet (silence suppressed by DTX, or a stalled sender) counts as 0. */
static int loudness(const speaker_t *s, const member_t *m, uint64_t now_ms)
{
    uint64_t cur = now_ms / s->bucket_ms;
    uint32_t total = 0;
    for (uint64_t k = 1; k <= SPEAKER_BUCKETS; k++) {
        if (cur < k)
            break;
        uint64_t e = cur - k;
        size_t b = e % SPEAKER_BUCKETS;
        if (m->epoch[b] == e && m->count[b] > 0)
            total += m->sum[b] / m->count[b];
    }
    return (int)(total / SPEAKER_BUCKETS);
}

int speaker_loudness(const speaker_t *s, uint32_t id, uint64_t now_ms)
{
    const member_t *m = find(s, id);
    return m ? loudness(s, m, now_ms) : -1;
}

uint32_t speaker_dominant(const speaker_t *s)
{
    return s->dominant;
}

/* The loudest participant other than `except` whose loudness is at least `floor`, or SPEAKER_NONE. */
static uint32_t loudest(const speaker_t *s, uint64_t now_ms, uint32_t except, int floor)
{
    uint32_t best = SPEAKER_NONE;
    int best_loud = -1;
    for (size_t i = 0; i < s->cfg.max_participants; i++) {
        const member_t *m = &s->members[i];
        if (m->id == SPEAKER_NONE || m->id == except)
            continue;
        int l = loudness(s, m, now_ms);
        if (l >= floor && l > best_loud) {
            best = m->id;
            best_loud = l;
        }
    }
    return best;
}

bool speaker_tick(speaker_t *s, uint64_t now_ms, uint32_t *dominant)
{
    bool changed = false;
    if (s->dominant == SPEAKER_NONE) {
        /* Nobody holds the floor: the loudest speaking participant takes it at once. */
        uint32_t first = loudest(s, now_ms, SPEAKER_NONE, s->cfg.min_loudness);
        if (first != SPEAKER_NONE || s->dominant_gone) {
            changed = true;
            s->dominant = first;
            s->dominant_gone = false;
            s->challenger = SPEAKER_NONE;
        }
    } else {
        /* Hysteresis: a challenger must be louder by the margin, and speaking, for switch_ms without a
         * break. Equal speakers never pass the margin, so the floor does not flip between them. */
        int dom_loud = loudness(s, find(s, s->dominant), now_ms);
        int floor = dom_loud + s->cfg.margin;
        if (floor < s->cfg.min_loudness)
            floor = s->cfg.min_loudness;
        uint32_t c = loudest(s, now_ms, s->dominant, floor);
        if (c == SPEAKER_NONE) {
            s->challenger = SPEAKER_NONE;
        } else if (c != s->challenger) {
            s->challenger = c;
            s->challenger_since_ms = now_ms;
        } else if (now_ms >= s->challenger_since_ms && now_ms - s->challenger_since_ms >= s->cfg.switch_ms) {
            s->dominant = c;
            s->challenger = SPEAKER_NONE;
            changed = true;
        }
    }
    if (dominant)
        *dominant = s->dominant;
    return changed;
}

/* bwe.c — see bwe.h. */
#include "bwe.h"

#include <stdbool.h>
#include <stdlib.h>

#define LOSS_HIGH 0.10
#define LOSS_LOW 0.02
#define DELAY_HIGH_MS 150
#define DELAY_LOW_MS 30
#define DECREASE_GAP_MS 300
#define ACKED_WINDOW_US 500000
#define LOSS_WINDOW_US 500000 /* loss is judged over the last one or two of these */
#define MIN_DELAY_BUCKET_US 5000000 /* the base delay is the smallest of the last two 5 s buckets */
#define INCREASE_PER_S 0.20
/* One decrease at most halves the estimate: an acked rate measured across a stall of the SFU or of the
 * receiver (all of a window's packets arriving late together) is not the link's capacity. */
#define MAX_DROP 0.5
/* The link's last known capacity (the acked rate when loss or queuing made us decrease): below
 * NEAR_CEILING of it the estimate grows by INCREASE_PER_S, above it by NEAR_CEILING_PER_S of the
 * ceiling a second, so that the next try of a rate that failed comes late and the estimate does not run
 * far past what the link carried (a link that drops what exceeds it shows no queue to warn us). The
 * ceiling is forgotten CEILING_FORGET_US after the decrease that set it, or when the receiver acks more
 * than CEILING_PASSED times it (the link got wider). */
#define NEAR_CEILING 0.9
#define NEAR_CEILING_PER_S 0.05
#define CEILING_FORGET_US 20000000
#define CEILING_PASSED 1.1

/* 8 bytes, as a subscriber's history is BWE_HISTORY of them (half what 64-bit times took). The send time
 * is kept modulo 2^32 µs (71 minutes) and read back against the feedback's now, which follows it by far
 * less; sizes are capped at SENT_BYTES (a datagram is smaller). */
typedef struct {
    uint32_t send_us;
    uint16_t seq;
    uint16_t bytes_flags; /* SENT_BYTES bits of size, SENT_VALID, SENT_REPORTED */
} sent_t;
#define SENT_BYTES 0x3FFFu
#define SENT_VALID 0x4000u
#define SENT_REPORTED 0x8000u

struct bwe {
    bwe_config_t cfg;
    sent_t hist[BWE_HISTORY];
    double estimate;
    /* acknowledged rate: bytes received whose arrival lies in the window starting at win_start_us */
    bool win_open;
    int64_t win_start_us, win_last_us;
    uint64_t win_bytes;
    uint32_t acked_bps;
    /* loss over the current and the previous LOSS_WINDOW_US of feedback */
    uint64_t loss_start_us;
    uint32_t loss_total, loss_lost, loss_prev_total, loss_prev_lost;
    /* base delay */
    bool have_min;
    int64_t min_cur, min_prev;
    uint64_t min_bucket_start_us;
    uint32_t queue_ms;
    int over_count;
    uint64_t last_decrease_us, last_update_us;
    uint64_t decreases, capped;
    double ceiling; /* bits/s, 0 = none known */
};

bwe_t *bwe_new(const bwe_config_t *cfg)
{
    bwe_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cfg = *cfg;
    if (!b->cfg.initial_bps)
        b->cfg.initial_bps = 1500000;
    if (!b->cfg.min_bps)
        b->cfg.min_bps = 50000;
    if (!b->cfg.max_bps)
        b->cfg.max_bps = 20000000;
    b->estimate = b->cfg.initial_bps;
    return b;
}

void bwe_free(bwe_t *b) { free(b); }

void bwe_sent(bwe_t *b, uint16_t seq, size_t bytes, uint64_t now_us)
{
    sent_t *s = &b->hist[seq % BWE_HISTORY];
    *s = (sent_t){.send_us = (uint32_t)now_us, .seq = seq,
                  .bytes_flags = (uint16_t)((bytes < SENT_BYTES ? bytes : SENT_BYTES) | SENT_VALID)};
}

static void note_delay(bwe_t *b, int64_t d, uint64_t now_us)
{
    if (!b->have_min) {
        b->have_min = true;
        b->min_cur = b->min_prev = d;
        b->min_bucket_start_us = now_us;
    }
    if (now_us - b->min_bucket_start_us > MIN_DELAY_BUCKET_US) {
        b->min_prev = b->min_cur;
        b->min_cur = d;
        b->min_bucket_start_us = now_us;
    }
    if (d < b->min_cur)
        b->min_cur = d;
}

static int64_t base_delay(const bwe_t *b) { return b->min_cur < b->min_prev ? b->min_cur : b->min_prev; }

static void note_acked(bwe_t *b, int64_t arrival_us, uint32_t bytes)
{
    if (!b->win_open) {
        b->win_open = true;
        b->win_start_us = b->win_last_us = arrival_us;
        b->win_bytes = 0;
    }
    if (arrival_us > b->win_last_us)
        b->win_last_us = arrival_us;
    b->win_bytes += bytes;
    int64_t span = b->win_last_us - b->win_start_us;
    if (span >= ACKED_WINDOW_US) {
        b->acked_bps = (uint32_t)(b->win_bytes * 8 * 1000000 / (uint64_t)span);
        b->win_start_us = b->win_last_us;
        b->win_bytes = 0;
    }
}

static double clamp(const bwe_t *b, double v)
{
    if (v < b->cfg.min_bps)
        return b->cfg.min_bps;
    if (v > b->cfg.max_bps)
        return b->cfg.max_bps;
    return v;
}

void bwe_feedback(bwe_t *b, const twcc_pkt_t *pkts, size_t n, uint64_t now_us)
{
    int64_t qsum = 0;
    uint32_t nq = 0;
    for (size_t i = 0; i < n; i++) {
        sent_t *s = &b->hist[pkts[i].seq % BWE_HISTORY];
        if (!(s->bytes_flags & SENT_VALID) || s->seq != pkts[i].seq || (s->bytes_flags & SENT_REPORTED))
            continue; /* not ours, forgotten, or reported before (a late arrival counted once) */
        s->bytes_flags |= SENT_REPORTED;
        b->loss_total++;
        if (!pkts[i].received) {
            b->loss_lost++;
            continue;
        }
        uint64_t send_us = now_us - (uint32_t)((uint32_t)now_us - s->send_us);
        int64_t d = pkts[i].arrival_us - (int64_t)send_us;
        note_delay(b, d, now_us);
        qsum += d - base_delay(b);
        nq++;
        note_acked(b, pkts[i].arrival_us, s->bytes_flags & SENT_BYTES);
    }
    if (now_us - b->loss_start_us > LOSS_WINDOW_US) {
        b->loss_prev_total = b->loss_total;
        b->loss_prev_lost = b->loss_lost;
        b->loss_total = b->loss_lost = 0;
        b->loss_start_us = now_us;
    }
    uint32_t total = b->loss_total + b->loss_prev_total, lost = b->loss_lost + b->loss_prev_lost;
    double loss = total >= 20 ? (double)lost / total : 0;
    if (nq)
        b->queue_ms = (uint32_t)(qsum / nq / 1000);
    b->over_count = nq && b->queue_ms > DELAY_HIGH_MS ? b->over_count + 1 : nq ? 0 : b->over_count;
    double acked = b->acked_bps ? b->acked_bps : b->estimate;
    bool may_decrease = now_us - b->last_decrease_us > DECREASE_GAP_MS * 1000ull || !b->last_decrease_us;
    double dt = b->last_update_us ? (double)(now_us - b->last_update_us) / 1e6 : 0;
    if (dt > 1)
        dt = 1;
    b->last_update_us = now_us;
    if (b->ceiling && (now_us - b->last_decrease_us > CEILING_FORGET_US || b->acked_bps > b->ceiling * CEILING_PASSED))
        b->ceiling = 0;
    if (loss > LOSS_HIGH) {
        if (may_decrease) {
            b->ceiling = acked;
            double base = acked < b->estimate ? acked : b->estimate, v = base * (1 - loss / 2);
            b->estimate = clamp(b, v > b->estimate * MAX_DROP ? v : b->estimate * MAX_DROP);
            b->last_decrease_us = now_us;
            b->decreases++;
            /* the loss that caused this is in the window still: judge the next second afresh */
            b->loss_total = b->loss_lost = b->loss_prev_total = b->loss_prev_lost = 0;
            b->loss_start_us = now_us;
        }
    } else if (b->over_count >= 3) {
        if (may_decrease) {
            b->ceiling = acked;
            double v = 0.85 * acked;
            if (v < b->estimate * MAX_DROP)
                v = b->estimate * MAX_DROP;
            if (v < b->estimate)
                b->estimate = clamp(b, v);
            b->last_decrease_us = now_us;
            b->decreases++;
            b->over_count = 0;
        }
    } else if (loss < LOSS_LOW && b->queue_ms < DELAY_LOW_MS) {
        double v = b->ceiling && b->estimate >= b->ceiling * NEAR_CEILING
                       ? b->estimate + b->ceiling * NEAR_CEILING_PER_S * dt
                       : b->estimate * (1 + INCREASE_PER_S * dt);
        double cap = b->acked_bps ? 3.0 * b->acked_bps + BWE_HEADROOM_BPS : b->cfg.max_bps;
        if (v > cap) {
            v = cap > b->estimate ? cap : b->estimate;
            b->capped++;
        }
        b->estimate = clamp(b, v);
    }
}

uint32_t bwe_estimate(const bwe_t *b) { return (uint32_t)b->estimate; }

bool bwe_has_feedback(const bwe_t *b) { return b->last_update_us != 0; }

void bwe_stats(const bwe_t *b, bwe_stats_t *out)
{
    uint32_t total = b->loss_total + b->loss_prev_total, lost = b->loss_lost + b->loss_prev_lost;
    out->acked_bps = b->acked_bps;
    out->loss_permille = total ? lost * 1000 / total : 0;
    out->queue_ms = b->queue_ms;
    out->decreases = b->decreases;
    out->increases_capped = b->capped;
}

/* bwe.h — a subscriber's bandwidth estimate from transport-wide feedback: what the SFU may send it.
 *
 * Owns: the send history by transport sequence number (time and size of each packet sent), the link
 * measures derived from the feedback (acknowledged rate, loss ratio, queuing delay above the smallest
 * delay seen) and the estimate's control law:
 *   - loss over LOSS_HIGH of the last 0.5–1 s's packets: estimate = min(estimate, acked) × (1 - loss/2);
 *   - queuing delay over DELAY_HIGH_MS (150) in three feedbacks in a row: estimate = 0.85 × acked (the queue
 *     builds only when we send more than the link carries, so what arrives is what it carries; high and
 *     sustained because a loaded host stalls its processes for 100–400 ms, which reads as queuing);
 *   - otherwise, with little loss and a short queue: +20 % a second, but never more than 3 × the acked
 *     rate plus BWE_HEADROOM_BPS (an estimate far above what was ever tried means nothing); and within
 *     10 % of the acked rate at the last decrease (the link's known capacity, remembered 20 s or until
 *     the receiver acks 10 % more) only +5 % of that capacity a second: a policed link drops what exceeds
 *     it without building a queue first, so the rate that failed is tried again late and slowly;
 *   - decreases at most one per DECREASE_GAP_MS (the feedback lags the change by one round trip), and
 *     none below half the estimate before it (a stall is not a capacity).
 * Must not: read clocks (callers pass monotonic µs), send anything, or know layers and tracks.
 */
#ifndef STAFFROOM_SFU_BWE_H
#define STAFFROOM_SFU_BWE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twcc.h"

#define BWE_HISTORY 4096 /* packets remembered (8 s at 500 packets/s: far more than a feedback's lag) */
#define BWE_HEADROOM_BPS 300000

typedef struct {
    uint32_t initial_bps, min_bps, max_bps;
} bwe_config_t;

typedef struct bwe bwe_t;

/* Returns a new estimator (bwe_free), or NULL when out of memory. Zero fields take defaults (1.5 Mbit/s,
 * 50 kbit/s, 20 Mbit/s). */
bwe_t *bwe_new(const bwe_config_t *cfg);
void bwe_free(bwe_t *b);

/* A packet of bytes went out with transport sequence number seq at now_us. */
void bwe_sent(bwe_t *b, uint16_t seq, size_t bytes, uint64_t now_us);

/* One decoded feedback message (twcc_decode) arrived at now_us: updates the estimate. */
void bwe_feedback(bwe_t *b, const twcc_pkt_t *pkts, size_t n, uint64_t now_us);

/* The current estimate in bits per second. */
uint32_t bwe_estimate(const bwe_t *b);

/* Whether any feedback has arrived (until then the estimate is the initial one). */
bool bwe_has_feedback(const bwe_t *b);

/* What the estimate is based on, for metrics and logs. */
typedef struct {
    uint32_t acked_bps;    /* rate the receiver acknowledged over the last ~0.5 s (0 before) */
    uint32_t loss_permille;
    uint32_t queue_ms;     /* last feedback's mean queuing delay */
    uint64_t decreases, increases_capped;
} bwe_stats_t;
void bwe_stats(const bwe_t *b, bwe_stats_t *out);

#endif

/* keyreq.c — keyframe request throttle. See keyreq.h for the rules. */
#include "keyreq.h"

#include <string.h>

void keyreq_init(keyreq_t *k, uint32_t interval_ms, uint32_t fast_ms)
{
    memset(k, 0, sizeof *k);
    k->interval_ms = interval_ms ? interval_ms : KEYREQ_DEFAULT_INTERVAL_MS;
    k->fast_ms = fast_ms ? fast_ms : KEYREQ_DEFAULT_FAST_MS;
}

/* Milliseconds since the last request sent (a clock that went backwards reads as "just now"). */
static uint64_t since_last(const keyreq_t *k, uint64_t now_ms)
{
    if (!k->sent_any)
        return UINT64_MAX;
    return now_ms > k->last_sent_ms ? now_ms - k->last_sent_ms : 0;
}

static void mark_sent(keyreq_t *k, uint64_t now_ms)
{
    k->sent_any = true;
    k->last_sent_ms = now_ms;
    k->pending = false;
    k->sent++;
}

bool keyreq_request(keyreq_t *k, keyreq_reason_t why, uint64_t now_ms)
{
    uint64_t quiet = why == KEYREQ_NEW_SUBSCRIBER ? k->fast_ms : k->interval_ms;
    if (since_last(k, now_ms) >= quiet) {
        mark_sent(k, now_ms);
        return true;
    }
    k->suppressed++;
    if (!k->pending) {
        k->pending = true;
        k->pending_due_ms = k->last_sent_ms + k->interval_ms;
    }
    return false;
}

bool keyreq_poll(keyreq_t *k, uint64_t now_ms)
{
    if (!k->pending || now_ms < k->pending_due_ms)
        return false;
    mark_sent(k, now_ms);
    return true;
}

uint64_t keyreq_deadline(const keyreq_t *k)
{
    return k->pending ? k->pending_due_ms : 0;
}

void keyreq_keyframe_seen(keyreq_t *k, uint64_t now_ms)
{
    (void)now_ms;
    k->pending = false;
}

uint8_t keyreq_next_fir_seq(keyreq_t *k)
{
    return k->fir_seq++;
}

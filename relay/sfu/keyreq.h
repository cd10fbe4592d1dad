/* keyreq.h — keyframe request throttle for one published video stream (one SSRC of a publisher).
 *
 * Owns: deciding when a PLI/FIR goes to the publisher, so that many subscribers asking at once cost the
 * publisher one keyframe (each keyframe is several times a normal frame's size); the FIR command
 * sequence number of the stream (RFC 5104 §4.3.1.1).
 * Must not: build or send packets, read clocks (the caller passes a monotonic now in ms), allocate.
 *
 * Rules:
 * - At most one request per interval_ms (default 1000), counted from the last one sent.
 * - Except: a request for a NEW subscriber (or a layer switch it waits on) goes out at once when none
 *   went in the last fast_ms (default 300); otherwise it waits as any other.
 * - A request that may not go out now is remembered (pending) and goes out when the quiet time ends:
 *   the caller arms a timer at keyreq_deadline and calls keyreq_poll then.
 * - A keyframe seen from the publisher satisfies every pending request (it was asked for before it).
 * Plain struct: the caller embeds it; fields are private.
 */
#ifndef STAFFROOM_KEYREQ_H
#define STAFFROOM_KEYREQ_H

#include <stdbool.h>
#include <stdint.h>

#define KEYREQ_DEFAULT_INTERVAL_MS 1000
#define KEYREQ_DEFAULT_FAST_MS 300

typedef enum {
    KEYREQ_SUBSCRIBER_LOSS, /* a subscriber sent PLI/FIR (it lost the picture) */
    KEYREQ_NEW_SUBSCRIBER,  /* a subscriber starts receiving this stream (or switches to it) */
} keyreq_reason_t;

typedef struct {
    uint32_t interval_ms, fast_ms;
    bool sent_any;        /* a request was ever sent */
    uint64_t last_sent_ms;
    bool pending;
    uint64_t pending_due_ms;
    uint8_t fir_seq;
    uint32_t sent, suppressed; /* counters for metrics */
} keyreq_t;

/* interval_ms/fast_ms 0 → the defaults. */
void keyreq_init(keyreq_t *k, uint32_t interval_ms, uint32_t fast_ms);

/* A keyframe is wanted. Returns true when the caller must send a PLI/FIR now (counted as sent at now);
 * false when it is pending (or already pending). */
bool keyreq_request(keyreq_t *k, keyreq_reason_t why, uint64_t now_ms);

/* Returns true when a pending request is due at now (it is then counted as sent: send it). */
bool keyreq_poll(keyreq_t *k, uint64_t now_ms);

/* When keyreq_poll should be called next, or 0 when nothing is pending. */
uint64_t keyreq_deadline(const keyreq_t *k);

/* A keyframe from the publisher arrived: drop what is pending. */
void keyreq_keyframe_seen(keyreq_t *k, uint64_t now_ms);

/* The FIR command sequence number to use for the next FIR (incremented by each call). */
uint8_t keyreq_next_fir_seq(keyreq_t *k);

#endif

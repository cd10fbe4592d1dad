/* nackbuf.h — the retransmission buffer of one outgoing leg (one SSRC towards one subscriber).
 *
 * Owns: copies of the last N packets sent on the leg, after rewriting and before SRTP protection,
 * indexed by their outgoing sequence number in a ring of fixed slots; answering a NACK from them.
 * Must not: allocate after nackbuf_new, send anything itself (the caller's function does), read clocks.
 *
 * Memory is bounded: slots × slot_size bytes plus a small header per slot, allocated once. Slot i holds
 * the packet whose seq ≡ i (mod slots), so a newer packet overwrites the one `slots` numbers before it.
 * A packet is resent only if its slot still holds that very seq and it was stored at most max_age_ms
 * ago (older media would arrive too late to be played, RFC 4588 §3), and at most once per
 * NACKBUF_MIN_RESEND_MS (a NACK repeated before the first retransmission can have arrived is ignored).
 */
#ifndef STAFFROOM_NACKBUF_H
#define STAFFROOM_NACKBUF_H

#include <stddef.h>
#include <stdint.h>

#define NACKBUF_DEFAULT_SLOTS 512
#define NACKBUF_DEFAULT_SLOT_SIZE 1500
#define NACKBUF_DEFAULT_MAX_AGE_MS 1000
#define NACKBUF_MIN_RESEND_MS 10

enum {
    NACKBUF_ERR_TOO_BIG = -1, /* the packet is larger than a slot: not stored */
};

typedef struct nackbuf nackbuf_t;

/* Returns a new buffer (owned: nackbuf_free), or NULL when out of memory or slots is not a power of two
 * in [16, 32768] (so that slots divides 2^16 and the ring follows the seq wrap), or slot_size is 0. */
nackbuf_t *nackbuf_new(size_t slots, size_t slot_size, uint32_t max_age_ms);
void nackbuf_free(nackbuf_t *nb);

/* Copies pkt[0..len) (an RTP packet whose seq field is seq) into its slot. Returns 0 or
 * NACKBUF_ERR_TOO_BIG. */
int nackbuf_store(nackbuf_t *nb, const uint8_t *pkt, size_t len, uint16_t seq, uint64_t now_ms);

/* Returns the stored packet with this seq (borrowed: valid until the next store) and sets *len, or NULL
 * when it was never stored, was overwritten, or is older than max_age_ms. Does not count as a resend. */
const uint8_t *nackbuf_get(const nackbuf_t *nb, uint16_t seq, uint64_t now_ms, size_t *len);

/* Called by nackbuf_answer for each packet to resend: buf is borrowed for the call only, and is the
 * plain packet (the caller copies it before protecting it, as SRTP grows it in place). */
typedef void (*nackbuf_send_fn)(void *ctx, const uint8_t *buf, size_t len);

/* Answers a NACK: for each of the n seqs still held and fresh (see above), calls send once. Returns
 * how many packets were resent; *missed (may be NULL) gets how many could not be. */
size_t nackbuf_answer(nackbuf_t *nb, const uint16_t *seqs, size_t n, uint64_t now_ms,
                      nackbuf_send_fn send, void *ctx, size_t *missed);

/* Forgets every packet (e.g. the leg's SSRC changed). */
void nackbuf_clear(nackbuf_t *nb);

#endif

/* nackbuf.h — the retransmission buffer of one outgoing leg (one SSRC towards one subscriber).
 *
 * Owns: copies of the packets sent on the leg in the last max_age_ms, after rewriting and before SRTP
 * protection, indexed by their outgoing sequence number; answering a NACK from them.
 * Must not: send anything itself (the caller's function does), read clocks.
 *
 * Index: a ring of `slots` entries; entry i describes the packet whose seq ≡ i (mod slots), so a newer
 * packet replaces the one `slots` numbers before it. Bytes: packets are appended back to back into
 * chunks of a few KiB, taken as they are needed: a chunk whose newest packet is older than max_age_ms
 * holds nothing resendable, so it is reused (or freed when the leg now needs fewer), and a new chunk is
 * allocated only while every chunk still holds a fresh packet. The memory thus follows the leg's bitrate
 * over max_age_ms (about 100 KiB for a 700 kbit/s video leg) instead of slots × slot_size, which stays
 * the bound: at that size the oldest chunk is reused even if fresh. Nothing is allocated until the first
 * store, and nackbuf_clear gives the chunks back.
 *
 * A packet is resent only if its entry still describes that very seq, its bytes have not been reused,
 * and it was stored at most max_age_ms ago (older media would arrive too late to be played, RFC 4588
 * §3), and at most once per NACKBUF_MIN_RESEND_MS (a NACK repeated before the first retransmission can
 * have arrived is ignored). Times are kept modulo 2^32 ms: intervals must stay under 24 days.
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
    NACKBUF_ERR_NOMEM = -2,   /* no chunk could be allocated: not stored */
};

typedef struct nackbuf nackbuf_t;

/* Returns a new buffer (owned: nackbuf_free), or NULL when out of memory or slots is not a power of two
 * in [16, 32768] (so that slots divides 2^16 and the ring follows the seq wrap), or slot_size is not in
 * [1, 65535]. */
nackbuf_t *nackbuf_new(size_t slots, size_t slot_size, uint32_t max_age_ms);
void nackbuf_free(nackbuf_t *nb);

/* Copies pkt[0..len) (an RTP packet whose seq field is seq) into the buffer. Returns 0,
 * NACKBUF_ERR_TOO_BIG or NACKBUF_ERR_NOMEM (then the packet is not resendable, and neither is the one
 * its entry held before). */
int nackbuf_store(nackbuf_t *nb, const uint8_t *pkt, size_t len, uint16_t seq, uint64_t now_ms);

/* Returns the stored packet with this seq (borrowed: valid until the next store or clear) and sets *len,
 * or NULL when it was never stored, was replaced, or is older than max_age_ms. Not counted as a resend. */
const uint8_t *nackbuf_get(const nackbuf_t *nb, uint16_t seq, uint64_t now_ms, size_t *len);

/* Called by nackbuf_answer for each packet to resend: buf is borrowed for the call only, and is the
 * plain packet (the caller copies it before protecting it, as SRTP grows it in place). */
typedef void (*nackbuf_send_fn)(void *ctx, const uint8_t *buf, size_t len);

/* Answers a NACK: for each of the n seqs still held and fresh (see above), calls send once. Returns
 * how many packets were resent; *missed (may be NULL) gets how many could not be. */
size_t nackbuf_answer(nackbuf_t *nb, const uint16_t *seqs, size_t n, uint64_t now_ms,
                      nackbuf_send_fn send, void *ctx, size_t *missed);

/* Forgets every packet (e.g. the leg's SSRC changed) and frees the memory that held them. */
void nackbuf_clear(nackbuf_t *nb);

/* Bytes of packet memory held now (chunks allocated), for tests and metrics. */
size_t nackbuf_bytes(const nackbuf_t *nb);

#endif

/* nackbuf.h — the retransmission buffer of one outgoing leg (one SSRC towards one subscriber), and the
 * store of packet bodies that the buffers of one published track's legs share.
 *
 * Owns: copies of the packets sent on the leg in the last max_age_ms, after rewriting and before SRTP
 * protection, indexed by their outgoing sequence number; answering a NACK from them.
 * Must not: send anything itself (the caller's function does), read clocks, or parse RTP (the caller
 * says which leading bytes are the leg's own).
 *
 * Index: a ring of at most `slots` entries; entry i describes the packet whose seq ≡ i (mod its size). It
 * starts small and doubles whenever a store would replace a packet still fresh, so that it holds what
 * max_age_ms of the leg needs; at `slots` entries, a newer packet replaces the one `slots` numbers before. Bytes: appended back to back into chunks of a few
 * KiB, taken as they are needed: a chunk whose newest bytes are older than max_age_ms holds nothing
 * resendable, so it is reused (or freed when fewer are needed now), and a new chunk is allocated only
 * while every chunk still holds fresh bytes. The memory thus follows the bitrate over max_age_ms instead
 * of slots × slot_size, which stays the bound (at that size the oldest chunk is reused even if fresh).
 * Nothing is allocated until the first store.
 *
 * Sharing: every subscriber of a track is sent the same payload behind its own header (and, for VP8,
 * its own PictureID in the descriptor). A buffer bound to the track's nackbuf_bodies_t keeps only the
 * packet's first `head` bytes (given by the caller) in its own chunks; the rest goes to the bodies store
 * once, and the next leg that stores an identical rest (compared byte for byte, so sharing never changes
 * what is resent) refers to it. A room of N publishers then holds each video packet once, not N - 1
 * times.
 *
 * A packet is resent only if its entry still describes that very seq, its bytes (its own and its body)
 * have not been reused, it was stored at most max_age_ms ago (older media would arrive too late to be
 * played, RFC 4588 §3), at most once per NACKBUF_MIN_RESEND_MS (a NACK repeated before the first
 * retransmission can have arrived is ignored) and at most NACKBUF_MAX_RESENDS times in all: on a link
 * that drops what exceeds its rate (a policer), a receiver NACKs every loss again each round trip, and
 * answering each time multiplies the load that caused the loss. Times are kept modulo 2^32 ms: intervals must stay under
 * 24 days.
 */
#ifndef STAFFROOM_NACKBUF_H
#define STAFFROOM_NACKBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NACKBUF_DEFAULT_SLOTS 512
#define NACKBUF_DEFAULT_SLOT_SIZE 1500
#define NACKBUF_MAX_SLOT_SIZE 1500 /* a UDP datagram on an Ethernet path: the largest packet the SFU forwards */
#define NACKBUF_DEFAULT_MAX_AGE_MS 1000
#define NACKBUF_MIN_RESEND_MS 10
#define NACKBUF_MAX_RESENDS 3

enum {
    NACKBUF_ERR_TOO_BIG = -1, /* the packet is larger than a slot: not stored */
    NACKBUF_ERR_NOMEM = -2,   /* no chunk could be allocated: not stored */
};

typedef struct nackbuf nackbuf_t;
typedef struct nackbuf_bodies nackbuf_bodies_t;

/* Returns a new buffer (owned: nackbuf_free), or NULL when out of memory or slots is not a power of two
 * in [16, 32768] (so that slots divides 2^16 and the ring follows the seq wrap), or slot_size is not in
 * [1, NACKBUF_MAX_SLOT_SIZE]. */
nackbuf_t *nackbuf_new(size_t slots, size_t slot_size, uint32_t max_age_ms);
/* Also drops its reference to the bodies it is bound to. NULL is fine. */
void nackbuf_free(nackbuf_t *nb);

/* A bodies store of at most max_bytes (new, with one reference: nackbuf_bodies_unref), or NULL when
 * out of memory or max_bytes is not in [NACKBUF_MAX_SLOT_SIZE, 256 MiB]. */
nackbuf_bodies_t *nackbuf_bodies_new(size_t max_bytes, uint32_t max_age_ms);
/* Drops a reference; the store is freed with the last one (its owner's and its bound buffers'). NULL ok. */
void nackbuf_bodies_unref(nackbuf_bodies_t *b);

/* Binds nb to b (nb takes a reference of its own; NULL: store whole packets). Binding to another store
 * than the current one forgets every packet stored before (their bodies are the old store's). */
void nackbuf_share(nackbuf_t *nb, nackbuf_bodies_t *b);

/* Copies pkt[0..len) (an RTP packet whose seq field is seq) into the buffer; when bound, pkt[0..head)
 * into its own chunks and the rest into the bodies store (or a reference to an identical rest stored
 * there just before). Returns 0, NACKBUF_ERR_TOO_BIG or NACKBUF_ERR_NOMEM (then the packet is not
 * resendable, and neither is the one its entry held before). */
int nackbuf_store(nackbuf_t *nb, const uint8_t *pkt, size_t len, size_t head, uint16_t seq, uint64_t now_ms);

/* Copies the stored packet with this seq into out (room for cap bytes) and returns its length; 0 when
 * it was never stored, was replaced, is older than max_age_ms, or does not fit. Not counted as a resend. */
size_t nackbuf_get(const nackbuf_t *nb, uint16_t seq, uint64_t now_ms, uint8_t *out, size_t cap);

/* Called by nackbuf_answer for each packet to resend: buf is borrowed for the call only, and is the
 * plain packet (the caller copies it before protecting it, as SRTP grows it in place). Returns false
 * when the caller may not send it now (its retransmission budget is spent): the packet is not counted
 * as resent and the rest of the NACK is not answered. */
typedef bool (*nackbuf_send_fn)(void *ctx, const uint8_t *buf, size_t len);

/* Answers a NACK: for each of the n seqs still held and fresh (see above), in order, calls send once,
 * until send refuses. Returns how many packets were resent; *missed (may be NULL) gets how many were
 * not held (never stored, replaced or too old). */
size_t nackbuf_answer(nackbuf_t *nb, const uint16_t *seqs, size_t n, uint64_t now_ms,
                      nackbuf_send_fn send, void *ctx, size_t *missed);

/* Forgets every packet (e.g. the leg's SSRC changed) and frees its own chunks (not the bodies store's,
 * which the other legs use). Stays bound. */
void nackbuf_clear(nackbuf_t *nb);

/* Bytes held now: a buffer's own chunks and index, or a bodies store's chunks (tests and metrics). */
size_t nackbuf_bytes(const nackbuf_t *nb);
size_t nackbuf_bodies_bytes(const nackbuf_bodies_t *b);

#endif

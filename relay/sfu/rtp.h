/* rtp.h — sans-I/O RTP packet view (RFC 3550 §5.1) with header extensions (RFC 8285), and the
 * RFC 7983 / RFC 5761 demultiplexing of one datagram.
 *
 * Owns: checking an RTP header strictly (version, CSRC list, extension block, padding) and exposing
 * where each part lies; finding and overwriting header-extension elements; rewriting the fixed header
 * fields (SSRC, sequence number, timestamp, payload type, marker) in place.
 * Must not: copy or allocate, keep state between calls, know about SRTP, codecs or peers.
 *
 * A parsed rtp_view_t borrows the bytes it was parsed from: they must outlive it and must not change
 * size. The in-place setters take the same bytes as a writable pointer (`buf`) and never change the
 * packet's length, so a view stays valid after them (its cached fields ssrc/seq/ts/pt do not follow:
 * re-parse, or track the new values yourself).
 */
#ifndef STAFFROOM_RTP_H
#define STAFFROOM_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_HEADER_LEN 12 /* fixed header, before the CSRC list */
#define RTP_MAX_CSRC 15

/* Header extension profiles (RFC 8285 §4.2, §4.3). */
#define RTP_EXT_PROFILE_ONE_BYTE 0xBEDEu
#define RTP_EXT_PROFILE_TWO_BYTE 0x1000u /* the upper 12 bits; the low 4 bits are "appbits" */

/* Errors (negative). */
enum {
    RTP_ERR_SHORT = -1,     /* shorter than the header, CSRC list or extension block it announces */
    RTP_ERR_VERSION = -2,   /* version is not 2 */
    RTP_ERR_PADDING = -3,   /* P bit set but the padding count is 0 or reaches into the header */
    RTP_ERR_EXT = -4,       /* an RFC 8285 element runs past its block, or has a reserved id/length */
    RTP_ERR_NOT_FOUND = -5, /* no extension element with that id */
    RTP_ERR_LENGTH = -6,    /* a setter was given a value whose length differs from the element's */
    RTP_ERR_ARG = -7,       /* an id out of range for the packet's extension form */
};

typedef struct {
    const uint8_t *data; /* borrowed: the whole packet */
    size_t len;          /* the whole packet, padding included */
    uint8_t pt;          /* payload type, marker bit removed */
    bool marker;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint8_t csrc_count;
    /* Header extension (X bit). ext_profile is 0 when there is none. Elements of the one-byte (0xBEDE)
     * and two-byte (0x100x) forms were checked by rtp_parse; other profiles are exposed raw and
     * rtp_find_ext answers RTP_ERR_NOT_FOUND for them. */
    uint16_t ext_profile;
    size_t ext_off; /* offset of the first element (just after the 4-byte extension header) */
    size_t ext_len; /* bytes of elements (the length field × 4) */
    size_t payload_off;
    size_t payload_len; /* padding excluded; 0 for a padding-only packet (valid: bandwidth probes) */
    uint8_t padding_len;
} rtp_view_t;

/* What a datagram arriving on the single BUNDLE/rtcp-mux port is (RFC 7983 §7, RFC 5761 §4). */
typedef enum {
    RTP_DEMUX_UNKNOWN = 0, /* empty, or a first byte no protocol here uses: drop and count */
    RTP_DEMUX_STUN,        /* first byte 0–3 */
    RTP_DEMUX_DTLS,        /* first byte 20–63 */
    RTP_DEMUX_RTP,         /* first byte 128–191, second byte not an RTCP packet type */
    RTP_DEMUX_RTCP,        /* first byte 128–191, second byte 192–223 (RTP PT 64–95 with either marker) */
} rtp_demux_t;

/* Classifies a datagram by its first two bytes only; it does not validate the rest. */
rtp_demux_t rtp_demux(const uint8_t *buf, size_t len);

/* True when buf looks like RTCP rather than RTP under rtcp-mux: version 2 and the second byte, marker
 * bit masked off, in 64–95 (RTCP types 192–223). Needs len >= 2. */
bool rtp_is_rtcp(const uint8_t *buf, size_t len);

/* Parses buf[0..len) into *out (borrowing buf). Returns 0, or an RTP_ERR_* code; on error *out is
 * unspecified and nothing past buf[len-1] was read. */
int rtp_parse(const uint8_t *buf, size_t len, rtp_view_t *out);

/* Finds the header-extension element with this id (1–14 in the one-byte form, 1–255 in the two-byte
 * form). On success sets *val (borrowed, inside v->data) and *val_len and returns 0; otherwise returns
 * RTP_ERR_NOT_FOUND (also when the packet has no RFC 8285 extension) or RTP_ERR_ARG. */
int rtp_find_ext(const rtp_view_t *v, uint8_t id, const uint8_t **val, size_t *val_len);

/* Iterates over the extension elements: start with *pos = 0; each call returning 1 gives the next
 * element's id, value (borrowed) and length; 0 means no more. Padding bytes are skipped. */
int rtp_ext_next(const rtp_view_t *v, size_t *pos, uint8_t *id, const uint8_t **val, size_t *val_len);

/* Overwrites the value of extension element `id` in buf (the same bytes as v->data) with val, which
 * must have exactly the element's length. Returns 0, RTP_ERR_NOT_FOUND, RTP_ERR_ARG or RTP_ERR_LENGTH. */
int rtp_set_ext(uint8_t *buf, const rtp_view_t *v, uint8_t id, const uint8_t *val, size_t val_len);

/* In-place setters of the fixed header. buf must hold at least RTP_HEADER_LEN bytes (any packet that
 * rtp_parse accepted does). rtp_set_pt keeps the marker bit; pt above 127 is masked to 7 bits. */
void rtp_set_ssrc(uint8_t *buf, uint32_t ssrc);
void rtp_set_seq(uint8_t *buf, uint16_t seq);
void rtp_set_ts(uint8_t *buf, uint32_t ts);
void rtp_set_pt(uint8_t *buf, uint8_t pt);
void rtp_set_marker(uint8_t *buf, bool marker);

/* Sequence number arithmetic with 16-bit wrap (RFC 3550 Appendix A.1 style). rtp_seq_diff(a, b) is the
 * signed distance from b to a in [-32768, 32767]: > 0 when a is newer than b. */
static inline int32_t rtp_seq_diff(uint16_t a, uint16_t b)
{
    return (int32_t)(int16_t)(uint16_t)(a - b);
}
/* The same for 32-bit RTP timestamps: > 0 when a is later than b. */
static inline int64_t rtp_ts_diff(uint32_t a, uint32_t b)
{
    return (int64_t)(int32_t)(uint32_t)(a - b);
}

/* Extends 16-bit sequence numbers to a monotonic 64-bit counter (the "cycles" of RFC 3550 A.1): each
 * value is placed at the nearest distance from the highest one seen, so reordering within ±32767 and
 * wraps are both handled. Plain struct: zero it, or call rtp_seq_ext_init. */
typedef struct {
    uint64_t highest; /* extended highest sequence number seen */
    bool started;
} rtp_seq_ext_t;

void rtp_seq_ext_init(rtp_seq_ext_t *e);
/* Returns the extended value of seq and raises e->highest when seq is newer. The first call returns
 * seq + 65536 (so that reordered packets just before the first one still extend to >= 0). */
uint64_t rtp_seq_ext_update(rtp_seq_ext_t *e, uint16_t seq);
/* Like rtp_seq_ext_update but does not change e (needs e->started). */
uint64_t rtp_seq_ext_peek(const rtp_seq_ext_t *e, uint16_t seq);

#endif

/* vp8.h — the VP8 RTP payload descriptor (RFC 7741 §4.2) and keyframe detection (§4.3, RFC 6386 §9.1).
 *
 * Owns: parsing the descriptor at the start of an RTP payload (X, N, S, partition index; the I, L, T, K
 * extensions: 7- or 15-bit PictureID, TL0PICIDX, TID/Y, KEYIDX) with every length checked; telling a
 * keyframe's first packet; rewriting PictureID and TL0PICIDX in place (same width, same length).
 * Must not: allocate, keep state, or look past the first byte of the VP8 payload header (except
 * vp8_keyframe_size, which reads a keyframe's frame size from its first ten bytes).
 */
#ifndef STAFFROOM_VP8_H
#define STAFFROOM_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    VP8_ERR_SHORT = -1,   /* the descriptor runs past the payload, or no byte of VP8 data follows it */
    VP8_ERR_ABSENT = -2,  /* a setter was asked for a field this descriptor does not carry */
};

typedef struct {
    bool non_reference;  /* N: the frame can be dropped without harm to later frames */
    bool start;          /* S: first packet of a VP8 partition */
    uint8_t partition;   /* PID: partition index (0–7) */
    bool has_picture_id; /* I */
    bool picture_id_15;  /* M: 15-bit PictureID (else 7-bit) */
    uint16_t picture_id;
    bool has_tl0picidx;  /* L */
    uint8_t tl0picidx;
    bool has_tid;        /* T */
    uint8_t tid;         /* temporal layer index (0–3) */
    bool layer_sync;     /* Y */
    bool has_keyidx;     /* K */
    uint8_t keyidx;      /* 5 bits */
    size_t picture_id_off; /* offsets inside the payload of the fields a rewriter overwrites */
    size_t tl0picidx_off;
    size_t header_len;   /* descriptor length: the VP8 payload header starts here */
    bool keyframe;       /* S=1, PID=0 and the payload header's P bit is 0: first packet of a keyframe */
} vp8_desc_t;

/* Parses the descriptor at payload[0..len) (an RTP packet's payload, padding excluded). Returns 0, or
 * VP8_ERR_SHORT; nothing past payload[len-1] is read. */
int vp8_parse(const uint8_t *payload, size_t len, vp8_desc_t *out);

/* Writes picture_id into the descriptor in place, modulo its width (2^7 or 2^15), keeping the M bit.
 * Returns 0 or VP8_ERR_ABSENT. */
int vp8_set_picture_id(uint8_t *payload, const vp8_desc_t *d, uint16_t picture_id);
/* Writes TL0PICIDX in place. Returns 0 or VP8_ERR_ABSENT. */
int vp8_set_tl0picidx(uint8_t *payload, const vp8_desc_t *d, uint8_t tl0picidx);

/* The frame size a keyframe's first packet announces (RFC 6386 §9.1). Returns 0, or VP8_ERR_SHORT when
 * d is not a keyframe, the packet is too short or the start code is missing. */
int vp8_keyframe_size(const uint8_t *payload, size_t len, const vp8_desc_t *d, uint16_t *width, uint16_t *height);

/* PictureID arithmetic modulo its width: the signed distance from b to a (> 0: a is newer). */
int32_t vp8_picture_id_diff(uint16_t a, uint16_t b, bool fifteen_bit);

#endif

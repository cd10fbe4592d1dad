/* vp8.c — VP8 RTP payload descriptor (RFC 7741 §4.2). See vp8.h. */
#include "vp8.h"

#include <string.h>

int vp8_parse(const uint8_t *payload, size_t len, vp8_desc_t *out)
{
    memset(out, 0, sizeof *out);
    if (len < 1)
        return VP8_ERR_SHORT;
    /* |X|R|N|S|R|PID| */
    uint8_t b = payload[0];
    out->non_reference = (b & 0x20) != 0;
    out->start = (b & 0x10) != 0;
    out->partition = b & 0x07;
    size_t off = 1;
    if (b & 0x80) {
        if (off >= len)
            return VP8_ERR_SHORT;
        /* |I|L|T|K| RSV | */
        uint8_t x = payload[off++];
        out->has_picture_id = (x & 0x80) != 0;
        out->has_tl0picidx = (x & 0x40) != 0;
        out->has_tid = (x & 0x20) != 0;
        out->has_keyidx = (x & 0x10) != 0;
        if (out->has_picture_id) {
            if (off >= len)
                return VP8_ERR_SHORT;
            out->picture_id_off = off;
            if (payload[off] & 0x80) { /* M: 15-bit PictureID */
                if (off + 1 >= len)
                    return VP8_ERR_SHORT;
                out->picture_id_15 = true;
                out->picture_id = (uint16_t)((payload[off] & 0x7f) << 8 | payload[off + 1]);
                off += 2;
            } else {
                out->picture_id = payload[off] & 0x7f;
                off += 1;
            }
        }
        if (out->has_tl0picidx) {
            if (off >= len)
                return VP8_ERR_SHORT;
            out->tl0picidx_off = off;
            out->tl0picidx = payload[off++];
        }
        if (out->has_tid || out->has_keyidx) { /* one shared byte: |TID|Y| KEYIDX | */
            if (off >= len)
                return VP8_ERR_SHORT;
            uint8_t t = payload[off++];
            if (out->has_tid) {
                out->tid = t >> 6;
                out->layer_sync = (t & 0x20) != 0;
            }
            if (out->has_keyidx)
                out->keyidx = t & 0x1f;
        }
    }
    /* At least the first byte of the VP8 payload must follow the descriptor. */
    if (off >= len)
        return VP8_ERR_SHORT;
    out->header_len = off;
    /* RFC 7741 §4.3: the P bit of the payload header's first byte is 0 for a keyframe; it is only a
     * payload header at the start of partition 0. */
    out->keyframe = out->start && out->partition == 0 && (payload[off] & 0x01) == 0;
    return 0;
}

int vp8_set_picture_id(uint8_t *payload, const vp8_desc_t *d, uint16_t picture_id)
{
    if (!d->has_picture_id)
        return VP8_ERR_ABSENT;
    uint8_t *p = payload + d->picture_id_off;
    if (d->picture_id_15) {
        p[0] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7f));
        p[1] = (uint8_t)picture_id;
    } else {
        p[0] = (uint8_t)(picture_id & 0x7f);
    }
    return 0;
}

int vp8_set_tl0picidx(uint8_t *payload, const vp8_desc_t *d, uint8_t tl0picidx)
{
    if (!d->has_tl0picidx)
        return VP8_ERR_ABSENT;
    payload[d->tl0picidx_off] = tl0picidx;
    return 0;
}

int32_t vp8_picture_id_diff(uint16_t a, uint16_t b, bool fifteen_bit)
{
    uint32_t mod = fifteen_bit ? 0x8000u : 0x80u;
    int32_t d = (int32_t)((uint32_t)(a - b) & (mod - 1));
    if (d >= (int32_t)(mod / 2))
        d -= (int32_t)mod;
    return d;
}

int vp8_keyframe_size(const uint8_t *payload, size_t len, const vp8_desc_t *d, uint16_t *width, uint16_t *height)
{
    /* RFC 6386 §9.1: a keyframe's 3-byte frame tag, the start code 9d 01 2a, then 14-bit width and
     * height (the top 2 bits of each are a scaling hint). */
    if (!d->keyframe || d->header_len + 10 > len)
        return VP8_ERR_SHORT;
    const uint8_t *f = payload + d->header_len;
    if (f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a)
        return VP8_ERR_SHORT;
    *width = (uint16_t)((f[6] | f[7] << 8) & 0x3fff);
    *height = (uint16_t)((f[8] | f[9] << 8) & 0x3fff);
    return 0;
}

/* rtp.c — RTP header view, RFC 8285 header extensions, RFC 7983 demultiplexing. See rtp.h. */
#include "rtp.h"

#include <string.h>

#include "bytes.h"

bool rtp_is_rtcp(const uint8_t *buf, size_t len)
{
    if (len < 2 || (buf[0] >> 6) != 2)
        return false;
    /* RFC 5761 §4: RTCP packet types 192–223 read as RTP are PT 64–95 with the marker bit set or not;
     * that range is why RTP must not use those payload types under rtcp-mux. */
    uint8_t pt = buf[1] & 0x7f;
    return pt >= 64 && pt <= 95;
}

rtp_demux_t rtp_demux(const uint8_t *buf, size_t len)
{
    if (len == 0)
        return RTP_DEMUX_UNKNOWN;
    uint8_t b = buf[0];
    if (b <= 3)
        return RTP_DEMUX_STUN;
    if (b >= 20 && b <= 63)
        return RTP_DEMUX_DTLS;
    if (b >= 128 && b <= 191 && len >= 2)
        return rtp_is_rtcp(buf, len) ? RTP_DEMUX_RTCP : RTP_DEMUX_RTP;
    return RTP_DEMUX_UNKNOWN;
}

static bool ext_one_byte(uint16_t profile)
{
    return profile == RTP_EXT_PROFILE_ONE_BYTE;
}

static bool ext_two_byte(uint16_t profile)
{
    return (profile & 0xfff0u) == RTP_EXT_PROFILE_TWO_BYTE;
}

/* One step over the elements of an RFC 8285 block: returns 1 with the element's id, value offset
 * (inside the block) and length, 0 at the end, RTP_ERR_EXT when an element runs past the block.
 * e/n are the elements' bytes; *pos advances. */
static int ext_step(uint16_t profile, const uint8_t *e, size_t n, size_t *pos, uint8_t *id, size_t *voff,
                    size_t *vlen)
{
    if (!ext_one_byte(profile) && !ext_two_byte(profile))
        return 0; /* some other profile: opaque to us */
    while (*pos < n) {
        uint8_t b = e[*pos];
        /* Padding between or after elements is a 0 byte (§4.2, §4.3). Id 0 is reserved for it; a
         * one-byte header with id 0 but a non-zero length is skipped as one byte too, as receivers in
         * the field do, rather than rejected. */
        if (b == 0 || (ext_one_byte(profile) && (b >> 4) == 0)) {
            (*pos)++;
            continue;
        }
        size_t l, hdr;
        if (ext_one_byte(profile)) {
            if ((b >> 4) == 15) /* §4.2: id 15 is reserved; parsing stops here */
                return 0;
            *id = b >> 4;
            l = (size_t)(b & 0x0f) + 1;
            hdr = 1;
        } else {
            if (*pos + 2 > n)
                return RTP_ERR_EXT;
            *id = b;
            l = e[*pos + 1];
            hdr = 2;
        }
        if (l > n - *pos - hdr)
            return RTP_ERR_EXT;
        *voff = *pos + hdr;
        *vlen = l;
        *pos += hdr + l;
        return 1;
    }
    return 0;
}

int rtp_parse(const uint8_t *buf, size_t len, rtp_view_t *out)
{
    if (len < RTP_HEADER_LEN)
        return RTP_ERR_SHORT;
    if ((buf[0] >> 6) != 2)
        return RTP_ERR_VERSION;
    memset(out, 0, sizeof *out);
    out->data = buf;
    out->len = len;
    out->marker = (buf[1] & 0x80) != 0;
    out->pt = buf[1] & 0x7f;
    out->seq = rd16(buf + 2);
    out->ts = rd32(buf + 4);
    out->ssrc = rd32(buf + 8);
    out->csrc_count = buf[0] & 0x0f;
    size_t off = RTP_HEADER_LEN + 4u * out->csrc_count;
    if (off > len)
        return RTP_ERR_SHORT;
    if (buf[0] & 0x10) { /* X: an extension header follows the CSRC list (RFC 3550 §5.3.1) */
        if (len - off < 4)
            return RTP_ERR_SHORT;
        out->ext_profile = rd16(buf + off);
        size_t ext_len = 4u * rd16(buf + off + 2);
        if (ext_len > len - off - 4)
            return RTP_ERR_SHORT;
        out->ext_off = off + 4;
        out->ext_len = ext_len;
        /* Check every element now, so that the accessors can trust the block. */
        size_t pos = 0, voff, vlen;
        uint8_t id;
        int r;
        while ((r = ext_step(out->ext_profile, buf + out->ext_off, ext_len, &pos, &id, &voff, &vlen)) > 0)
            ;
        if (r < 0)
            return r;
        off += 4 + ext_len;
    }
    if (buf[0] & 0x20) { /* P: the last byte counts the padding, itself included (§5.1) */
        uint8_t pad = buf[len - 1];
        if (pad == 0 || pad > len - off)
            return RTP_ERR_PADDING;
        out->padding_len = pad;
    }
    out->payload_off = off;
    out->payload_len = len - off - out->padding_len;
    return 0;
}

int rtp_ext_next(const rtp_view_t *v, size_t *pos, uint8_t *id, const uint8_t **val, size_t *val_len)
{
    if (v->ext_len == 0)
        return 0;
    size_t voff;
    int r = ext_step(v->ext_profile, v->data + v->ext_off, v->ext_len, pos, id, &voff, val_len);
    if (r <= 0)
        return 0; /* errors were ruled out by rtp_parse */
    *val = v->data + v->ext_off + voff;
    return 1;
}

/* Locates element id: 0 with its offset in the packet and length, or an error. */
static int ext_locate(const rtp_view_t *v, uint8_t id, size_t *off, size_t *len)
{
    if (ext_one_byte(v->ext_profile)) {
        if (id < 1 || id > 14)
            return RTP_ERR_ARG;
    } else if (ext_two_byte(v->ext_profile)) {
        if (id < 1)
            return RTP_ERR_ARG;
    } else {
        return RTP_ERR_NOT_FOUND;
    }
    size_t pos = 0;
    uint8_t got;
    const uint8_t *val;
    while (rtp_ext_next(v, &pos, &got, &val, len) == 1) {
        if (got == id) {
            *off = (size_t)(val - v->data);
            return 0;
        }
    }
    return RTP_ERR_NOT_FOUND;
}

int rtp_find_ext(const rtp_view_t *v, uint8_t id, const uint8_t **val, size_t *val_len)
{
    size_t off, len;
    int r = ext_locate(v, id, &off, &len);
    if (r < 0)
        return r;
    *val = v->data + off;
    *val_len = len;
    return 0;
}

int rtp_set_ext(uint8_t *buf, const rtp_view_t *v, uint8_t id, const uint8_t *val, size_t val_len)
{
    size_t off, len;
    int r = ext_locate(v, id, &off, &len);
    if (r < 0)
        return r;
    if (len != val_len)
        return RTP_ERR_LENGTH;
    memmove(buf + off, val, len);
    return 0;
}

void rtp_set_ssrc(uint8_t *buf, uint32_t ssrc)
{
    wr32(buf + 8, ssrc);
}

void rtp_set_seq(uint8_t *buf, uint16_t seq)
{
    wr16(buf + 2, seq);
}

void rtp_set_ts(uint8_t *buf, uint32_t ts)
{
    wr32(buf + 4, ts);
}

void rtp_set_pt(uint8_t *buf, uint8_t pt)
{
    buf[1] = (uint8_t)((buf[1] & 0x80) | (pt & 0x7f));
}

void rtp_set_marker(uint8_t *buf, bool marker)
{
    buf[1] = (uint8_t)((buf[1] & 0x7f) | (marker ? 0x80 : 0));
}

void rtp_seq_ext_init(rtp_seq_ext_t *e)
{
    e->highest = 0;
    e->started = false;
}

uint64_t rtp_seq_ext_peek(const rtp_seq_ext_t *e, uint16_t seq)
{
    /* highest >= 65536 always, and the distance is at least -32768: never below 0. */
    return (uint64_t)((int64_t)e->highest + rtp_seq_diff(seq, (uint16_t)e->highest));
}

uint64_t rtp_seq_ext_update(rtp_seq_ext_t *e, uint16_t seq)
{
    if (!e->started) {
        e->started = true;
        e->highest = 65536u + seq;
        return e->highest;
    }
    uint64_t ext = rtp_seq_ext_peek(e, seq);
    if (ext > e->highest)
        e->highest = ext;
    return ext;
}

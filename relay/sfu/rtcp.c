/* rtcp.c — RTCP compound walking, report and feedback decoding, builders, SSRC rewriting. See rtcp.h. */
#include "rtcp.h"

#include <string.h>

#include "bytes.h"

/* ---- walking ---- */

void rtcp_iter_init(rtcp_iter_t *it, const uint8_t *buf, size_t len)
{
    it->buf = buf;
    it->len = len;
    it->off = 0;
}

int rtcp_next(rtcp_iter_t *it, rtcp_pkt_t *out)
{
    if (it->off >= it->len)
        return 0;
    const uint8_t *p = it->buf + it->off;
    size_t left = it->len - it->off;
    if (left < RTCP_HEADER_LEN)
        return RTCP_ERR_SHORT;
    if ((p[0] >> 6) != 2)
        return RTCP_ERR_VERSION;
    size_t plen = 4u * ((size_t)rd16(p + 2) + 1);
    if (plen > left)
        return RTCP_ERR_SHORT;
    size_t pad = 0;
    if (p[0] & 0x20) {
        /* RFC 3550 §6.4.1: only the last packet of a compound may be padded; the last byte counts the
         * padding, itself included, and cannot eat into the header. */
        if (plen != left)
            return RTCP_ERR_PADDING;
        pad = p[plen - 1];
        if (pad == 0 || pad > plen - RTCP_HEADER_LEN)
            return RTCP_ERR_PADDING;
    }
    out->data = p;
    out->len = plen - pad;
    out->type = p[1];
    out->count = p[0] & 0x1f;
    out->padding = pad != 0;
    it->off += plen;
    return 1;
}

int rtcp_validate(const uint8_t *buf, size_t len)
{
    rtcp_iter_t it;
    rtcp_pkt_t p;
    int n = 0, r;
    rtcp_iter_init(&it, buf, len);
    while ((r = rtcp_next(&it, &p)) > 0)
        n++;
    if (r < 0)
        return r;
    return n > 0 ? n : RTCP_ERR_SHORT;
}

/* ---- decoders ---- */

static void parse_report(const uint8_t *p, rtcp_report_t *r)
{
    r->ssrc = rd32(p);
    r->fraction_lost = p[4];
    uint32_t lost = (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    r->cumulative_lost = (lost & 0x800000u) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
    r->highest_seq = rd32(p + 8);
    r->jitter = rd32(p + 12);
    r->lsr = rd32(p + 16);
    r->dlsr = rd32(p + 20);
}

int rtcp_parse_sr(const rtcp_pkt_t *p, rtcp_sr_t *out)
{
    if (p->type != RTCP_SR)
        return RTCP_ERR_TYPE;
    /* Report blocks may be followed by profile-specific extensions (§6.4.1): only a minimum. */
    if (p->len < 28 + 24u * p->count)
        return RTCP_ERR_LENGTH;
    out->ssrc = rd32(p->data + 4);
    out->ntp = (uint64_t)rd32(p->data + 8) << 32 | rd32(p->data + 12);
    out->rtp_ts = rd32(p->data + 16);
    out->packets = rd32(p->data + 20);
    out->octets = rd32(p->data + 24);
    out->n_reports = p->count;
    for (size_t i = 0; i < p->count; i++)
        parse_report(p->data + 28 + 24 * i, &out->reports[i]);
    return 0;
}

int rtcp_parse_rr(const rtcp_pkt_t *p, rtcp_rr_t *out)
{
    if (p->type != RTCP_RR)
        return RTCP_ERR_TYPE;
    if (p->len < 8 + 24u * p->count)
        return RTCP_ERR_LENGTH;
    out->ssrc = rd32(p->data + 4);
    out->n_reports = p->count;
    for (size_t i = 0; i < p->count; i++)
        parse_report(p->data + 8 + 24 * i, &out->reports[i]);
    return 0;
}

int rtcp_parse_bye(const rtcp_pkt_t *p, rtcp_bye_t *out)
{
    if (p->type != RTCP_BYE)
        return RTCP_ERR_TYPE;
    if (p->len < 4 + 4u * p->count) /* an optional reason text may follow */
        return RTCP_ERR_LENGTH;
    out->n_ssrcs = p->count;
    for (size_t i = 0; i < p->count; i++)
        out->ssrcs[i] = rd32(p->data + 4 + 4 * i);
    return 0;
}

int rtcp_parse_fb(const rtcp_pkt_t *p, rtcp_fb_t *out)
{
    if (p->type != RTCP_RTPFB && p->type != RTCP_PSFB)
        return RTCP_ERR_TYPE;
    if (p->len < 12)
        return RTCP_ERR_LENGTH;
    out->type = p->type;
    out->fmt = p->count;
    out->sender_ssrc = rd32(p->data + 4);
    out->media_ssrc = rd32(p->data + 8);
    out->fci = p->data + 12;
    out->fci_len = p->len - 12;
    return 0;
}

bool rtcp_fb_is_pli(const rtcp_fb_t *fb)
{
    return fb->type == RTCP_PSFB && fb->fmt == RTCP_PSFB_PLI;
}

int rtcp_nack_seqs(const rtcp_fb_t *fb, uint16_t *seqs, size_t max)
{
    if (fb->type != RTCP_RTPFB || fb->fmt != RTCP_RTPFB_NACK)
        return RTCP_ERR_TYPE;
    if (fb->fci_len % 4 != 0)
        return RTCP_ERR_LENGTH;
    size_t n = 0;
    for (size_t off = 0; off < fb->fci_len; off += 4) {
        /* RFC 4585 §6.2.1: PID is lost; bit i of BLP says PID + i + 1 is lost too. */
        uint16_t pid = rd16(fb->fci + off), blp = rd16(fb->fci + off + 2);
        if (n < max)
            seqs[n] = pid;
        n++;
        for (unsigned i = 0; i < 16; i++) {
            if (blp & (1u << i)) {
                if (n < max)
                    seqs[n] = (uint16_t)(pid + i + 1);
                n++;
            }
        }
    }
    return (int)n; /* at most 16383 items × 17 */
}

int rtcp_fir_count(const rtcp_fb_t *fb)
{
    if (fb->type != RTCP_PSFB || fb->fmt != RTCP_PSFB_FIR)
        return RTCP_ERR_TYPE;
    if (fb->fci_len % 8 != 0)
        return RTCP_ERR_LENGTH;
    return (int)(fb->fci_len / 8);
}

int rtcp_fir_entry(const rtcp_fb_t *fb, size_t i, rtcp_fir_entry_t *out)
{
    if (fb->type != RTCP_PSFB || fb->fmt != RTCP_PSFB_FIR)
        return RTCP_ERR_TYPE;
    if (i >= fb->fci_len / 8)
        return RTCP_ERR_LENGTH;
    out->ssrc = rd32(fb->fci + 8 * i);
    out->seq = fb->fci[8 * i + 4];
    return 0;
}

static bool fb_is_remb(const rtcp_fb_t *fb)
{
    return fb->type == RTCP_PSFB && fb->fmt == RTCP_PSFB_AFB && fb->fci_len >= 4 &&
           memcmp(fb->fci, "REMB", 4) == 0;
}

int rtcp_parse_remb(const rtcp_fb_t *fb, rtcp_remb_t *out)
{
    if (!fb_is_remb(fb))
        return RTCP_ERR_TYPE;
    if (fb->fci_len < 8)
        return RTCP_ERR_LENGTH;
    uint8_t n = fb->fci[4];
    if (fb->fci_len < 8 + 4u * n)
        return RTCP_ERR_LENGTH;
    unsigned exp = fb->fci[5] >> 2;
    uint64_t mant = (uint64_t)(fb->fci[5] & 3) << 16 | (uint64_t)fb->fci[6] << 8 | fb->fci[7];
    /* A 6-bit exponent can push an 18-bit mantissa past 64 bits: saturate rather than wrap. */
    if (exp > 46 && (mant >> (64 - exp)) != 0)
        out->bitrate = UINT64_MAX;
    else
        out->bitrate = mant << exp;
    out->n_ssrcs = n;
    for (size_t i = 0; i < n; i++)
        out->ssrcs[i] = rd32(fb->fci + 8 + 4 * i);
    return 0;
}

int rtcp_parse_twcc(const rtcp_fb_t *fb, rtcp_twcc_t *out)
{
    if (fb->type != RTCP_RTPFB || fb->fmt != RTCP_RTPFB_TWCC)
        return RTCP_ERR_TYPE;
    if (fb->fci_len < 8)
        return RTCP_ERR_LENGTH;
    out->base_seq = rd16(fb->fci);
    out->status_count = rd16(fb->fci + 2);
    uint32_t ref = (uint32_t)fb->fci[4] << 16 | (uint32_t)fb->fci[5] << 8 | fb->fci[6];
    out->reference_time = (ref & 0x800000u) ? (int32_t)ref - 0x1000000 : (int32_t)ref;
    out->fb_count = fb->fci[7];
    out->rest = fb->fci + 8;
    out->rest_len = fb->fci_len - 8;
    return 0;
}

/* ---- builders ---- */

/* Writes the common header of a packet of len bytes (a multiple of 4). */
static void put_header(uint8_t *out, uint8_t count, uint8_t type, size_t len)
{
    out[0] = (uint8_t)(0x80 | (count & 0x1f));
    out[1] = type;
    wr16(out + 2, (uint16_t)(len / 4 - 1));
}

static void put_report(uint8_t *p, const rtcp_report_t *r)
{
    wr32(p, r->ssrc);
    p[4] = r->fraction_lost;
    /* Clamp to the signed 24-bit range rather than wrap into a wrong sign. */
    int32_t lost = r->cumulative_lost;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    uint32_t l24 = (uint32_t)lost & 0xffffffu;
    p[5] = (uint8_t)(l24 >> 16);
    p[6] = (uint8_t)(l24 >> 8);
    p[7] = (uint8_t)l24;
    wr32(p + 8, r->highest_seq);
    wr32(p + 12, r->jitter);
    wr32(p + 16, r->lsr);
    wr32(p + 20, r->dlsr);
}

long rtcp_build_rr(uint8_t *out, size_t cap, uint32_t sender_ssrc, const rtcp_report_t *reports,
                   size_t n_reports)
{
    size_t len = 8 + 24 * n_reports;
    if (n_reports > RTCP_MAX_REPORTS || cap < len)
        return RTCP_ERR_SPACE;
    put_header(out, (uint8_t)n_reports, RTCP_RR, len);
    wr32(out + 4, sender_ssrc);
    for (size_t i = 0; i < n_reports; i++)
        put_report(out + 8 + 24 * i, &reports[i]);
    return (long)len;
}

long rtcp_build_sr(uint8_t *out, size_t cap, const rtcp_sr_t *sr)
{
    size_t len = 28 + 24u * sr->n_reports;
    if (sr->n_reports > RTCP_MAX_REPORTS || cap < len)
        return RTCP_ERR_SPACE;
    put_header(out, sr->n_reports, RTCP_SR, len);
    wr32(out + 4, sr->ssrc);
    wr32(out + 8, (uint32_t)(sr->ntp >> 32));
    wr32(out + 12, (uint32_t)sr->ntp);
    wr32(out + 16, sr->rtp_ts);
    wr32(out + 20, sr->packets);
    wr32(out + 24, sr->octets);
    for (size_t i = 0; i < sr->n_reports; i++)
        put_report(out + 28 + 24 * i, &sr->reports[i]);
    return (long)len;
}

long rtcp_build_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    if (cap < 12)
        return RTCP_ERR_SPACE;
    put_header(out, RTCP_PSFB_PLI, RTCP_PSFB, 12);
    wr32(out + 4, sender_ssrc);
    wr32(out + 8, media_ssrc);
    return 12;
}

long rtcp_build_fir(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t seq)
{
    if (cap < 20)
        return RTCP_ERR_SPACE;
    put_header(out, RTCP_PSFB_FIR, RTCP_PSFB, 20);
    wr32(out + 4, sender_ssrc);
    wr32(out + 8, 0); /* RFC 5104 §4.3.1.2: the media source field is not used by FIR */
    wr32(out + 12, media_ssrc);
    out[16] = seq;
    out[17] = out[18] = out[19] = 0;
    return 20;
}

long rtcp_build_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                     const uint16_t *seqs, size_t n)
{
    if (n == 0 || cap < 16)
        return RTCP_ERR_SPACE;
    size_t max_items = (cap - 12) / 4;
    if (max_items > 16383) /* the length field counts at most 65535 words */
        max_items = 16383;
    uint8_t *fci = out + 12;
    size_t items = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t s = seqs[i];
        bool placed = false;
        /* An item covers PID and the 16 numbers after it (RFC 4585 §6.2.1). */
        for (size_t j = 0; j < items && !placed; j++) {
            uint16_t d = (uint16_t)(s - rd16(fci + 4 * j));
            if (d == 0) {
                placed = true;
            } else if (d <= 16) {
                wr16(fci + 4 * j + 2, (uint16_t)(rd16(fci + 4 * j + 2) | 1u << (d - 1)));
                placed = true;
            }
        }
        if (placed)
            continue;
        if (items == max_items)
            return RTCP_ERR_SPACE;
        wr16(fci + 4 * items, s);
        wr16(fci + 4 * items + 2, 0);
        items++;
    }
    size_t len = 12 + 4 * items;
    put_header(out, RTCP_RTPFB_NACK, RTCP_RTPFB, len);
    wr32(out + 4, sender_ssrc);
    wr32(out + 8, media_ssrc);
    return (long)len;
}

long rtcp_build_remb(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
                     const uint32_t *ssrcs, size_t n_ssrcs)
{
    size_t len = 20 + 4 * n_ssrcs;
    if (n_ssrcs > RTCP_MAX_REMB_SSRCS || cap < len)
        return RTCP_ERR_SPACE;
    unsigned exp = 0;
    while ((bitrate >> exp) >= (1u << 18))
        exp++;
    uint32_t mant = (uint32_t)(bitrate >> exp);
    put_header(out, RTCP_PSFB_AFB, RTCP_PSFB, len);
    wr32(out + 4, sender_ssrc);
    wr32(out + 8, 0); /* the REMB draft: media source 0, the streams are listed below */
    memcpy(out + 12, "REMB", 4);
    out[16] = (uint8_t)n_ssrcs;
    out[17] = (uint8_t)(exp << 2 | mant >> 16);
    out[18] = (uint8_t)(mant >> 8);
    out[19] = (uint8_t)mant;
    for (size_t i = 0; i < n_ssrcs; i++)
        wr32(out + 20 + 4 * i, ssrcs[i]);
    return (long)len;
}

/* ---- SSRC rewriting ---- */

static int map_field(uint8_t *p, rtcp_ssrc_role_t role, rtcp_ssrc_map_fn map, void *ctx)
{
    uint32_t to;
    if (!map(ctx, role, rd32(p), &to))
        return 0;
    wr32(p, to);
    return 1;
}

/* Rewrites the SSRC fields of one feedback packet (p is writable, fb its parse). */
static int rewrite_fb(uint8_t *p, const rtcp_fb_t *fb, rtcp_ssrc_map_fn map, void *ctx)
{
    int n = map_field(p + 4, RTCP_SSRC_SENDER, map, ctx);
    /* 0 in the media field means "none" (FIR, REMB): nothing to map. */
    if (fb->media_ssrc != 0)
        n += map_field(p + 8, RTCP_SSRC_MEDIA, map, ctx);
    uint8_t *fci = p + 12;
    int firs = rtcp_fir_count(fb);
    if (firs == RTCP_ERR_LENGTH)
        return RTCP_ERR_LENGTH;
    for (int i = 0; i < firs; i++)
        n += map_field(fci + 8 * i, RTCP_SSRC_FIR_TARGET, map, ctx);
    rtcp_remb_t remb;
    int r = rtcp_parse_remb(fb, &remb);
    if (r == RTCP_ERR_LENGTH)
        return r;
    if (r == 0)
        for (size_t i = 0; i < remb.n_ssrcs; i++)
            n += map_field(fci + 8 + 4 * i, RTCP_SSRC_REMB_TARGET, map, ctx);
    return n;
}

static int rewrite_one(uint8_t *p, const rtcp_pkt_t *pkt, rtcp_ssrc_map_fn map, void *ctx)
{
    int n = 0;
    switch (pkt->type) {
    case RTCP_SR:
    case RTCP_RR: {
        size_t first = pkt->type == RTCP_SR ? 28 : 8;
        if (pkt->len < first + 24u * pkt->count)
            return RTCP_ERR_LENGTH;
        n += map_field(p + 4, RTCP_SSRC_SENDER, map, ctx);
        for (size_t i = 0; i < pkt->count; i++)
            n += map_field(p + first + 24 * i, RTCP_SSRC_REPORTED, map, ctx);
        return n;
    }
    case RTCP_BYE:
        if (pkt->len < 4 + 4u * pkt->count)
            return RTCP_ERR_LENGTH;
        for (size_t i = 0; i < pkt->count; i++)
            n += map_field(p + 4 + 4 * i, RTCP_SSRC_BYE, map, ctx);
        return n;
    case RTCP_RTPFB:
    case RTCP_PSFB: {
        rtcp_fb_t fb;
        int r = rtcp_parse_fb(pkt, &fb);
        if (r < 0)
            return r;
        return rewrite_fb(p, &fb, map, ctx);
    }
    default: /* SDES, APP, XR…: left as they are */
        return 0;
    }
}

int rtcp_rewrite_ssrcs(uint8_t *buf, size_t len, rtcp_ssrc_map_fn map, void *ctx)
{
    rtcp_iter_t it;
    rtcp_pkt_t pkt;
    int total = 0, r;
    rtcp_iter_init(&it, buf, len);
    while ((r = rtcp_next(&it, &pkt)) > 0) {
        int n = rewrite_one(buf + (pkt.data - buf), &pkt, map, ctx);
        if (n < 0)
            return n;
        total += n;
    }
    return r < 0 ? r : total;
}

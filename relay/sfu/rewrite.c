/* rewrite.c — per-outgoing-stream SSRC/seq/ts/VP8 rewriting across source switches. See rewrite.h for
 * the rules; the numbers in comments refer to them. */
#include "rewrite.h"

#include <stdlib.h>

#include "vp8.h"

/* Cap on the timestamp advance at a switch: a subscriber paused for hours must not see a jump that
 * reads as going backwards (more than 2^31 on the RTP clock). */
#define REWRITE_MAX_TS_ADVANCE 0x3fffffffu

struct rewrite {
    rewrite_config_t cfg;

    /* The current source and its segment (rule 1, 2). */
    bool have_source, force_switch;
    uint32_t src_ssrc;
    rtp_seq_ext_t src_seq;  /* the source's seqs extended to 64 bits */
    uint64_t seg_first_ext; /* extended seq of the segment's first packet (rule 4) */
    uint16_t seq_off;
    uint32_t ts_off;
    /* Rule 7: ranges of extended seqs deliberately not forwarded, oldest first; packets at or below
     * floor_ext are dropped once a range has been folded into seq_off. */
    struct {
        uint64_t first;
        uint32_t count;
    } drops[REWRITE_MAX_DROP_RANGES];
    size_t n_drops;
    uint64_t floor_ext;

    /* What the subscriber has seen (rule 5). */
    bool started;
    uint16_t out_seq_hi;
    uint32_t out_ts_hi;   /* ts of the packet with the highest outgoing seq */
    uint64_t out_hi_ms;   /* when that packet was forwarded */

    /* VP8 PictureID and TL0PICIDX: offset of the segment, highest sent, and whether known. */
    bool pid_seg, pid_seen, pid15;
    uint16_t pid_off, out_pid_hi;
    bool tl0_seg, tl0_seen;
    uint8_t tl0_off, out_tl0_hi;

    uint32_t packets, octets;
};

rewrite_t *rewrite_new(const rewrite_config_t *cfg)
{
    if (!cfg || cfg->clock_rate == 0)
        return NULL;
    rewrite_t *rw = calloc(1, sizeof *rw);
    if (!rw)
        return NULL;
    rw->cfg = *cfg;
    return rw;
}

void rewrite_free(rewrite_t *rw)
{
    free(rw);
}

void rewrite_set_out_pt(rewrite_t *rw, int out_pt)
{
    rw->cfg.out_pt = out_pt;
}

void rewrite_reset_source(rewrite_t *rw)
{
    rw->force_switch = true;
}

static uint16_t pid_mask(bool fifteen)
{
    return fifteen ? 0x7fff : 0x7f;
}

/* Rule 3 for the VP8 fields: the new source's first picture follows the highest one sent. */
static void start_vp8_segment(rewrite_t *rw, const vp8_desc_t *d)
{
    rw->pid_seg = d->has_picture_id;
    if (d->has_picture_id) {
        rw->pid15 = d->picture_id_15;
        rw->pid_off = rw->pid_seen ? (uint16_t)(rw->out_pid_hi + 1 - d->picture_id) : 0;
    }
    rw->tl0_seg = d->has_tl0picidx;
    if (d->has_tl0picidx)
        rw->tl0_off = rw->tl0_seen ? (uint8_t)(rw->out_tl0_hi + 1 - d->tl0picidx) : 0;
}

static void start_segment(rewrite_t *rw, const rtp_view_t *v, uint64_t now_ms)
{
    rw->have_source = true;
    rw->force_switch = false;
    rw->src_ssrc = v->ssrc;
    rtp_seq_ext_init(&rw->src_seq);
    rw->seg_first_ext = rtp_seq_ext_update(&rw->src_seq, v->seq);
    rw->n_drops = 0;
    rw->floor_ext = 0;
    if (!rw->started) { /* rule 6 */
        rw->seq_off = 0;
        rw->ts_off = 0;
        return;
    }
    rw->seq_off = (uint16_t)(rw->out_seq_hi + 1 - v->seq);
    uint64_t elapsed = now_ms > rw->out_hi_ms ? now_ms - rw->out_hi_ms : 0;
    uint64_t adv = elapsed * rw->cfg.clock_rate / 1000;
    if (adv < 1)
        adv = 1;
    if (adv > REWRITE_MAX_TS_ADVANCE)
        adv = REWRITE_MAX_TS_ADVANCE;
    rw->ts_off = rw->out_ts_hi + (uint32_t)adv - v->ts;
}

static void rewrite_vp8(rewrite_t *rw, uint8_t *buf, const rtp_view_t *v, bool new_segment)
{
    vp8_desc_t d;
    uint8_t *payload = buf + v->payload_off;
    if (vp8_parse(payload, v->payload_len, &d) < 0)
        return; /* not a descriptor we understand: the decoder judges the payload, we forward it */
    if (new_segment)
        start_vp8_segment(rw, &d);
    if (rw->pid_seg && d.has_picture_id && d.picture_id_15 == rw->pid15) {
        uint16_t out = (uint16_t)((d.picture_id + rw->pid_off) & pid_mask(rw->pid15));
        vp8_set_picture_id(payload, &d, out);
        if (!rw->pid_seen || vp8_picture_id_diff(out, rw->out_pid_hi, rw->pid15) > 0)
            rw->out_pid_hi = out;
        rw->pid_seen = true;
    }
    if (rw->tl0_seg && d.has_tl0picidx) {
        uint8_t out = (uint8_t)(d.tl0picidx + rw->tl0_off);
        vp8_set_tl0picidx(payload, &d, out);
        if (!rw->tl0_seen || (int8_t)(uint8_t)(out - rw->out_tl0_hi) > 0)
            rw->out_tl0_hi = out;
        rw->tl0_seen = true;
    }
}

/* How many packets before ext (extended source seq) were dropped under rule 7. */
static uint32_t dropped_before(const rewrite_t *rw, uint64_t ext)
{
    uint32_t n = 0;
    for (size_t i = 0; i < rw->n_drops && rw->drops[i].first < ext; i++) {
        uint64_t upto = ext - rw->drops[i].first;
        n += upto < rw->drops[i].count ? (uint32_t)upto : rw->drops[i].count;
    }
    return n;
}

/* True when ext lies in a range dropped under rule 7 (a duplicate of a packet not forwarded). */
static bool was_dropped(const rewrite_t *rw, uint64_t ext)
{
    for (size_t i = 0; i < rw->n_drops; i++)
        if (ext >= rw->drops[i].first && ext - rw->drops[i].first < rw->drops[i].count)
            return true;
    return false;
}

/* Rule 4 for a packet of the current segment: false when it must not be mapped. */
static bool in_segment_window(const rewrite_t *rw, uint64_t ext)
{
    return ext >= rw->seg_first_ext && ext > rw->floor_ext && ext + REWRITE_REORDER_WINDOW >= rw->src_seq.highest;
}

int rewrite_drop(rewrite_t *rw, const rtp_view_t *v)
{
    if (!rw->have_source || rw->force_switch || v->ssrc != rw->src_ssrc)
        return 0;
    uint64_t ext = rtp_seq_ext_peek(&rw->src_seq, v->seq);
    if (!in_segment_window(rw, ext) || ext <= rw->src_seq.highest)
        return 0;
    rtp_seq_ext_update(&rw->src_seq, v->seq);
    if (rw->n_drops > 0) {
        size_t last = rw->n_drops - 1;
        if (rw->drops[last].first + rw->drops[last].count == ext) { /* a run of drops: one range */
            rw->drops[last].count++;
            return 1;
        }
    }
    if (rw->n_drops == REWRITE_MAX_DROP_RANGES) {
        /* Forget the oldest range: fold it into the offset; what lies before it can no longer be
         * numbered and will be dropped. */
        rw->seq_off = (uint16_t)(rw->seq_off - rw->drops[0].count);
        rw->floor_ext = rw->drops[0].first + rw->drops[0].count - 1;
        for (size_t i = 1; i < rw->n_drops; i++)
            rw->drops[i - 1] = rw->drops[i];
        rw->n_drops--;
    }
    rw->drops[rw->n_drops].first = ext;
    rw->drops[rw->n_drops].count = 1;
    rw->n_drops++;
    return 1;
}

int rewrite_packet(rewrite_t *rw, uint8_t *buf, size_t len, const rtp_view_t *v, uint64_t now_ms,
                   rewrite_result_t *res)
{
    (void)len;
    bool new_segment = !rw->have_source || rw->force_switch || v->ssrc != rw->src_ssrc;
    uint64_t ext;
    if (new_segment) {
        start_segment(rw, v, now_ms);
        ext = rw->seg_first_ext;
    } else {
        ext = rtp_seq_ext_peek(&rw->src_seq, v->seq);
        if (!in_segment_window(rw, ext) || was_dropped(rw, ext))
            return REWRITE_DROP; /* rule 4: before the switch point, or stale; rule 7 */
        rtp_seq_ext_update(&rw->src_seq, v->seq);
    }
    uint16_t seq = (uint16_t)(v->seq + rw->seq_off - dropped_before(rw, ext));
    uint32_t ts = v->ts + rw->ts_off;
    rtp_set_ssrc(buf, rw->cfg.out_ssrc);
    rtp_set_seq(buf, seq);
    rtp_set_ts(buf, ts);
    if (rw->cfg.out_pt >= 0)
        rtp_set_pt(buf, (uint8_t)rw->cfg.out_pt);
    if (rw->cfg.vp8)
        rewrite_vp8(rw, buf, v, new_segment);
    if (!rw->started || rtp_seq_diff(seq, rw->out_seq_hi) > 0) {
        rw->out_seq_hi = seq;
        rw->out_ts_hi = ts;
        rw->out_hi_ms = now_ms;
    }
    rw->started = true;
    rw->packets++;
    rw->octets += (uint32_t)v->payload_len;
    if (res) {
        res->seq = seq;
        res->ts = ts;
        res->switched = new_segment;
    }
    return REWRITE_FORWARD;
}

bool rewrite_map_ts(const rewrite_t *rw, uint32_t src_ts, uint32_t *out_ts)
{
    if (!rw->started)
        return false;
    *out_ts = src_ts + rw->ts_off;
    return true;
}

uint32_t rewrite_packets_sent(const rewrite_t *rw)
{
    return rw->packets;
}

uint32_t rewrite_octets_sent(const rewrite_t *rw)
{
    return rw->octets;
}

uint16_t rewrite_last_seq(const rewrite_t *rw)
{
    return rw->out_seq_hi;
}

/* rewrite.h — the per-outgoing-stream rewriter: one SSRC, continuous sequence numbers, timestamps and
 * VP8 PictureID/TL0PICIDX towards a subscriber, whatever source stream the SFU forwards behind it.
 *
 * Owns: the mapping from the current source's numbering to the outgoing numbering, and its change at a
 * switch of source (another publisher, another simulcast layer, the same publisher after a reconnect).
 * Must not: decide *when* to switch (the caller does, e.g. on a keyframe of the new layer), allocate
 * after rewrite_new, read clocks (the caller passes now), or send anything.
 *
 * Rules:
 * 1. A source is identified by its SSRC. A packet from an SSRC other than the current source's starts a
 *    new segment (a switch); rewrite_reset_source forces one for the same SSRC (publisher reconnect).
 * 2. Within a segment the mapping is a constant offset, modulo 2^16 for seq, 2^32 for ts, and the
 *    PictureID width / 2^8 for VP8: gaps stay gaps (the subscriber NACKs them), reordered packets keep
 *    their order, wraps need nothing special.
 * 3. At a switch the first packet of the new segment gets: seq = highest outgoing seq + 1;
 *    ts = outgoing ts of the newest packet sent + max(1, (now - when that packet was sent) × clock
 *    rate / 1000), i.e. the timeline advances by the wall-clock time that passed; PictureID = highest
 *    sent + 1 and TL0PICIDX = highest sent + 1 (if the new source carries them).
 * 4. A packet of the current segment older than the segment's first packet (extended seq below it) is
 *    dropped (REWRITE_DROP), never mapped backwards into numbers the old source used. So is a packet
 *    that is older than the newest one by more than REWRITE_REORDER_WINDOW (a stale duplicate).
 * 5. The outgoing highest seq/ts/PictureID only move forward; reordered packets do not lower them.
 * 6. The very first packet of the stream keeps its own seq and ts (any start value is legal, RFC 3550);
 *    PictureID and TL0PICIDX likewise.
 * 7. A packet of the current source that the SFU chooses not to forward (a padding-only probe, a
 *    temporal layer the subscriber does not get) is passed to rewrite_drop instead: when it is the
 *    newest packet seen, the numbers after it shift down by one, so the subscriber sees no gap and
 *    does not NACK it. Consecutive drops are kept as one range; at most REWRITE_MAX_DROP_RANGES ranges
 *    are remembered per segment, and when the oldest one is forgotten, packets older than it are
 *    dropped (they could no longer be numbered). A dropped packet older than the newest one leaves its
 *    gap: the numbers after it were already sent.
 */
#ifndef STAFFROOM_REWRITE_H
#define STAFFROOM_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtp.h"

#define REWRITE_REORDER_WINDOW 1000 /* packets: older than this behind the newest → dropped */
#define REWRITE_MAX_DROP_RANGES 32  /* rule 7 */

enum {
    REWRITE_FORWARD = 0, /* buf was rewritten: send it */
    REWRITE_DROP = 1,    /* do not send (rule 4) */
};

typedef struct rewrite rewrite_t;

typedef struct {
    uint32_t out_ssrc;   /* the SSRC the subscriber sees */
    uint32_t clock_rate; /* RTP clock of the codec: 90000 video, 48000 Opus */
    int out_pt;          /* payload type to write, or -1 to keep the source's */
    bool vp8;            /* rewrite the VP8 descriptor (PictureID, TL0PICIDX) */
} rewrite_config_t;

/* What rewrite_packet wrote, for the caller's retransmission buffer and statistics. */
typedef struct {
    uint16_t seq;
    uint32_t ts;
    bool switched; /* this packet started a new segment */
} rewrite_result_t;

/* Returns a new rewriter (owned by the caller: rewrite_free), or NULL when out of memory or
 * cfg->clock_rate is 0. */
rewrite_t *rewrite_new(const rewrite_config_t *cfg);
void rewrite_free(rewrite_t *rw);

/* Sets the outgoing payload type (-1: keep the source's), e.g. after a renegotiation. */
void rewrite_set_out_pt(rewrite_t *rw, int out_pt);

/* The next packet starts a new segment even if its SSRC is the current one (publisher reconnect). */
void rewrite_reset_source(rewrite_t *rw);

/* Rewrites one packet of the source in place: buf/len are the packet v was parsed from (v->data ==
 * buf). now_ms is a monotonic clock in milliseconds. Returns REWRITE_FORWARD and fills *res (may be
 * NULL), or REWRITE_DROP (buf is then untouched). */
int rewrite_packet(rewrite_t *rw, uint8_t *buf, size_t len, const rtp_view_t *v, uint64_t now_ms,
                   rewrite_result_t *res);

/* Rule 7: the packet v (of the source being forwarded) will not be forwarded; buf is not touched.
 * Returns 1 when the outgoing numbering closed over it, 0 when it changes nothing (another source, a
 * stale packet, or one older than the newest: its gap stays). */
int rewrite_drop(rewrite_t *rw, const rtp_view_t *v);

/* For sender reports towards the subscriber: translates a timestamp of the current source's clock into
 * the outgoing timeline. Returns false before the first packet. */
bool rewrite_map_ts(const rewrite_t *rw, uint32_t src_ts, uint32_t *out_ts);

/* Counters for the subscriber-side SR: packets and payload octets forwarded. */
uint32_t rewrite_packets_sent(const rewrite_t *rw);
uint32_t rewrite_octets_sent(const rewrite_t *rw);
/* The highest outgoing sequence number (valid after the first forwarded packet). */
uint16_t rewrite_last_seq(const rewrite_t *rw);

#endif

/* sfu.c — see sfu.h. */
#include "sfu.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bwe.h"
#include "ice.h"
#include "keyreq.h"
#include "layers.h"
#include "log.h"
#include "nackbuf.h"
#include "peer.h"
#include "recorder.h"
#include "rewrite.h"
#include "rtcp.h"
#include "rtp.h"
#include "rtpstats.h"
#include "sdp.h"
#include "speaker.h"
#include "srtp.h"
#include "twcc.h"
#include "vp8.h"

/* The payload types the SFU uses towards subscribers (it rewrites the publisher's on forwarding). */
#define PT_OPUS 111
#define PT_VP8 96
#define PT_H264 102
/* Keyframe requests to a publisher's video track (keyreq.h): at most one per 500 ms, but a new
 * subscriber's goes out at once unless one went in the last 200 ms — a joining subscriber sees nothing
 * until a keyframe arrives, so its wait is the join time people notice. */
#define KEYFRAME_INTERVAL_MS 500
#define KEYFRAME_FAST_MS 200
#define SFU_RTCP_SSRC 1 /* the sender SSRC of the SFU's own RR and feedback (it sends publishers no media) */
#define RTCP_TICK_MS 1000
#define SR_MAX_AGE_US 10000000 /* a publisher SR older than this is not carried forward (clock drift) */
#define RTCP_MAX_DATAGRAM 1200
#define EXT_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define EXT_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define EXT_RID "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define EXT_RRID "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
#define EXT_TCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
/* Simulcast and its adaptation (issue 13). Every LAYERS_TICK_MS each subscriber's estimate (bwe.h) is
 * shared over its video legs (layers.h); a leg switches to its new layer on that layer's next keyframe.
 * AUDIO_RESERVE_BPS per audio leg is set aside first: audio is never starved for video. A layer's rate
 * is measured over LAYER_RATE_WINDOW_US; one silent for LAYER_DEAD_US is not live (the publisher stopped
 * it, or its link dropped it).
 * Publishers stop what nobody receives: a layer above the lowest that no leg forwards or waits for (and
 * the room does not record) for LAYER_PAUSE_MS is paused (the publisher is told: event `layers`, which
 * the web client turns into an inactive encoding). To the allocation a paused layer stays a choice, at
 * the rate it had: a leg that chooses it resumes it at once, and keeps its current layer until the
 * resumed one's keyframe. The lowest layer is never paused (it is every newcomer's first picture). */
#define LAYER_PAUSE_MS 3000
#define LAYER_RAMP_MS 10000 /* a resumed layer's encoder is back to its rate within this */
#define LAYERS_TICK_MS 250
#define AUDIO_RESERVE_BPS 48000
#define LAYER_RATE_WINDOW_US 1000000
#define LAYER_DEAD_US 1500000
#define TWCC_MAX_STATUSES 2048
#define SIMULCAST_START_KBPS "1200"
#define KEYFRAME_RETRY_MS 1000 /* a leg waiting this long for its new layer's keyframe asks again */
/* Retransmissions to a subscriber with an estimate get RTX_SHARE of it, RTX_BURST_MS of the whole
 * estimate at once (rtx_allowed). */
/* After the estimate falls, a leg going down stops its layer at once for CONGESTED_MS (allocate_part). */
#define CONGESTED_MS 1000
#define TCC_SILENT_PACKETS 100
#define RTX_SHARE 0.25
#define RTX_BURST_MS 200
#define MAX_SLOTS SDP_MAX_MEDIA
/* Retransmission buffer of a video leg: Chromium's packets stay under 1200 bytes, and at the room
 * bitrates (≤ 2.5 Mbit/s, ~250 packets/s) 256 packets cover the second after which a resend is too late
 * to be played anyway (nackbuf.h). That is the bound; the memory held follows the leg's bitrate over
 * that second. Audio is not NACKed (Chromium does not negotiate it for Opus). */
#define NACK_SLOTS 256
#define NACK_SLOT_SIZE 1300
/* What a leg's buffer keeps of its own beyond the RTP header: the VP8 payload descriptor (at most 6
 * bytes, RFC 7741 §4.2), whose PictureID and TL0PICIDX rewrite.c numbers per leg. The rest of the
 * payload is the same for every subscriber and is kept once per track (nackbuf.h, sharing). */
#define NACK_OWN_PAYLOAD 8
#define SPEAKER_TICK_MS 300

typedef struct room room_t;
typedef struct part part_t;
typedef struct track track_t;
typedef struct leg leg_t;

typedef enum { SLOT_RECV, SLOT_SEND, SLOT_OFF } slot_role_t;

/* One m-section of a participant's PeerConnection. */
typedef struct {
    char mid[33];
    char kind[16];   /* audio, video, application */
    slot_role_t role;
    track_t *track;  /* SLOT_RECV: the track it publishes (may be NULL: recvonly/rejected); SLOT_SEND: sent */
    leg_t *leg;      /* SLOT_SEND */
    int rejected;    /* answered with port 0 (e.g. data channels, unusable codecs) */
    /* What the subscriber sees on a section the SFU sends on. It belongs to the section, not to the leg,
     * so that a section reused for another track (a publisher left and came back) keeps its SSRC and its
     * numbering continues (rewrite.h rules 1 and 3). Created with the section's first leg. */
    uint32_t out_ssrc, rtx_ssrc;
    uint16_t rtx_seq;
    rewrite_t *rw;
    int rw_vp8;
    nackbuf_t *nack; /* video only */
} slot_t;

struct track {
    part_t *owner;
    char mid[33];
    char label[16];  /* camera, mic, screen */
    char kind[16];   /* audio, video */
    char codec[16];  /* opus, VP8, H264 */
    int pt;          /* the publisher's payload type of codec */
    int out_pt;      /* ours towards subscribers */
    char fmtp[160];
    uint32_t ssrc, rtx_ssrc; /* ssrc: layer 0's (0 until a simulcast layer's first packet names it) */
    int audio_level_id;
    GPtrArray *legs; /* leg_t */
    /* Its streams: one, or one per simulcast layer (rid), lowest first. Per layer a PLI throttle
     * (keyreq.h), reception statistics (the RR to the publisher, the SRs to subscribers), its measured
     * rate and frame size (layers.h inputs), and whether the publisher was told to pause it. */
    struct {
        char rid[17];
        uint32_t ssrc;
        keyreq_t keyreq;
        rtpstats_rx_t rx;
        uint64_t win_start_us, win_bytes, last_us;
        uint32_t bps;
        uint16_t width, height;
        int paused;              /* the publisher was told to stop it */
        uint32_t paused_bps;     /* its rate before the last pause (0: none, or ramped up again since) */
        uint64_t resumed_ms;
        uint64_t unused_since_ms; /* no leg has had it since (0: one has) */
    } layers[LAYERS_MAX];
    int nlayers;
    int simulcast;
    int rid_id, rrid_id, mid_id; /* the publisher's extmap ids of rtp-stream-id (simulcast), its repair, mid */
    recorder_stream_t *rec; /* its file while the room records (owned by the recorder; NULL otherwise) */
    int rec_layer;          /* the layer recorded (simulcast: the highest live when recording began), -1 */
    nackbuf_bodies_t *bodies; /* video: the payloads its legs' retransmission buffers share (or NULL) */
};

struct leg {
    track_t *track;
    part_t *sub;
    slot_t *slot;
    char msid[80];
    int rtx_pt; /* the subscriber's answer accepted RTX for our payload type: resend as RTX; else -1 */
    /* Forwarding starts once the subscriber has answered the offer that announced this leg: a packet with
     * an SSRC its browser does not know yet would be bound by payload type to another section (Chromium's
     * demuxer learns SSRCs from traffic), and the answer then fails. */
    int active;
    int64_t active_us;  /* when it became active (for the join-time log) */
    int keyframe_sent;  /* a keyframe has been forwarded on it: the subscriber can show the track */
    /* The layer of the track forwarded now (-1: none) and the one chosen (switched to on its next
     * keyframe); audio and single-stream video start on 0. ll: the layer choice's inputs and state. */
    int cur, target;
    uint64_t wait_ms; /* when it started waiting for target's keyframe (re-asked each KEYFRAME_RETRY_MS) */
    layers_leg_t ll;
};

struct part {
    sfu_t *sfu;
    room_t *room;
    char *pid, *user, *node;
    peer_t *peer;
    slot_t *slots[MAX_SLOTS];
    size_t nslots;
    GPtrArray *tracks; /* track_t published */
    int offer_pending, need_offer;
    uint64_t sdp_version;
    unsigned next_mid;
    int closing;
    uint32_t speaker_id;
    guint idle_free, ice_timer;
    int up;
    /* Transport-wide congestion control towards it: the extmap id used in the SFU's offers (its own
     * offer's id when it has one: ids are shared across a BUNDLE), whether its answer accepted it, the
     * next sequence number, and the estimate built from its feedback. */
    int tcc_id, tcc_on;
    uint16_t tcc_seq;
    bwe_t *bwe;
    /* Retransmission budget (rtx_allowed): bytes that may be resent now, refilled since rtx_refill_us. */
    double rtx_tokens;
    uint64_t rtx_refill_us;
    uint64_t tcc_sent; /* packets stamped with a transport-wide sequence number */
    /* The estimate's decreases seen by allocate_part, and until when its link counts as congested. */
    uint64_t decreases_seen, congested_until_ms;
};

struct room {
    char *id;
    GPtrArray *parts;
    speaker_t *speakers; /* audio levels → dominant speaker (speaker.h), by part_t.speaker_id */
    uint32_t next_speaker_id;
    part_t *speaker;     /* the last one announced */
    uint64_t layer_switches; /* metrics */
    sfu_t *sfu;
    recorder_t *rec;     /* while recording (recorder.h) */
    char *rec_node, *rec_name;
    GHashTable *rec_pids; /* who consented: only their tracks are recorded */
};

struct sfu {
    sfu_params_t p;
    char **addresses;
    sfu_events_t ev;
    GHashTable *rooms; /* id → room_t */
    uint64_t session_id;
    int draining;
    guint speaker_timer, media_timer, rtcp_timer, layers_timer;
    GPtrArray *dying; /* parts waiting for their idle free */
    unsigned rec_finishing; /* recordings whose writer has not reported back yet */
};

static void record_packet(track_t *t, const rtp_view_t *v, int keyframe);
static int record_layer(track_t *t);
static void record_end(room_t *r, const char *reason);

/* ---- lookups ------------------------------------------------------------------------------------ */

static part_t *find_part(sfu_t *s, const char *room, const char *pid)
{
    room_t *r = g_hash_table_lookup(s->rooms, room);
    if (!r)
        return NULL;
    for (guint i = 0; i < r->parts->len; i++) {
        part_t *p = r->parts->pdata[i];
        if (!p->closing && strcmp(p->pid, pid) == 0)
            return p;
    }
    return NULL;
}

static slot_t *find_slot(part_t *p, const char *mid)
{
    for (size_t i = 0; i < p->nslots; i++)
        if (strcmp(p->slots[i]->mid, mid) == 0)
            return p->slots[i];
    return NULL;
}

/* The track (and its layer, in *layer: -1 for its RTX stream) a publisher's SSRC belongs to. */
static track_t *track_by_ssrc(part_t *p, uint32_t ssrc, int *layer)
{
    for (guint i = 0; i < p->tracks->len; i++) {
        track_t *t = p->tracks->pdata[i];
        for (int k = 0; k < t->nlayers; k++)
            if (t->layers[k].ssrc == ssrc) {
                *layer = k;
                return t;
            }
        if (t->rtx_ssrc && t->rtx_ssrc == ssrc) {
            *layer = -1;
            return t;
        }
    }
    return NULL;
}

/* RFC 8852: a simulcast layer's SSRC is learnt from its first packet, which names its rid. Only packets
 * of the track's codec bind (an RTX packet names the rid it repairs in another extension). */
static track_t *bind_layer(part_t *p, const rtp_view_t *v, int *layer)
{
    for (guint i = 0; i < p->tracks->len; i++) {
        track_t *t = p->tracks->pdata[i];
        const uint8_t *rid;
        size_t n;
        if (!t->simulcast || v->pt != t->pt || rtp_find_ext(v, (uint8_t)t->rid_id, &rid, &n) < 0)
            continue;
        for (int k = 0; k < t->nlayers; k++)
            if (!t->layers[k].ssrc && strlen(t->layers[k].rid) == n && !memcmp(t->layers[k].rid, rid, n)) {
                t->layers[k].ssrc = v->ssrc;
                if (k == 0)
                    t->ssrc = v->ssrc;
                *layer = k;
                log_info("participant %s: %s layer %s is ssrc %u", p->pid, t->label, t->layers[k].rid, v->ssrc);
                return t;
            }
    }
    return NULL;
}

static uint32_t random_ssrc(void) { return g_random_int_range(1, G_MAXINT32); }

/* ---- RTCP towards a publisher ------------------------------------------------------------------- */

/* RFC 4585 §6.3.1 PLI to the track's publisher. */
static void send_pli(track_t *t, int layer)
{
    uint8_t pkt[12 + SFU_SRTP_TRAILER];
    long n = rtcp_build_pli(pkt, 12, SFU_RTCP_SSRC, t->layers[layer].ssrc);
    if (n > 0 && peer_send_rtcp(t->owner->peer, pkt, (size_t)n) == 0)
        sfu_counters.plis_sent++;
}

static uint64_t now_ms(void) { return (uint64_t)g_get_monotonic_time() / 1000; }

/* A keyframe of t is wanted (a subscriber lost the picture, or starts receiving it): sent now, or when
 * the throttle allows (then by on_rtp, which polls it with every packet of the track: a track that sends
 * nothing has no keyframe to give either). A burst of subscribers asking costs the publisher one. */
static void keyframe_wanted(track_t *t, int layer, keyreq_reason_t why)
{
    if (strcmp(t->kind, "video") != 0 || layer < 0 || layer >= t->nlayers || !t->layers[layer].ssrc || !t->owner->up)
        return;
    sfu_counters.keyframe_requests++;
    if (keyreq_request(&t->layers[layer].keyreq, why, now_ms()))
        send_pli(t, layer);
}

/* ---- forwarding --------------------------------------------------------------------------------- */

/* A copy of the publisher's packet in[0..len) whose header extensions are replaced by one element: the
 * subscriber's transport-wide sequence number (id, 2 bytes, filled in by send_media). The publisher's
 * other elements mean nothing to the subscriber (the SFU's offers map no other id for what it sends).
 * Returns the copy's length, or 0 when it does not fit in cap. */
static size_t with_tcc_ext(uint8_t *out, size_t cap, const uint8_t *in, size_t len, const rtp_view_t *v, int id)
{
    size_t head = RTP_HEADER_LEN + 4u * v->csrc_count, body = len - v->payload_off; /* payload + padding */
    size_t n = head + 8 + body;
    if (n > cap)
        return 0;
    memcpy(out, in, head);
    out[0] |= 0x10;
    const uint8_t ext[8] = {0xBE, 0xDE, 0, 1, (uint8_t)(id << 4 | 1), 0, 0, 0}; /* RFC 8285 §4.2 */
    memcpy(out + head, ext, sizeof ext);
    memcpy(out + head + 8, in + v->payload_off, body);
    return n;
}

/* Sends an RTP packet to a subscriber; with transport-cc on, stamps it with the subscriber's next
 * transport-wide sequence number and tells its estimator (a retransmission gets a number of its own).
 * v: the packet's view when the caller has one (v->data == pkt; rewriting in place keeps its offsets
 * valid), saving a second parse on the forwarding path; NULL to parse here. now_us: monotonic. */
static int send_media(part_t *sub, uint8_t *pkt, size_t len, const rtp_view_t *v, uint64_t now_us)
{
    if (sub->tcc_on && sub->bwe) {
        rtp_view_t parsed;
        uint8_t seq[2] = {(uint8_t)(sub->tcc_seq >> 8), (uint8_t)sub->tcc_seq};
        if (!v && rtp_parse(pkt, len, &parsed) == 0)
            v = &parsed;
        if (v && rtp_set_ext(pkt, v, (uint8_t)sub->tcc_id, seq, 2) == 0) {
            bwe_sent(sub->bwe, sub->tcc_seq, len, now_us);
            sub->tcc_seq++;
            sub->tcc_sent++;
        }
    }
    return peer_send_rtp(sub->peer, pkt, len);
}

/* A leg starts forwarding its chosen layer at that layer's keyframe (rewrite.c keeps the numbering
 * continuous across the change of SSRC). */
static void leg_switch(leg_t *l, int layer)
{
    if (l->cur >= 0) {
        sfu_counters.layer_switches++;
        if (l->sub->room)
            l->sub->room->layer_switches++;
    }
    log_info("participant %s: %s's %s layer %d -> %d", l->sub->pid, l->track->owner->pid, l->track->label, l->cur, layer);
    l->cur = layer;
}

/* Sends one publisher packet (of the track's layer `layer`) to every active leg of its track that
 * forwards that layer: each leg gets its own copy, rewritten to the SSRC/seq/ts the subscriber's section
 * carries (rewrite.h), kept in the leg's retransmission buffer before SRTP protects it. v is the
 * packet's view (v->data == buf). */
static void forward(track_t *t, int layer, const uint8_t *buf, size_t len, const rtp_view_t *v, int keyframe)
{
    uint8_t out[1500 + SFU_SRTP_TRAILER];
    if (len > 1500)
        return;
    uint64_t now_us = (uint64_t)g_get_monotonic_time(), now = now_us / 1000;
    for (guint i = 0; i < t->legs->len; i++) {
        leg_t *l = t->legs->pdata[i];
        slot_t *sl = l->slot;
        if (!l->active || !l->sub->up || l->sub->closing || !sl || !sl->rw)
            continue;
        if (l->target != l->cur && layer == l->target && keyframe)
            leg_switch(l, layer);
        if (layer != l->cur)
            continue;
        if (v->payload_len == 0) {
            /* A padding-only probe meant for the publisher's link, not the subscriber's: closing the
             * gap keeps the subscriber from NACKing it (rewrite.h rule 7). */
            rewrite_drop(sl->rw, v);
            continue;
        }
        size_t n = len;
        rtp_view_t ov = *v;
        if (l->sub->tcc_on) {
            n = with_tcc_ext(out, 1500, buf, len, v, l->sub->tcc_id);
            if (!n || rtp_parse(out, n, &ov) < 0)
                continue;
        } else {
            memcpy(out, buf, len);
            ov.data = out;
        }
        rewrite_result_t res;
        if (rewrite_packet(sl->rw, out, n, &ov, now, &res) != REWRITE_FORWARD)
            continue;
        if (sl->nack) /* a packet too big for a slot is just not resendable */
            nackbuf_store(sl->nack, out, n, ov.payload_off + NACK_OWN_PAYLOAD, res.seq, now);
        /* (the recorder's tap sits here: it sees the publisher's packet, buf/len, once per track) */
        if (send_media(l->sub, out, n, &ov, now_us) == 0) {
            sfu_counters.forwarded_packets++;
            sfu_counters.forwarded_bytes += n;
            if (keyframe && !l->keyframe_sent) {
                l->keyframe_sent = 1;
                log_info("participant %s receives %s's %s: first keyframe %lld ms after the leg became active",
                         l->sub->pid, t->owner->pid, t->label, (long long)((g_get_monotonic_time() - l->active_us) / 1000));
            }
        }
    }
}

/* Simulcast layers are kept lowest first (layers.h reads them so). The SDP lists them in the sender's
 * order (a=simulcast, RFC 8853 §5.2): Chromium gives the encodings as the page listed them (the web client
 * lowest first), other clients highest first. Once every layer's width is known from its keyframes and
 * the list is not in order of width, the layers are put in that order; the legs and the recording follow
 * the layer they had. */
static void order_layers(track_t *t)
{
    int n = t->nlayers, sorted = 1;
    for (int k = 0; k < n; k++)
        if (!t->layers[k].width)
            return;
    for (int k = 1; k < n; k++)
        sorted = sorted && t->layers[k - 1].width <= t->layers[k].width;
    if (sorted || n < 2)
        return;
    int old_at[LAYERS_MAX], new_of[LAYERS_MAX]; /* old_at[new] = old index; new_of[old] = new index */
    for (int k = 0; k < n; k++) {
        int j = k;
        for (; j > 0 && t->layers[old_at[j - 1]].width > t->layers[k].width; j--)
            old_at[j] = old_at[j - 1];
        old_at[j] = k;
    }
    __typeof__(t->layers) was;
    memcpy(was, t->layers, sizeof was);
    for (int k = 0; k < n; k++) {
        t->layers[k] = was[old_at[k]];
        new_of[old_at[k]] = k;
    }
    for (guint i = 0; i < t->legs->len; i++) {
        leg_t *l = t->legs->pdata[i];
        l->cur = l->cur >= 0 ? new_of[l->cur] : l->cur;
        l->target = l->target >= 0 ? new_of[l->target] : l->target;
        l->ll.chosen = l->ll.chosen >= 0 ? new_of[l->ll.chosen] : l->ll.chosen;
    }
    if (t->rec_layer >= 0)
        t->rec_layer = new_of[t->rec_layer];
    log_info("participant %s: %s layers listed out of order of width: now %s, %s%s%s lowest first", t->owner->pid, t->label,
             t->layers[0].rid, t->layers[1].rid, n > 2 ? ", " : "", n > 2 ? t->layers[2].rid : "");
}

static void on_rtp(void *ctx, uint8_t *buf, size_t len)
{
    part_t *p = ctx;
    if (p->closing)
        return;
    sfu_counters.rtp_in++;
    sfu_counters.rtp_in_bytes += len;
    rtp_view_t v;
    if (rtp_parse(buf, len, &v) < 0) {
        sfu_counters.bad_packets++;
        sfu_counters.dropped[SFU_DROP_BAD_RTP]++;
        return;
    }
    int layer = 0;
    track_t *t = track_by_ssrc(p, v.ssrc, &layer);
    if (!t)
        t = bind_layer(p, &v, &layer);
    if (!t) {
        sfu_counters.bad_packets++;
        sfu_counters.dropped[SFU_DROP_UNKNOWN_SSRC]++;
        return;
    }
    if (layer < 0)
        return; /* retransmissions to us: we do not NACK publishers, so nothing waits for them */
    if (v.pt != t->pt)
        return; /* another codec of the section (e.g. FEC, CN): not forwarded */
    uint64_t now_us = (uint64_t)g_get_monotonic_time();
    rtpstats_rx_packet(&t->layers[layer].rx, v.seq, v.ts, now_us);
    t->layers[layer].win_bytes += len;
    t->layers[layer].last_us = now_us;
    int keyframe = 0;
    if (!strcmp(t->kind, "video")) {
        vp8_desc_t d;
        keyframe = !strcasecmp(t->codec, "VP8") && vp8_parse(buf + v.payload_off, v.payload_len, &d) == 0 && d.keyframe;
        if (keyframe) {
            keyreq_keyframe_seen(&t->layers[layer].keyreq, now_us / 1000);
            uint16_t w = 0, hgt = 0;
            if (vp8_keyframe_size(buf + v.payload_off, v.payload_len, &d, &w, &hgt) == 0 && w != t->layers[layer].width) {
                log_info("participant %s: %s layer %d is %ux%u", p->pid, t->label, layer, w, hgt);
                t->layers[layer].width = w;
                t->layers[layer].height = hgt;
                if (t->simulcast) {
                    order_layers(t);
                    track_by_ssrc(p, v.ssrc, &layer); /* this packet's layer may have moved */
                }
            }
        } else if (keyreq_poll(&t->layers[layer].keyreq, now_us / 1000)) {
            send_pli(t, layer);
        }
    }
    const uint8_t *lvl;
    size_t lvl_len;
    if (t->audio_level_id && rtp_find_ext(&v, (uint8_t)t->audio_level_id, &lvl, &lvl_len) == 0 && lvl_len >= 1)
        speaker_level(p->room->speakers, p->speaker_id, lvl[0], now_us / 1000);
    if (p->room->rec && layer == record_layer(t))
        record_packet(t, &v, keyframe); /* with simulcast: one layer (record_layer), the best arriving */
    forward(t, layer, buf, len, &v, keyframe);
}

/* A section the SFU sends on, by the SSRC the subscriber sees (what its feedback names). */
static slot_t *slot_by_out_ssrc(part_t *sub, uint32_t ssrc)
{
    for (size_t i = 0; i < sub->nslots; i++) {
        slot_t *sl = sub->slots[i];
        if (sl->role == SLOT_SEND && sl->leg && sl->out_ssrc == ssrc)
            return sl;
    }
    return NULL;
}

typedef struct {
    part_t *sub;
    slot_t *slot;
} resend_ctx_t;

/* Whether len more bytes may be resent to sub now. The layers chosen for it already fill its estimate,
 * so what is resent comes on top: on a link that drops what exceeds its rate (a policer, a full queue)
 * every loss is NACKed, and answering them all adds the very load that caused the loss, until nothing
 * but retransmissions arrives. A subscriber without an estimate (no transport-cc, or no feedback yet) is
 * not limited. */
static bool rtx_allowed(part_t *sub, size_t len, uint64_t now_us)
{
    if (!sub->tcc_on || !sub->bwe || !bwe_has_feedback(sub->bwe))
        return true; /* no estimate yet */
    double bytes_per_s = bwe_estimate(sub->bwe) / 8.0, cap = bytes_per_s * RTX_BURST_MS / 1000;
    if (!sub->rtx_refill_us)
        sub->rtx_tokens = cap;
    else
        sub->rtx_tokens += (double)(now_us - sub->rtx_refill_us) / 1e6 * bytes_per_s * RTX_SHARE;
    sub->rtx_refill_us = now_us;
    if (sub->rtx_tokens > cap)
        sub->rtx_tokens = cap;
    if (sub->rtx_tokens < (double)len)
        return false;
    sub->rtx_tokens -= (double)len;
    return true;
}

/* nackbuf_send_fn: resends one stored packet, as RTX (RFC 4588 §4: own SSRC and sequence, the original
 * sequence number first in the payload) when the subscriber negotiated it, else as it was sent; refuses
 * when the subscriber's retransmission budget is spent (rtx_allowed). */
static bool resend(void *ctx, const uint8_t *pkt, size_t len)
{
    resend_ctx_t *c = ctx;
    uint8_t out[NACK_SLOT_SIZE + 2 + SFU_SRTP_TRAILER];
    rtp_view_t v;
    uint64_t now_us = (uint64_t)g_get_monotonic_time();
    if (rtp_parse(pkt, len, &v) < 0)
        return true; /* not resendable; the others may be */
    if (!rtx_allowed(c->sub, len + 2, now_us)) {
        sfu_counters.retransmissions_refused++;
        return false;
    }
    size_t n = len;
    if (c->slot->leg->rtx_pt >= 0 && c->slot->rtx_ssrc) {
        memcpy(out, pkt, v.payload_off);
        out[0] &= (uint8_t)~0x20; /* the padding stays behind */
        rtp_set_pt(out, (uint8_t)c->slot->leg->rtx_pt);
        rtp_set_ssrc(out, c->slot->rtx_ssrc);
        rtp_set_seq(out, c->slot->rtx_seq++);
        out[v.payload_off] = (uint8_t)(v.seq >> 8);
        out[v.payload_off + 1] = (uint8_t)v.seq;
        memcpy(out + v.payload_off + 2, pkt + v.payload_off, v.payload_len);
        n = v.payload_off + 2 + v.payload_len;
    } else {
        memcpy(out, pkt, len);
    }
    if (send_media(c->sub, out, n, NULL, now_us) == 0)
        sfu_counters.retransmissions++;
    return true;
}

/* RFC 4585 §6.2.1 generic NACK from a subscriber: answered from the section's retransmission buffer. */
static void on_nack(part_t *p, const rtcp_fb_t *fb)
{
    sfu_counters.nacks_received++;
    slot_t *sl = slot_by_out_ssrc(p, fb->media_ssrc);
    uint16_t seqs[256];
    int n = rtcp_nack_seqs(fb, seqs, sizeof seqs / sizeof seqs[0]);
    if (n < 0) {
        sfu_counters.bad_rtcp++;
        return;
    }
    if (n > (int)(sizeof seqs / sizeof seqs[0]))
        n = (int)(sizeof seqs / sizeof seqs[0]);
    if (!sl || !sl->nack) {
        sfu_counters.nack_misses += (uint64_t)n;
        return;
    }
    resend_ctx_t c = {p, sl};
    size_t missed = 0;
    nackbuf_answer(sl->nack, seqs, (size_t)n, now_ms(), resend, &c, &missed);
    sfu_counters.nack_misses += missed;
}

/* Transport-wide feedback from a subscriber: its estimate learns from it (bwe.h). */
static void on_twcc(part_t *p, const rtcp_fb_t *fb)
{
    rtcp_twcc_t tw;
    static twcc_pkt_t pkts[TWCC_MAX_STATUSES]; /* one thread; too big for the stack of a callback */
    int n;
    if (!p->bwe || rtcp_parse_twcc(fb, &tw) < 0 || (n = twcc_decode(&tw, pkts, TWCC_MAX_STATUSES)) < 0) {
        sfu_counters.bad_rtcp++;
        return;
    }
    sfu_counters.twcc_feedbacks++;
    bwe_feedback(p->bwe, pkts, (size_t)n, (uint64_t)g_get_monotonic_time());
}

static void keyframe_for_out_ssrc(part_t *p, uint32_t ssrc)
{
    slot_t *sl = slot_by_out_ssrc(p, ssrc);
    if (sl)
        keyframe_wanted(sl->leg->track, sl->leg->cur >= 0 ? sl->leg->cur : sl->leg->target, KEYREQ_SUBSCRIBER_LOSS);
}

/* A participant's compound RTCP. As a subscriber: NACKs are answered, PLI/FIR become (throttled) keyframe
 * requests to the publisher, its receiver reports are absorbed (the SFU reports to publishers itself).
 * As a publisher: its sender reports are kept for the SFU's RR and for the SRs to its subscribers. */
static void on_rtcp(void *ctx, uint8_t *buf, size_t len)
{
    part_t *p = ctx;
    if (p->closing)
        return;
    rtcp_iter_t it;
    rtcp_pkt_t pkt;
    int rc;
    rtcp_iter_init(&it, buf, len);
    while ((rc = rtcp_next(&it, &pkt)) == 1) {
        rtcp_fb_t fb;
        if (pkt.type == RTCP_SR) {
            rtcp_sr_t sr;
            if (rtcp_parse_sr(&pkt, &sr) < 0) {
                sfu_counters.bad_rtcp++;
                continue;
            }
            int layer;
            track_t *t = track_by_ssrc(p, sr.ssrc, &layer);
            if (t && layer >= 0)
                rtpstats_rx_sr(&t->layers[layer].rx, sr.ntp, sr.rtp_ts, (uint64_t)g_get_monotonic_time());
        } else if ((pkt.type == RTCP_RTPFB || pkt.type == RTCP_PSFB) && rtcp_parse_fb(&pkt, &fb) == 0) {
            if (pkt.type == RTCP_RTPFB && fb.fmt == RTCP_RTPFB_NACK) {
                on_nack(p, &fb);
            } else if (pkt.type == RTCP_PSFB && rtcp_fb_is_pli(&fb)) {
                sfu_counters.plis_received++;
                keyframe_for_out_ssrc(p, fb.media_ssrc);
            } else if (pkt.type == RTCP_PSFB && fb.fmt == RTCP_PSFB_FIR) {
                sfu_counters.firs_received++;
                int n = rtcp_fir_count(&fb);
                for (int i = 0; i < n; i++) {
                    rtcp_fir_entry_t e;
                    if (rtcp_fir_entry(&fb, (size_t)i, &e) == 0)
                        keyframe_for_out_ssrc(p, e.ssrc);
                }
            }
            else if (pkt.type == RTCP_RTPFB && fb.fmt == RTCP_RTPFB_TWCC)
                on_twcc(p, &fb);
            /* REMB: not used (the SFU's offers negotiate transport-cc, which Chromium prefers). */
        } else if (pkt.type == RTCP_RTPFB || pkt.type == RTCP_PSFB) {
            sfu_counters.bad_rtcp++;
        }
    }
    if (rc < 0)
        sfu_counters.bad_rtcp++;
}

/* Gives a sending section its outgoing stream for track t: the first time an SSRC (and an RTX SSRC for
 * video), a rewriter and a retransmission buffer; when the section is reused, the same SSRC, with the
 * rewriter told that a new source starts (its numbering continues where the last one stopped). */
static void slot_open_stream(slot_t *sl, track_t *t)
{
    int video = !strcmp(t->kind, "video");
    int vp8 = !strcasecmp(t->codec, "VP8");
    if (!sl->out_ssrc) {
        sl->out_ssrc = random_ssrc();
        sl->rtx_ssrc = video ? random_ssrc() : 0;
        sl->rtx_seq = (uint16_t)g_random_int();
    }
    if (sl->rw && sl->rw_vp8 != vp8) {
        rewrite_free(sl->rw); /* the VP8 descriptor rewriting is fixed per rewriter */
        sl->rw = NULL;
    }
    if (!sl->rw) {
        rewrite_config_t rc = {.out_ssrc = sl->out_ssrc, .clock_rate = video ? 90000 : 48000, .out_pt = t->out_pt, .vp8 = vp8};
        sl->rw = rewrite_new(&rc);
        sl->rw_vp8 = vp8;
    } else {
        rewrite_set_out_pt(sl->rw, t->out_pt);
        rewrite_reset_source(sl->rw);
    }
    if (video && !sl->nack)
        sl->nack = nackbuf_new(NACK_SLOTS, NACK_SLOT_SIZE, NACKBUF_DEFAULT_MAX_AGE_MS);
    /* Its bound covers every layer of a simulcast track at the room bitrates, should they all be
     * forwarded at once; what it holds follows what is forwarded. */
    if (video && !t->bodies)
        t->bodies = nackbuf_bodies_new((size_t)NACK_SLOTS * NACK_SLOT_SIZE * LAYERS_MAX, NACKBUF_DEFAULT_MAX_AGE_MS);
    if (sl->nack)
        nackbuf_share(sl->nack, t->bodies); /* a section reused for another track forgets the old one's */
}

static void slot_free(slot_t *sl)
{
    rewrite_free(sl->rw);
    nackbuf_free(sl->nack);
    g_free(sl);
}

/* ---- participants: lifetime --------------------------------------------------------------------- */

static void leg_free(leg_t *l)
{
    g_ptr_array_remove(l->track->legs, l);
    if (l->slot) {
        l->slot->leg = NULL;
        l->slot->track = NULL;
        l->slot->role = SLOT_OFF;
    }
    g_free(l);
}

static void track_free(track_t *t)
{
    while (t->legs->len)
        leg_free(t->legs->pdata[t->legs->len - 1]);
    g_ptr_array_free(t->legs, TRUE);
    nackbuf_bodies_unref(t->bodies); /* the legs' buffers may keep it a while longer */
    g_free(t);
}

static void renegotiate(part_t *p);

/* Takes the participant out of its room now (so no packet or command finds it) and frees it on an idle. */
static gboolean part_free_idle(gpointer data);

static void part_unlink(part_t *p)
{
    if (p->closing)
        return;
    p->closing = 1;
    room_t *r = p->room;
    /* Its published tracks leave every subscriber: their slots go inactive, and they renegotiate. */
    for (guint i = 0; i < p->tracks->len; i++) {
        track_t *t = p->tracks->pdata[i];
        for (guint j = 0; j < t->legs->len; j++) {
            leg_t *l = t->legs->pdata[j];
            l->sub->need_offer = 1;
        }
    }
    while (p->tracks->len) {
        track_t *t = p->tracks->pdata[p->tracks->len - 1];
        g_ptr_array_remove_index(p->tracks, p->tracks->len - 1);
        track_free(t);
    }
    /* Its legs (what it received) end. */
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i]->leg)
            leg_free(p->slots[i]->leg);
    g_ptr_array_remove(r->parts, p);
    speaker_remove(r->speakers, p->speaker_id);
    if (r->speaker == p)
        r->speaker = NULL;
    if (p->ice_timer) {
        g_source_remove(p->ice_timer);
        p->ice_timer = 0;
    }
    for (guint i = 0; i < r->parts->len; i++) {
        part_t *o = r->parts->pdata[i];
        if (o->need_offer)
            renegotiate(o);
    }
    if (r->parts->len == 0) {
        g_hash_table_remove(p->sfu->rooms, r->id);
        p->room = NULL;
    }
    g_ptr_array_add(p->sfu->dying, p);
    p->idle_free = g_idle_add(part_free_idle, p);
}

static void part_destroy(part_t *p)
{
    peer_free(p->peer);
    bwe_free(p->bwe);
    for (size_t i = 0; i < p->nslots; i++)
        slot_free(p->slots[i]);
    g_ptr_array_free(p->tracks, TRUE);
    g_free(p->pid);
    g_free(p->user);
    g_free(p->node);
    g_free(p);
}

static gboolean part_free_idle(gpointer data)
{
    part_t *p = data;
    g_ptr_array_remove(p->sfu->dying, p);
    part_destroy(p);
    return G_SOURCE_REMOVE;
}

static void room_free(gpointer data)
{
    room_t *r = data;
    if (r->rec)
        record_end(r, "empty");
    speaker_free(r->speakers);
    g_ptr_array_free(r->parts, TRUE);
    g_free(r->id);
    g_free(r);
}

/* The SFU drops the participant: tell its node (gone) with the reason. */
static void part_drop(part_t *p, const char *reason)
{
    if (p->closing)
        return;
    sfu_t *s = p->sfu;
    log_info("participant %s (room %s) dropped: %s", p->pid, p->room->id, reason);
    sfu_counters.gone++;
    s->ev.gone(s->ev.ctx, p->node, p->room->id, p->pid, reason);
    part_unlink(p);
}

/* ---- transport callbacks ------------------------------------------------------------------------ */

static void on_up(void *ctx)
{
    part_t *p = ctx;
    char pair[128];
    ice_describe_pair(peer_ice(p->peer), pair, sizeof pair);
    log_info("participant %s (room %s) connected via %s", p->pid, p->room->id, pair);
    p->up = 1;
    if (p->ice_timer) {
        g_source_remove(p->ice_timer);
        p->ice_timer = 0;
    }
    /* What it subscribes to starts with a keyframe. */
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i]->leg && p->slots[i]->leg->active)
            keyframe_wanted(p->slots[i]->leg->track, p->slots[i]->leg->target, KEYREQ_NEW_SUBSCRIBER);
}

static void on_down(void *ctx, peer_down_t why, const char *detail)
{
    part_t *p = ctx;
    const char *reason = why == PEER_DOWN_ICE ? "ice_failed" : why == PEER_DOWN_FINGERPRINT ? "fingerprint" : "dtls_failed";
    log_warn("participant %s: %s", p->pid, detail);
    part_drop(p, reason);
}

static void on_candidate(void *ctx, const char *line)
{
    part_t *p = ctx;
    if (p->closing || !p->nslots)
        return;
    sfu_t *s = p->sfu;
    s->ev.candidate(s->ev.ctx, p->node, p->room->id, p->pid, p->slots[0]->mid, line);
}

static gboolean on_ice_timeout(gpointer data)
{
    part_t *p = data;
    p->ice_timer = 0;
    sfu_counters.ice_failures++;
    part_drop(p, "ice_timeout");
    return G_SOURCE_REMOVE;
}

/* ---- SDP: answers and offers -------------------------------------------------------------------- */

static void local_transport(part_t *p, sdp_t *out)
{
    ice_t *ice = peer_ice(p->peer);
    out->session_id = p->sfu->session_id;
    out->session_version = ++p->sdp_version;
    g_strlcpy(out->ice_ufrag, ice_ufrag(ice), sizeof out->ice_ufrag);
    g_strlcpy(out->ice_pwd, ice_pwd(ice), sizeof out->ice_pwd);
    g_strlcpy(out->fingerprint_alg, "sha-256", sizeof out->fingerprint_alg);
    g_strlcpy(out->fingerprint, dtls_ctx_fingerprint(p->sfu->p.dtls), sizeof out->fingerprint);
    /* The SFU is always the DTLS server: the browser's first offer says actpass and we answer passive;
     * our own offers keep that role (JSEP §5.2.2: no DTLS renegotiation). */
    g_strlcpy(out->setup, "passive", sizeof out->setup);
}

static void add_candidates(part_t *p, sdp_media_t *m)
{
    char *lines[SDP_MAX_CANDIDATES];
    size_t n = ice_local_candidates(peer_ice(p->peer), lines, SDP_MAX_CANDIDATES);
    for (size_t i = 0; i < n; i++) {
        g_strlcpy(m->candidates[m->ncandidates++], lines[i], sizeof m->candidates[0]);
        g_free(lines[i]);
    }
}

static void codec_for_subscriber(const track_t *t, sdp_media_t *m, int tcc_id)
{
    sdp_codec_t c = {.pt = t->out_pt, .apt = -1};
    g_strlcpy(c.name, t->codec, sizeof c.name);
    g_strlcpy(c.fmtp, t->fmtp, sizeof c.fmtp);
    if (!strcmp(t->kind, "audio")) {
        c.clock = 48000;
        c.channels = 2;
    } else {
        c.clock = 90000;
        c.fb = SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR;
    }
    if (tcc_id) {
        /* transport-wide feedback about everything the SFU sends it (its estimate, bwe.h) */
        c.fb |= SDP_FB_TCC;
        if (m->nextmaps < SDP_MAX_EXTMAPS) {
            m->extmaps[m->nextmaps].id = tcc_id;
            g_strlcpy(m->extmaps[m->nextmaps++].uri, EXT_TCC, sizeof m->extmaps[0].uri);
        }
    }
    sdp_add_codec(m, &c);
    if (!strcmp(t->kind, "video")) {
        /* RFC 4588 retransmissions on their own payload type (the one after the codec's). */
        sdp_codec_t r = {.pt = t->out_pt + 1, .apt = t->out_pt, .clock = 90000};
        g_strlcpy(r.name, "rtx", sizeof r.name);
        snprintf(r.fmtp, sizeof r.fmtp, "apt=%d", t->out_pt);
        sdp_add_codec(m, &r);
    }
}

/* A section for a slot the SFU sends on (or an idle one). */
static void send_section(part_t *p, const slot_t *sl, sdp_media_t *m)
{
    g_strlcpy(m->kind, sl->kind, sizeof m->kind);
    g_strlcpy(m->proto, "UDP/TLS/RTP/SAVPF", sizeof m->proto);
    g_strlcpy(m->mid, sl->mid, sizeof m->mid);
    m->rtcp_mux = m->rtcp_rsize = 1;
    leg_t *l = sl->leg;
    if (l) {
        codec_for_subscriber(l->track, m, p->tcc_id);
        m->dir = SDP_SENDONLY;
        g_strlcpy(m->msid, l->msid, sizeof m->msid);
        sdp_ssrc_t *x = &m->ssrcs[m->nssrcs++];
        x->ssrc = sl->out_ssrc;
        g_strlcpy(x->cname, l->track->owner->pid, sizeof x->cname);
        g_strlcpy(x->msid, l->msid, sizeof x->msid);
        if (sl->rtx_ssrc) {
            sdp_ssrc_t *r = &m->ssrcs[m->nssrcs++];
            *r = *x;
            r->ssrc = sl->rtx_ssrc;
            m->fid_primary = sl->out_ssrc;
            m->fid_rtx = sl->rtx_ssrc;
        }
    } else {
        /* An idle slot keeps a codec so that the section stays valid; it carries nothing. */
        track_t dummy = {.out_pt = !strcmp(sl->kind, "audio") ? PT_OPUS : PT_VP8};
        g_strlcpy(dummy.kind, sl->kind, sizeof dummy.kind);
        g_strlcpy(dummy.codec, !strcmp(sl->kind, "audio") ? "opus" : "VP8", sizeof dummy.codec);
        if (!strcmp(sl->kind, "audio"))
            g_strlcpy(dummy.fmtp, "minptime=10;useinbandfec=1", sizeof dummy.fmtp);
        codec_for_subscriber(&dummy, m, p->tcc_id);
        m->dir = SDP_INACTIVE;
    }
}

/* Chooses what the SFU receives on a section the participant publishes on. Returns the codec, or NULL
 * when nothing offered is usable. */
static const sdp_codec_t *choose_codec(const sdp_media_t *om)
{
    if (!strcmp(om->kind, "audio"))
        return sdp_find_codec(om, "opus", NULL);
    if (!strcmp(om->kind, "video")) {
        const sdp_codec_t *c = sdp_find_codec(om, "VP8", NULL);
        if (!c)
            c = sdp_find_codec(om, "H264", "packetization-mode=1");
        return c;
    }
    return NULL;
}

/* Builds the answer section for offered section om. May create or end the participant's tracks. */
static int answer_section(part_t *p, const sdp_t *offer, size_t idx, const sfu_label_t *labels, size_t nlabels,
                          sdp_media_t *m, int *tracks_changed)
{
    const sdp_media_t *om = &offer->media[idx];
    slot_t *sl = find_slot(p, om->mid);
    if (!sl) {
        if (p->nslots == MAX_SLOTS)
            return -1;
        sl = g_new0(slot_t, 1);
        g_strlcpy(sl->mid, om->mid, sizeof sl->mid);
        g_strlcpy(sl->kind, om->kind, sizeof sl->kind);
        sl->role = SLOT_RECV;
        p->slots[p->nslots++] = sl;
    }
    if (sl->role == SLOT_SEND || sl->role == SLOT_OFF) {
        /* One of ours, offered back by the browser (recvonly or inactive from its side). */
        send_section(p, sl, m);
        return 0;
    }
    g_strlcpy(m->kind, om->kind, sizeof m->kind);
    g_strlcpy(m->proto, om->proto, sizeof m->proto);
    g_strlcpy(m->mid, om->mid, sizeof m->mid);
    m->rtcp_mux = 1;
    m->rtcp_rsize = om->rtcp_rsize;
    const sdp_codec_t *c = choose_codec(om);
    int sends = om->port && (om->dir == SDP_SENDRECV || om->dir == SDP_SENDONLY);
    if (!c) {
        /* Data channels, unknown kinds, no usable codec: rejected (port 0), the rest goes on. */
        m->port = 0;
        m->dir = SDP_INACTIVE;
        sl->rejected = 1;
        for (size_t i = 0; i < om->ncodecs && m->ncodecs < 1; i++)
            sdp_add_codec(m, &om->codecs[i]);
        if (!strstr(om->proto, "RTP"))
            g_strlcpy(m->proto, om->proto, sizeof m->proto);
        return 0;
    }
    sdp_codec_t ac = *c;
    ac.fb &= SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR;
    sdp_add_codec(m, &ac);
    const sdp_codec_t *rtx = sdp_find_rtx(om, c->pt);
    if (rtx) {
        sdp_codec_t r = *rtx;
        r.fb = 0;
        sdp_add_codec(m, &r);
    }
    int lvl = sdp_find_extmap(om, EXT_AUDIO_LEVEL), mid = sdp_find_extmap(om, EXT_MID);
    const char *label = !strcmp(om->kind, "audio") ? "mic" : "camera";
    for (size_t i = 0; i < nlabels; i++)
        if (!strcmp(labels[i].mid, om->mid))
            label = labels[i].label;
    int rid_id = sdp_find_extmap(om, EXT_RID);
    /* A camera's VP8 may come as simulcast layers (by rid, with the rtp-stream-id extension); a screen
     * share stays one stream (answered without simulcast: the browser sends its first encoding only). */
    int simulcast = !strcmp(om->kind, "video") && !strcasecmp(c->name, "VP8") && strcmp(label, "screen") != 0 && rid_id &&
                    sdp_accept_simulcast(om, m, LAYERS_MAX);
    if (lvl) {
        m->extmaps[m->nextmaps].id = lvl;
        g_strlcpy(m->extmaps[m->nextmaps++].uri, EXT_AUDIO_LEVEL, sizeof m->extmaps[0].uri);
    }
    if (mid) {
        m->extmaps[m->nextmaps].id = mid;
        g_strlcpy(m->extmaps[m->nextmaps++].uri, EXT_MID, sizeof m->extmaps[0].uri);
    }
    if (simulcast && m->ncodecs && strlen(m->codecs[0].fmtp) + 32 < sizeof m->codecs[0].fmtp) {
        /* The SFU gives publishers no congestion feedback of their own: the browser's estimate starts at
         * 300 kbit/s and climbs on loss reports alone, which leaves the top layer off for ~15 s. A start
         * estimate that carries all three layers (the loss reports still bring it down) avoids that. */
        sdp_codec_t *vc = &m->codecs[0];
        g_strlcat(vc->fmtp, *vc->fmtp ? ";" : "", sizeof vc->fmtp);
        g_strlcat(vc->fmtp, "x-google-start-bitrate=" SIMULCAST_START_KBPS, sizeof vc->fmtp);
    }
    if (simulcast) {
        m->extmaps[m->nextmaps].id = rid_id;
        g_strlcpy(m->extmaps[m->nextmaps++].uri, EXT_RID, sizeof m->extmaps[0].uri);
        int rrid = sdp_find_extmap(om, EXT_RRID);
        if (rrid) {
            m->extmaps[m->nextmaps].id = rrid;
            g_strlcpy(m->extmaps[m->nextmaps++].uri, EXT_RRID, sizeof m->extmaps[0].uri);
        }
    }
    m->dir = sends ? SDP_RECVONLY : SDP_INACTIVE;
    if (!om->port) {
        /* A stopped transceiver (RFC 8829 §5.3.1): rejected in the answer (out of the BUNDLE group), and
         * in the SFU's later offers too. */
        m->port = 0;
        sl->rejected = 1;
    }
    uint32_t ssrc = om->fid_primary ? om->fid_primary : om->nssrcs ? om->ssrcs[0].ssrc : 0;
    if (sends && (ssrc || simulcast) && !sl->track) {
        track_t *t = g_new0(track_t, 1);
        t->rec_layer = -1;
        t->owner = p;
        t->legs = g_ptr_array_new();
        g_strlcpy(t->mid, om->mid, sizeof t->mid);
        g_strlcpy(t->kind, om->kind, sizeof t->kind);
        g_strlcpy(t->label, label, sizeof t->label);
        g_strlcpy(t->codec, c->name, sizeof t->codec);
        g_strlcpy(t->fmtp, c->fmtp, sizeof t->fmtp);
        t->pt = c->pt;
        t->out_pt = !strcasecmp(c->name, "opus") ? PT_OPUS : !strcasecmp(c->name, "VP8") ? PT_VP8 : PT_H264;
        t->ssrc = simulcast ? 0 : ssrc;
        t->rtx_ssrc = !simulcast && om->fid_primary ? om->fid_rtx : 0;
        t->audio_level_id = lvl;
        t->simulcast = simulcast;
        t->rid_id = rid_id;
        t->rrid_id = simulcast ? sdp_find_extmap(om, EXT_RRID) : 0;
        t->mid_id = mid;
        t->nlayers = simulcast ? (int)m->nrids : 1;
        for (int k = 0; k < t->nlayers; k++) {
            if (simulcast)
                g_strlcpy(t->layers[k].rid, m->rids[k].id, sizeof t->layers[k].rid);
            else
                t->layers[k].ssrc = ssrc;
            keyreq_init(&t->layers[k].keyreq, KEYFRAME_INTERVAL_MS, KEYFRAME_FAST_MS);
            rtpstats_rx_init(&t->layers[k].rx, !strcmp(t->kind, "audio") ? 48000 : 90000);
        }
        sl->track = t;
        g_ptr_array_add(p->tracks, t);
        *tracks_changed = 1;
        log_info("participant %s publishes %s (%s %s, ssrc %u, %d layer%s)", p->pid, t->label, t->kind, t->codec, t->ssrc,
                 t->nlayers, t->nlayers > 1 ? "s" : "");
    } else if (!sends && sl->track) {
        track_t *t = sl->track;
        for (guint j = 0; j < t->legs->len; j++)
            ((leg_t *)t->legs->pdata[j])->sub->need_offer = 1;
        g_ptr_array_remove(p->tracks, t);
        track_free(t);
        sl->track = NULL;
        *tracks_changed = 1;
    }
    return 0;
}

/* The participant's SDP offer: the SFU's answer, and the tracks it publishes. */
static char *build_answer(part_t *p, const sdp_t *offer, const sfu_label_t *labels, size_t nlabels, int *tracks_changed)
{
    sdp_t *ans = sdp_new();
    if (!ans)
        return NULL;
    local_transport(p, ans);
    for (size_t i = 0; i < offer->nmedia; i++) {
        sdp_media_t *m = sdp_add_media(ans);
        if (!m || answer_section(p, offer, i, labels, nlabels, m, tracks_changed) < 0) {
            sdp_free(ans);
            return NULL;
        }
        if (i == 0)
            add_candidates(p, m);
        if (i == 0)
            m->end_of_candidates = 1;
    }
    char *text = sdp_write(ans);
    sdp_free(ans);
    return text;
}

/* Makes the participant's slots match what it should receive: one SEND slot per track of every other
 * participant in the room. Returns 1 if anything changed. */
static int sync_subscriptions(part_t *p)
{
    int changed = 0;
    room_t *r = p->room;
    for (guint i = 0; i < r->parts->len; i++) {
        part_t *o = r->parts->pdata[i];
        if (o == p || o->closing)
            continue;
        for (guint j = 0; j < o->tracks->len; j++) {
            track_t *t = o->tracks->pdata[j];
            int has = 0;
            for (guint k = 0; k < t->legs->len && !has; k++)
                has = ((leg_t *)t->legs->pdata[k])->sub == p;
            if (has)
                continue;
            /* Reuse an idle section of the same kind, else add one. */
            slot_t *sl = NULL;
            for (size_t k = 0; k < p->nslots && !sl; k++)
                if (p->slots[k]->role == SLOT_OFF && !strcmp(p->slots[k]->kind, t->kind))
                    sl = p->slots[k];
            if (!sl) {
                if (p->nslots == MAX_SLOTS)
                    continue;
                sl = g_new0(slot_t, 1);
                snprintf(sl->mid, sizeof sl->mid, "s%u", p->next_mid++);
                g_strlcpy(sl->kind, t->kind, sizeof sl->kind);
                p->slots[p->nslots++] = sl;
            }
            leg_t *l = g_new0(leg_t, 1);
            l->track = t;
            l->sub = p;
            l->slot = sl;
            l->rtx_pt = -1;
            /* simulcast: nothing until the chosen layer's keyframe (the top one until the first choice) */
            l->cur = t->simulcast ? -1 : 0;
            l->target = t->simulcast ? t->nlayers - 1 : 0;
            l->ll.chosen = -1;
            l->ll.visible = 1;
            slot_open_stream(sl, t);
            snprintf(l->msid, sizeof l->msid, "%s-%s %s-%s", o->pid, !strcmp(t->label, "screen") ? "screen" : "av", o->pid, t->mid);
            sl->role = SLOT_SEND;
            sl->track = t;
            sl->leg = l;
            g_ptr_array_add(t->legs, l);
            changed = 1;
        }
    }
    return changed;
}

/* In the SFU's own offers, a simulcast section it receives keeps its layers (RFC 8853 §5.3: the offerer
 * says recv): without them the browser would fall back to one encoding. */
static void offer_simulcast_recv(const track_t *t, sdp_media_t *m)
{
    const struct {
        int id;
        const char *uri;
    } ext[] = {{t->mid_id, EXT_MID}, {t->rid_id, EXT_RID}, {t->rrid_id, EXT_RRID}};
    for (size_t i = 0; i < 3; i++)
        if (ext[i].id && m->nextmaps < SDP_MAX_EXTMAPS) {
            m->extmaps[m->nextmaps].id = ext[i].id;
            g_strlcpy(m->extmaps[m->nextmaps++].uri, ext[i].uri, sizeof m->extmaps[0].uri);
        }
    g_strlcpy(m->simulcast, "recv ", sizeof m->simulcast);
    for (int k = 0; k < t->nlayers && k < SDP_MAX_RIDS; k++) {
        g_strlcpy(m->rids[k].id, t->layers[k].rid, sizeof m->rids[k].id);
        m->rids[k].send = 0;
        if (k)
            g_strlcat(m->simulcast, ";", sizeof m->simulcast);
        g_strlcat(m->simulcast, t->layers[k].rid, sizeof m->simulcast);
    }
    m->nrids = (size_t)t->nlayers;
}

static void send_offer(part_t *p)
{
    sfu_t *s = p->sfu;
    sdp_t *o = sdp_new();
    if (!o)
        return;
    local_transport(p, o);
    sfu_track_info_t info[MAX_SLOTS];
    size_t ninfo = 0;
    for (size_t i = 0; i < p->nslots; i++) {
        slot_t *sl = p->slots[i];
        sdp_media_t *m = sdp_add_media(o);
        if (!m)
            break;
        if (sl->role == SLOT_SEND || sl->role == SLOT_OFF) {
            send_section(p, sl, m);
            if (sl->leg)
                info[ninfo++] = (sfu_track_info_t){sl->mid, sl->leg->track->owner->pid, sl->leg->track->owner->user,
                                                   sl->leg->track->label};
        } else {
            /* The participant's own sections, as answered before (recvonly while it publishes). */
            g_strlcpy(m->kind, sl->kind, sizeof m->kind);
            g_strlcpy(m->mid, sl->mid, sizeof m->mid);
            m->rtcp_mux = m->rtcp_rsize = 1;
            if (sl->rejected) {
                m->port = 0;
                m->dir = SDP_INACTIVE;
                g_strlcpy(m->proto, !strcmp(sl->kind, "application") ? "UDP/DTLS/SCTP" : "UDP/TLS/RTP/SAVPF", sizeof m->proto);
                if (!strcmp(sl->kind, "application"))
                    continue;
                track_t d = {.out_pt = !strcmp(sl->kind, "audio") ? PT_OPUS : PT_VP8};
                g_strlcpy(d.kind, sl->kind, sizeof d.kind);
                g_strlcpy(d.codec, !strcmp(sl->kind, "audio") ? "opus" : "VP8", sizeof d.codec);
                codec_for_subscriber(&d, m, 0);
                continue;
            }
            g_strlcpy(m->proto, "UDP/TLS/RTP/SAVPF", sizeof m->proto);
            if (sl->track) {
                track_t *t = sl->track;
                sdp_codec_t c = {.pt = t->pt, .apt = -1, .fb = !strcmp(t->kind, "video") ? (SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR) : 0};
                g_strlcpy(c.name, t->codec, sizeof c.name);
                g_strlcpy(c.fmtp, t->fmtp, sizeof c.fmtp);
                c.clock = !strcmp(t->kind, "audio") ? 48000 : 90000;
                c.channels = !strcmp(t->kind, "audio") ? 2 : 0;
                sdp_add_codec(m, &c);
                if (t->audio_level_id) {
                    m->extmaps[0].id = t->audio_level_id;
                    g_strlcpy(m->extmaps[0].uri, EXT_AUDIO_LEVEL, sizeof m->extmaps[0].uri);
                    m->nextmaps = 1;
                }
                if (t->simulcast)
                    offer_simulcast_recv(t, m);
                m->dir = SDP_RECVONLY;
            } else {
                track_t d = {.out_pt = !strcmp(sl->kind, "audio") ? PT_OPUS : PT_VP8};
                g_strlcpy(d.kind, sl->kind, sizeof d.kind);
                g_strlcpy(d.codec, !strcmp(sl->kind, "audio") ? "opus" : "VP8", sizeof d.codec);
                codec_for_subscriber(&d, m, 0);
                m->dir = SDP_RECVONLY;
            }
        }
        if (i == 0)
            add_candidates(p, m);
    }
    char *text = sdp_write(o);
    sdp_free(o);
    if (!text)
        return;
    p->offer_pending = 1;
    p->need_offer = 0;
    sfu_counters.renegotiations++;
    log_info("participant %s (room %s): offer %llu sent (%zu sections, %zu received tracks)", p->pid, p->room->id,
             (unsigned long long)p->sdp_version, p->nslots, ninfo);
    s->ev.offer(s->ev.ctx, p->node, p->room->id, p->pid, text, info, ninfo);
    free(text);
}

/* Sends an offer when the slots must change, unless one is outstanding (then after its answer). */
static void renegotiate(part_t *p)
{
    if (p->closing)
        return;
    /* While an offer is out, the sections must stay as offered (the answer is checked against them):
     * changes wait for the answer, which calls this again. */
    if (p->offer_pending) {
        p->need_offer = 1;
        return;
    }
    if (sync_subscriptions(p))
        p->need_offer = 1;
    if (p->need_offer)
        send_offer(p);
}

static void renegotiate_others(part_t *p)
{
    for (guint i = 0; i < p->room->parts->len; i++) {
        part_t *o = p->room->parts->pdata[i];
        if (o != p)
            renegotiate(o);
    }
}

/* ---- commands ----------------------------------------------------------------------------------- */

static sdp_t *parse_remote(sfu_t *s, const char *node, const char *tx, const char *room, const char *pid, const char *text,
                           size_t len)
{
    char err[300];
    sdp_t *sdp = sdp_parse(text, len, err, sizeof err);
    if (sdp && sdp_check_webrtc(sdp, err, sizeof err) < 0) {
        sdp_free(sdp);
        sdp = NULL;
    }
    if (!sdp) {
        sfu_counters.bad_sdp++;
        log_info("participant %s (room %s): bad SDP: %s", pid, room, err);
        s->ev.error(s->ev.ctx, node, tx, room, pid, "bad_sdp", err);
    }
    return sdp;
}

static size_t count_parts(const sfu_t *s)
{
    size_t n = 0;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->rooms);
    while (g_hash_table_iter_next(&it, &k, &v))
        n += ((room_t *)v)->parts->len;
    return n;
}

static part_t *admit(sfu_t *s, const char *tx, const char *room, const char *pid, const char *user, const char *node,
                     const sdp_t *offer)
{
    room_t *r = g_hash_table_lookup(s->rooms, room);
    if (r && r->parts->len >= s->p.room_max_participants) {
        s->ev.error(s->ev.ctx, node, tx, room, pid, "room_full", "the room has its maximum of participants on this SFU");
        return NULL;
    }
    if (count_parts(s) >= s->p.capacity) {
        s->ev.error(s->ev.ctx, node, tx, room, pid, "unavailable", "this SFU is at capacity");
        return NULL;
    }
    const char *alg, *fp = sdp_fingerprint(offer, 0, &alg);
    const char *setup = sdp_setup(offer, 0);
    part_t *p = g_new0(part_t, 1);
    p->sfu = s;
    p->pid = g_strdup(pid);
    p->user = g_strdup(user);
    p->node = g_strdup(node);
    p->tracks = g_ptr_array_new();
    ice_params_t ip = {.addresses = (const char *const *)s->addresses, .naddresses = s->p.nmedia_addresses,
                       .port_min = s->p.port_min, .port_max = s->p.port_max, .controlling = 0};
    peer_params_t pp = {.ice = &ip, .dtls = s->p.dtls, .remote_fingerprint = fp,
                        .dtls_server = strcmp(setup, "passive") != 0};
    peer_callbacks_t cb = {.up = on_up, .down = on_down, .rtp = on_rtp, .rtcp = on_rtcp, .candidate = on_candidate, .ctx = p};
    p->peer = peer_new(&pp, &cb);
    if (!p->peer) {
        part_destroy(p);
        s->ev.error(s->ev.ctx, node, tx, room, pid, "unavailable", "no media port free");
        return NULL;
    }
    if (!r) {
        r = g_new0(room_t, 1);
        r->sfu = s;
        r->id = g_strdup(room);
        r->parts = g_ptr_array_new();
        speaker_config_t sc = {.max_participants = s->p.room_max_participants};
        r->speakers = speaker_new(&sc);
        if (!r->speakers) {
            g_ptr_array_free(r->parts, TRUE);
            g_free(r->id);
            g_free(r);
            part_destroy(p);
            s->ev.error(s->ev.ctx, node, tx, room, pid, "unavailable", "out of memory");
            return NULL;
        }
        g_hash_table_insert(s->rooms, r->id, r);
    }
    p->room = r;
    p->speaker_id = r->next_speaker_id++;
    if (!p->speaker_id) /* SPEAKER_NONE after 2^32 joins */
        p->speaker_id = r->next_speaker_id++;
    speaker_add(r->speakers, p->speaker_id);
    g_ptr_array_add(r->parts, p);
    p->ice_timer = g_timeout_add(s->p.ice_timeout_ms, on_ice_timeout, p);
    sfu_counters.joins++;
    log_info("participant %s (user %s, node %s) joins room %s", pid, user, node, room);
    return p;
}

/* The extmap id for transport-cc in the SFU's offers to a participant: the one its own offer uses (ids
 * are one map across a BUNDLE group), else the lowest one-byte id its offer leaves free. 0: none free. */
static int choose_tcc_id(const sdp_t *offer)
{
    int used[15] = {0};
    for (size_t i = 0; i < offer->nmedia; i++) {
        const sdp_media_t *m = &offer->media[i];
        int id = sdp_find_extmap(m, EXT_TCC);
        if (id)
            return id;
        for (size_t j = 0; j < m->nextmaps; j++)
            if (m->extmaps[j].id < 15)
                used[m->extmaps[j].id] = 1;
    }
    for (int id = 1; id < 15; id++)
        if (!used[id])
            return id;
    return 0;
}

void sfu_offer(sfu_t *s, const char *tx, const char *room, const char *pid, const char *user, const char *node,
               const char *text, size_t len, const sfu_label_t *labels, size_t nlabels)
{
    if (s->draining) {
        s->ev.error(s->ev.ctx, node, tx, room, pid, "unavailable", "this SFU is draining");
        return;
    }
    sdp_t *offer = parse_remote(s, node, tx, room, pid, text, len);
    if (!offer)
        return;
    part_t *p = find_part(s, room, pid);
    int fresh = 0;
    if (p && p->offer_pending) {
        sfu_counters.glare++;
        s->ev.error(s->ev.ctx, node, tx, room, pid, "glare", "the SFU has an offer outstanding: answer it, then offer again");
        goto out;
    }
    if (!p) {
        if (!(p = admit(s, tx, room, pid, user, node, offer)))
            goto out;
        fresh = 1;
    } else if (strcmp(p->node, node) != 0) {
        g_free(p->node);
        p->node = g_strdup(node);
    }
    if (ice_set_remote_credentials(peer_ice(p->peer), sdp_ice_ufrag(offer, 0), sdp_ice_pwd(offer, 0)) < 0) {
        sfu_counters.bad_sdp++;
        s->ev.error(s->ev.ctx, node, tx, room, pid, "bad_sdp", "ICE restart is not supported: leave and join again");
        if (fresh)
            part_unlink(p);
        goto out;
    }
    if (!p->tcc_id)
        p->tcc_id = choose_tcc_id(offer);
    int changed = 0;
    char *answer = build_answer(p, offer, labels, nlabels, &changed);
    if (!answer) {
        sfu_counters.bad_sdp++;
        s->ev.error(s->ev.ctx, node, tx, room, pid, "bad_sdp", "too many m-sections");
        if (fresh)
            part_unlink(p);
        goto out;
    }
    for (size_t i = 0; i < offer->nmedia; i++)
        for (size_t j = 0; j < offer->media[i].ncandidates; j++)
            if (ice_add_remote_candidate(peer_ice(p->peer), offer->media[i].candidates[j]) < 0)
                sfu_counters.bad_candidates++;
    s->ev.answer(s->ev.ctx, node, tx, room, pid, answer);
    free(answer);
    if (changed)
        renegotiate_others(p);
    renegotiate(p);
out:
    sdp_free(offer);
}

void sfu_answer(sfu_t *s, const char *tx, const char *room, const char *pid, const char *node, const char *text,
                size_t len)
{
    part_t *p = find_part(s, room, pid);
    if (!p) {
        if (node)
            s->ev.error(s->ev.ctx, node, tx, room, pid, "not_found", "no such participant on this SFU");
        else
            log_info("answer for unknown participant %s (room %s) dropped: no node to tell", pid, room);
        return;
    }
    if (!p->offer_pending) {
        s->ev.error(s->ev.ctx, p->node, tx, room, pid, "bad_sdp", "no offer of the SFU is outstanding");
        return;
    }
    sdp_t *ans = parse_remote(s, p->node, tx, room, pid, text, len);
    if (!ans)
        return; /* the offer stays outstanding: the client may answer again */
    int bad = ans->nmedia != p->nslots;
    for (size_t i = 0; i < ans->nmedia && !bad; i++)
        bad = strcmp(ans->media[i].mid, p->slots[i]->mid) != 0;
    if (bad) {
        sfu_counters.bad_sdp++;
        s->ev.error(s->ev.ctx, p->node, tx, room, pid, "bad_sdp", "the answer's m-sections do not match the offer");
        sdp_free(ans);
        return;
    }
    p->offer_pending = 0;
    log_info("participant %s (room %s): answer to offer %llu", pid, room, (unsigned long long)p->sdp_version);
    s->ev.ok(s->ev.ctx, p->node, tx, room, pid);
    for (size_t i = 0; i < p->nslots; i++) {
        leg_t *l = p->slots[i]->leg;
        if (l) {
            /* Retransmissions go as RTX only where the subscriber kept our rtx payload type. */
            const sdp_codec_t *rtx = sdp_find_rtx(&ans->media[i], l->track->out_pt);
            l->rtx_pt = rtx ? rtx->pt : -1;
        }
    }
    /* Transport-cc: on once its answer keeps our id (a client that does not know it sends no feedback,
     * and its packets keep the publisher's header as before). */
    for (size_t i = 0; i < ans->nmedia && p->tcc_id && !p->tcc_on; i++)
        if (p->slots[i]->role == SLOT_SEND && sdp_find_extmap(&ans->media[i], EXT_TCC) == p->tcc_id) {
            bwe_config_t bc = {0};
            p->bwe = bwe_new(&bc);
            p->tcc_on = p->bwe != NULL;
        }
    sdp_free(ans);
    for (size_t i = 0; i < p->nslots; i++) {
        leg_t *l = p->slots[i]->leg;
        if (l && !l->active) {
            l->active = 1;
            l->active_us = g_get_monotonic_time();
            if (p->up)
                keyframe_wanted(l->track, l->target, KEYREQ_NEW_SUBSCRIBER);
        }
    }
    renegotiate(p);
}

void sfu_candidate(sfu_t *s, const char *room, const char *pid, const char *mid, const char *candidate)
{
    (void)mid; /* one transport for every section (BUNDLE) */
    part_t *p = find_part(s, room, pid);
    if (!p)
        return;
    if (ice_add_remote_candidate(peer_ice(p->peer), candidate) < 0) {
        sfu_counters.bad_candidates++;
        log_debug("participant %s: candidate dropped: %.80s", pid, candidate);
    }
}

void sfu_leave(sfu_t *s, const char *room, const char *pid)
{
    part_t *p = find_part(s, room, pid);
    if (!p)
        return;
    sfu_counters.leaves++;
    log_info("participant %s leaves room %s", pid, room);
    part_unlink(p);
}

void sfu_close_room(sfu_t *s, const char *room)
{
    room_t *r = g_hash_table_lookup(s->rooms, room);
    while (r && r->parts->len) {
        part_t *p = r->parts->pdata[r->parts->len - 1];
        sfu_counters.leaves++;
        int last = r->parts->len == 1;
        part_unlink(p);
        if (last)
            break; /* the room is freed with its last participant */
    }
}

/* ---- recording (recorder.h) --------------------------------------------------------------------- */

/* Where a recording's end is reported once its files are closed: copies, as the room may be gone. */
typedef struct {
    sfu_t *sfu;
    char *room, *node, *name, *reason;
} record_job_t;

static void on_recorded(void *ctx, const recorder_result_t *res)
{
    record_job_t *j = ctx;
    j->sfu->rec_finishing--;
    log_info("room %s: recording %s ended (%s): %zu files, %llu frames dropped by the queue, closed in %lld ms",
             j->room, j->name, j->reason, res->nfiles, (unsigned long long)res->queue_dropped,
             (long long)res->finalize_ms);
    j->sfu->ev.recorded(j->sfu->ev.ctx, j->node, j->room, j->name, j->reason, res);
    g_free(j->room);
    g_free(j->node);
    g_free(j->name);
    g_free(j->reason);
    g_free(j);
}

/* Ends the room's recording: its tracks forget their files (the recorder owns them) and the writer closes
 * them; on_recorded reports later. */
static void record_end(room_t *r, const char *reason)
{
    for (guint i = 0; i < r->parts->len; i++) {
        part_t *p = r->parts->pdata[i];
        for (guint k = 0; k < p->tracks->len; k++)
        {
            ((track_t *)p->tracks->pdata[k])->rec = NULL;
            ((track_t *)p->tracks->pdata[k])->rec_layer = -1;
        }
    }
    record_job_t *j = g_new0(record_job_t, 1);
    j->sfu = r->sfu;
    j->room = g_strdup(r->id);
    j->node = r->rec_node;
    j->name = r->rec_name;
    j->reason = g_strdup(reason);
    r->rec_node = r->rec_name = NULL;
    g_hash_table_destroy(r->rec_pids);
    r->rec_pids = NULL;
    r->sfu->rec_finishing++;
    recorder_t *rec = r->rec;
    r->rec = NULL;
    recorder_stop(rec, on_recorded, j);
}

/* The layer of t a recording takes: its only one, or (simulcast) the highest arriving when the track's
 * recording begins, kept for the file's life (a file has one resolution). */
static int record_layer(track_t *t)
{
    if (t->rec_layer < 0) {
        uint64_t now_us = (uint64_t)g_get_monotonic_time();
        t->rec_layer = 0;
        for (int k = t->nlayers - 1; k > 0; k--)
            if (t->layers[k].last_us && now_us - t->layers[k].last_us <= LAYER_DEAD_US) {
                t->rec_layer = k;
                break;
            }
    }
    return t->rec_layer;
}

static void record_packet(track_t *t, const rtp_view_t *v, int keyframe)
{
    room_t *r = t->owner->room;
    if (!g_hash_table_contains(r->rec_pids, t->owner->pid))
        return;
    int vp8 = !strcasecmp(t->codec, "VP8"), opus = !strcasecmp(t->codec, "opus");
    if (!t->rec && (vp8 || opus))
        t->rec = recorder_stream_open(r->rec, t->owner->pid, t->owner->user, t->label, vp8 ? RECORDER_VP8 : RECORDER_OPUS);
    if (!t->rec)
        return;
    int flags = recorder_stream_rtp(t->rec, v, keyframe != 0);
    if (flags & RECORDER_WANT_KEYFRAME)
        keyframe_wanted(t, t->rec_layer >= 0 ? t->rec_layer : 0, KEYREQ_SUBSCRIBER_LOSS);
    if (flags & RECORDER_LIMIT)
        record_end(r, "limit");
}

void sfu_record_start(sfu_t *s, const char *tx, const char *room, const char *node, const char *name,
                      const char *const *pids, size_t npids)
{
    room_t *r = g_hash_table_lookup(s->rooms, room);
    if (!r) {
        s->ev.error(s->ev.ctx, node, tx, room, "", "not_found", "no such room on this SFU");
        return;
    }
    if (r->rec) {
        s->ev.error(s->ev.ctx, node, tx, room, "", "conflict", "the room is already being recorded");
        return;
    }
    if (!s->p.recordings_dir || !*s->p.recordings_dir) {
        s->ev.error(s->ev.ctx, node, tx, room, "", "unavailable", "recording is not configured (recordings-dir)");
        return;
    }
    char *dir = g_build_filename(s->p.recordings_dir, name, NULL);
    r->rec = recorder_new(&(recorder_params_t){.dir = dir, .max_seconds = s->p.record_max_seconds});
    g_free(dir);
    if (!r->rec) {
        s->ev.error(s->ev.ctx, node, tx, room, "", "unavailable", "the recording directory cannot be written");
        return;
    }
    r->rec_node = g_strdup(node);
    r->rec_name = g_strdup(name);
    r->rec_pids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (size_t i = 0; i < npids; i++)
        g_hash_table_add(r->rec_pids, g_strdup(pids[i]));
    log_info("room %s: recording %s starts", room, name);
    /* Each video file starts at a keyframe: ask every publisher for one now rather than wait. */
    for (guint i = 0; i < r->parts->len; i++) {
        part_t *p = r->parts->pdata[i];
        for (guint k = 0; k < p->tracks->len; k++)
            for (int q = 0; q < ((track_t *)p->tracks->pdata[k])->nlayers; q++)
                keyframe_wanted(p->tracks->pdata[k], q, KEYREQ_NEW_SUBSCRIBER);
    }
    s->ev.ok(s->ev.ctx, node, tx, room, "");
}

void sfu_record_allow(sfu_t *s, const char *room, const char *pid)
{
    room_t *r = g_hash_table_lookup(s->rooms, room);
    if (r && r->rec)
        g_hash_table_add(r->rec_pids, g_strdup(pid));
}

void sfu_record_stop(sfu_t *s, const char *tx, const char *room, const char *node)
{
    room_t *r = g_hash_table_lookup(s->rooms, room);
    if (!r || !r->rec) {
        s->ev.error(s->ev.ctx, node, tx, room, "", "not_found", "the room is not being recorded");
        return;
    }
    record_end(r, "stopped");
    s->ev.ok(s->ev.ctx, node, tx, room, "");
}

void sfu_drain(sfu_t *s)
{
    s->draining = 1;
    GList *rooms = g_hash_table_get_values(s->rooms);
    for (GList *l = rooms; l; l = l->next) {
        room_t *r = l->data;
        /* One moved event per node, listing that node's participants. */
        GHashTable *by_node = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref);
        for (guint i = 0; i < r->parts->len; i++) {
            part_t *p = r->parts->pdata[i];
            GPtrArray *a = g_hash_table_lookup(by_node, p->node);
            if (!a)
                g_hash_table_insert(by_node, p->node, a = g_ptr_array_new());
            g_ptr_array_add(a, p->pid);
        }
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, by_node);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            GPtrArray *a = v;
            s->ev.moved(s->ev.ctx, k, r->id, (const char *const *)a->pdata, a->len);
        }
        g_hash_table_destroy(by_node);
    }
    g_list_free(rooms);
    rooms = g_hash_table_get_keys(s->rooms);
    for (GList *l = rooms; l; l = l->next) {
        char *id = g_strdup(l->data);
        sfu_close_room(s, id);
        g_free(id);
    }
    g_list_free(rooms);
}

/* ---- speaker ------------------------------------------------------------------------------------ */

/* Every SPEAKER_TICK_MS: each room's dominant speaker (speaker.h decides, with hysteresis) is
 * announced to the room when it changes. */
static gboolean on_speaker_tick(gpointer data)
{
    sfu_t *s = data;
    uint64_t now = now_ms();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        room_t *r = v;
        uint32_t dominant;
        if (!speaker_tick(r->speakers, now, &dominant) || dominant == SPEAKER_NONE)
            continue;
        part_t *best = NULL;
        for (guint i = 0; i < r->parts->len && !best; i++)
            if (((part_t *)r->parts->pdata[i])->speaker_id == dominant)
                best = r->parts->pdata[i];
        if (!best || best == r->speaker)
            continue;
        r->speaker = best;
        sfu_counters.speaker_changes++;
        GHashTable *by_node = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref);
        for (guint i = 0; i < r->parts->len; i++) {
            part_t *p = r->parts->pdata[i];
            GPtrArray *a = g_hash_table_lookup(by_node, p->node);
            if (!a)
                g_hash_table_insert(by_node, p->node, a = g_ptr_array_new());
            g_ptr_array_add(a, p->pid);
        }
        GHashTableIter nit;
        gpointer nk, nv;
        g_hash_table_iter_init(&nit, by_node);
        while (g_hash_table_iter_next(&nit, &nk, &nv)) {
            GPtrArray *a = nv;
            s->ev.speaker(s->ev.ctx, nk, r->id, best->pid, (const char *const *)a->pdata, a->len);
        }
        g_hash_table_destroy(by_node);
    }
    return G_SOURCE_CONTINUE;
}

/* Every second: connected participants that sent nothing for media-timeout-ms are dropped. */
static gboolean on_media_tick(gpointer data)
{
    sfu_t *s = data;
    int64_t now = g_get_monotonic_time();
    GPtrArray *late = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        room_t *r = v;
        for (guint i = 0; i < r->parts->len; i++) {
            part_t *p = r->parts->pdata[i];
            if (p->up && now - peer_last_media_us(p->peer) > (int64_t)s->p.media_timeout_ms * 1000)
                g_ptr_array_add(late, p);
        }
    }
    for (guint i = 0; i < late->len; i++)
        part_drop(late->pdata[i], "media_timeout");
    g_ptr_array_free(late, TRUE);
    return G_SOURCE_CONTINUE;
}

/* ---- simulcast: each subscriber's layers ------------------------------------------------------- */

/* A layer's rate over the last window; live = a packet in the last LAYER_DEAD_US. */
static void measure_layers(track_t *t, uint64_t now_us)
{
    for (int k = 0; k < t->nlayers; k++) {
        __typeof__(t->layers[0]) *L = &t->layers[k];
        if (!L->win_start_us) {
            L->win_start_us = now_us;
        } else if (now_us - L->win_start_us >= LAYER_RATE_WINDOW_US) {
            L->bps = (uint32_t)(L->win_bytes * 8 * 1000000 / (now_us - L->win_start_us));
            L->win_start_us = now_us;
            L->win_bytes = 0;
        }
        if (!L->last_us || now_us - L->last_us > LAYER_DEAD_US)
            L->bps = 0;
        if (L->paused_bps && !L->paused && (L->bps >= L->paused_bps || now_us / 1000 - L->resumed_ms > LAYER_RAMP_MS))
            L->paused_bps = 0; /* ramped up again after a pause */
    }
}

/* Shares the participant's estimate over the video it receives (layers.h) and moves each leg towards
 * its new layer: at once to nothing (a hidden tile), else on the new layer's keyframe, asked for now.
 * A leg going down while what the legs send now exceeds the budget and the estimate fell in the last
 * CONGESTED_MS (the link is congested; not a change of mind on a layer's measured rate) stops its
 * current layer at once instead of waiting for the lower layer's keyframe:
 * kept on, the higher layers go on overfilling the link, and the keyframes that would relieve it are
 * the packets lost (a picture held ~100 ms for the keyframe costs less than several seconds of loss). */
static void allocate_part(part_t *p, uint64_t now_ms_)
{
    layers_leg_t *ll[MAX_SLOTS];
    leg_t *legs[MAX_SLOTS];
    size_t n = 0;
    uint64_t audio = 0, now_us = (uint64_t)g_get_monotonic_time();
    for (size_t i = 0; i < p->nslots; i++) {
        leg_t *l = p->slots[i]->leg;
        if (!l || !l->active)
            continue;
        track_t *t = l->track;
        if (strcmp(t->kind, "video") != 0) {
            audio += AUDIO_RESERVE_BPS; /* audio first: never starved for video */
            continue;
        }
        l->ll.nlayers = t->nlayers;
        for (int k = 0; k < t->nlayers; k++) {
            int live = t->layers[k].last_us && now_us - t->layers[k].last_us <= LAYER_DEAD_US;
            /* A layer resumed after a pause is taken at the rate it had before until its encoder has
             * ramped up again (measure_layers), else a leg would take it cheap and leave it once its
             * real rate shows; a live layer before its first rate is almost free. */
            uint32_t bps = t->layers[k].bps, before = t->layers[k].paused_bps;
            uint32_t known = before > bps ? before : bps ? bps : 1;
            l->ll.bps[k] = live ? known : t->layers[k].paused ? before : 0;
            l->ll.width[k] = t->layers[k].width;
        }
        l->ll.speaker = p->room && p->room->speaker == t->owner;
        legs[n] = l;
        ll[n++] = &l->ll;
    }
    if (!n)
        return;
    /* No transport-cc, or negotiated and no feedback for the first TCC_SILENT_PACKETS sent (a client that
     * does not send it: not a browser, which answers within a few packets): no limit, as nothing tells
     * what the link carries. */
    bool estimated = p->tcc_on && p->bwe && (bwe_has_feedback(p->bwe) || p->tcc_sent < TCC_SILENT_PACKETS);
    uint64_t est = estimated ? bwe_estimate(p->bwe) : UINT32_MAX;
    uint32_t budget = est > audio ? (uint32_t)(est - audio) : 0;
    uint64_t sending = 0;
    for (size_t i = 0; i < n; i++)
        if (legs[i]->cur >= 0 && legs[i]->cur < legs[i]->ll.nlayers)
            sending += legs[i]->ll.bps[legs[i]->cur];
    bwe_stats_t bs = {0};
    if (p->bwe)
        bwe_stats(p->bwe, &bs);
    if (bs.decreases != p->decreases_seen) { /* the estimate fell: loss or queuing, not a change of mind */
        p->decreases_seen = bs.decreases;
        p->congested_until_ms = now_ms_ + CONGESTED_MS;
    }
    bool congested = sending > budget && now_ms_ < p->congested_until_ms;
    layers_allocate(ll, n, budget, now_ms_);
    for (size_t i = 0; i < n; i++) {
        leg_t *l = legs[i];
        int want = l->ll.chosen;
        if (want == l->target) {
            /* Still waiting for the layer's keyframe: a PLI or the keyframe itself may have been lost. */
            if (want >= 0 && want != l->cur && now_ms_ - l->wait_ms >= KEYFRAME_RETRY_MS) {
                l->wait_ms = now_ms_;
                keyframe_wanted(l->track, want, KEYREQ_SUBSCRIBER_LOSS);
            }
            continue;
        }
        log_info("participant %s: %s's %s: layer %d chosen (layers %u/%u/%u bit/s; budget %u bit/s; acked %u bit/s, loss %u‰, "
                 "queue %u ms)", p->pid, l->track->owner->pid, l->track->label, want, l->ll.bps[0], l->ll.bps[1], l->ll.bps[2],
                 budget, bs.acked_bps, bs.loss_permille, bs.queue_ms);
        l->target = want;
        if ((want < 0 || (congested && want < l->cur)) && l->cur >= 0)
            leg_switch(l, -1);
        if (want >= 0 && want != l->cur) {
            l->wait_ms = now_ms_;
            keyframe_wanted(l->track, want, KEYREQ_NEW_SUBSCRIBER);
        }
    }
}

/* Whether a leg of t forwards layer k or waits for its keyframe. */
static bool layer_in_use(const track_t *t, int k)
{
    for (guint i = 0; i < t->legs->len; i++) {
        const leg_t *l = t->legs->pdata[i];
        if (l->cur == k || l->target == k)
            return true;
    }
    return false;
}

/* Pauses the layers of a simulcast track that nobody has taken for LAYER_PAUSE_MS and resumes those a
 * leg wants again (see LAYER_PAUSE_MS), telling the publisher when that changes. */
static void update_paused_layers(sfu_t *s, track_t *t, uint64_t now_ms_)
{
    if (!t->simulcast || t->nlayers < 2 || strcmp(t->kind, "video") != 0 || !t->owner->up || t->owner->closing)
        return;
    int changed = 0;
    for (int k = 1; k < t->nlayers; k++) {
        __typeof__(t->layers[0]) *L = &t->layers[k];
        if (t->owner->room->rec != NULL || !L->rid[0] || layer_in_use(t, k)) {
            L->unused_since_ms = 0;
            if (L->paused) {
                L->paused = 0;
                L->resumed_ms = now_ms_;
                changed = 1;
            }
        } else if (!L->paused && !L->unused_since_ms) {
            L->unused_since_ms = now_ms_;
        } else if (!L->paused && now_ms_ - L->unused_since_ms >= LAYER_PAUSE_MS && L->bps) {
            L->paused = 1;
            L->paused_bps = L->bps;
            changed = 1;
        }
    }
    if (!changed || !s->ev.layers)
        return;
    const char *paused[LAYERS_MAX];
    size_t n = 0;
    char list[LAYERS_MAX * 18] = "";
    for (int k = 1; k < t->nlayers; k++)
        if (t->layers[k].paused) {
            paused[n++] = t->layers[k].rid;
            g_strlcat(list, " ", sizeof list);
            g_strlcat(list, t->layers[k].rid, sizeof list);
        }
    log_info("participant %s: %s layers paused:%s", t->owner->pid, t->label, n ? list : " none");
    s->ev.layers(s->ev.ctx, t->owner->node, t->owner->room->id, t->owner->pid, t->label, paused, n);
}

static gboolean on_layers_tick(gpointer data)
{
    sfu_t *s = data;
    uint64_t now_us = (uint64_t)g_get_monotonic_time();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        room_t *r = v;
        for (guint i = 0; i < r->parts->len; i++) {
            part_t *p = r->parts->pdata[i];
            for (guint j = 0; j < p->tracks->len; j++)
                measure_layers(p->tracks->pdata[j], now_us);
        }
        for (guint i = 0; i < r->parts->len; i++) {
            part_t *p = r->parts->pdata[i];
            if (p->up && !p->closing)
                allocate_part(p, now_us / 1000);
        }
        for (guint i = 0; i < r->parts->len; i++) {
            part_t *p = r->parts->pdata[i];
            for (guint j = 0; j < p->tracks->len; j++)
                update_paused_layers(s, p->tracks->pdata[j], now_us / 1000);
        }
    }
    return G_SOURCE_CONTINUE;
}

void sfu_view(sfu_t *s, const char *room, const char *pid, const sfu_tile_t *tiles, size_t ntiles)
{
    part_t *p = find_part(s, room, pid);
    if (!p)
        return;
    for (size_t i = 0; i < p->nslots; i++) {
        leg_t *l = p->slots[i]->leg;
        if (!l || strcmp(l->track->kind, "video") != 0 || !strcmp(l->track->label, "screen"))
            continue; /* the screen share is shown large, whatever the grid does */
        for (size_t j = 0; j < ntiles; j++)
            if (!strcmp(tiles[j].publisher, l->track->owner->pid)) {
                l->ll.tile_width = tiles[j].width;
                l->ll.visible = tiles[j].visible;
            }
    }
    log_info("participant %s: view of %zu tile%s", pid, ntiles, ntiles == 1 ? "" : "s");
    if (p->up)
        allocate_part(p, now_ms());
}

/* Per-room and per-subscriber figures for /metrics (Prometheus text, appended at buf[0..len)). */
size_t sfu_metrics_text(const sfu_t *s, char *buf, size_t len)
{
    size_t at = 0;
#define PUT(...)                                                                     \
    do {                                                                             \
        if (at < len) {                                                              \
            int n_ = snprintf(buf + at, len - at, __VA_ARGS__);                      \
            at += n_ > 0 ? ((size_t)n_ < len - at ? (size_t)n_ : len - at - 1) : 0;  \
        }                                                                            \
    } while (0)
    if (len)
        buf[0] = 0;
    PUT("# HELP staffroom_sfu_room_layer_switches_total simulcast layer switches of the room's subscriber legs\n"
        "# TYPE staffroom_sfu_room_layer_switches_total counter\n");
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const room_t *r = v;
        PUT("staffroom_sfu_room_layer_switches_total{room=\"%s\"} %llu\n", r->id, (unsigned long long)r->layer_switches);
    }
    PUT("# HELP staffroom_sfu_subscriber_estimate_bps bandwidth estimated towards each subscriber (transport-cc)\n"
        "# TYPE staffroom_sfu_subscriber_estimate_bps gauge\n");
    uint64_t paused = 0, stopped = 0;
    g_hash_table_iter_init(&it, s->rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const room_t *r = v;
        for (guint i = 0; i < r->parts->len; i++) {
            const part_t *p = r->parts->pdata[i];
            if (p->tcc_on && p->bwe)
                PUT("staffroom_sfu_subscriber_estimate_bps{room=\"%s\",participant=\"%s\"} %u\n", r->id, p->pid,
                    bwe_estimate(p->bwe));
            for (guint j = 0; j < p->tracks->len; j++) {
                const track_t *t = p->tracks->pdata[j];
                for (int q = 0; q < t->nlayers && t->simulcast; q++) {
                    paused += !layer_in_use(t, q);
                    stopped += t->layers[q].paused != 0;
                }
            }
        }
    }
    PUT("# HELP staffroom_sfu_paused_layers simulcast layers arriving that no subscriber receives\n"
        "# TYPE staffroom_sfu_paused_layers gauge\nstaffroom_sfu_paused_layers %llu\n", (unsigned long long)paused);
    PUT("# HELP staffroom_sfu_publisher_paused_layers simulcast layers their publishers were told to stop (nobody "
        "receives them)\n# TYPE staffroom_sfu_publisher_paused_layers gauge\nstaffroom_sfu_publisher_paused_layers %llu\n",
        (unsigned long long)stopped);
#undef PUT
    return at;
}

/* ---- the SFU's own RTCP ------------------------------------------------------------------------- */

/* Sends what is in buf[0..*len) to the participant and empties it. */
static void flush_rtcp(part_t *p, uint8_t *buf, size_t *len)
{
    if (*len)
        peer_send_rtcp(p->peer, buf, *len);
    *len = 0;
}

/* One RR to a publisher: a report block per track it publishes (RFC 3550 §6.4.2), so that its sender
 * sees the loss and jitter of its link to the SFU. */
static void send_receiver_report(part_t *p, uint64_t now_us)
{
    rtcp_report_t blocks[RTCP_MAX_REPORTS];
    size_t n = 0;
    for (guint i = 0; i < p->tracks->len && n < RTCP_MAX_REPORTS; i++) {
        track_t *t = p->tracks->pdata[i];
        for (int k = 0; k < t->nlayers && n < RTCP_MAX_REPORTS; k++)
            if (t->layers[k].ssrc && rtpstats_rx_report(&t->layers[k].rx, t->layers[k].ssrc, now_us, &blocks[n]))
                n++;
    }
    if (!n)
        return;
    uint8_t pkt[8 + 24 * RTCP_MAX_REPORTS + SFU_SRTP_TRAILER];
    long len = rtcp_build_rr(pkt, 8 + 24 * RTCP_MAX_REPORTS, SFU_RTCP_SSRC, blocks, n);
    if (len > 0 && peer_send_rtcp(p->peer, pkt, (size_t)len) == 0)
        sfu_counters.receiver_reports++;
}

/* An SR per section the SFU sends the subscriber media on (RFC 3550 §6.4.1): the publisher's last SR
 * carried forward to now, its RTP time moved onto the section's timeline (rewrite_map_ts), and the
 * section's own packet and octet counts. Without a recent SR from the publisher there is nothing to
 * pair the clocks with, and no SR goes. Several SRs share a datagram (compound, rtcp-rsize). */
static void send_sender_reports(part_t *p, uint64_t now_us)
{
    uint8_t buf[RTCP_MAX_DATAGRAM + SFU_SRTP_TRAILER];
    size_t len = 0;
    for (size_t i = 0; i < p->nslots; i++) {
        slot_t *sl = p->slots[i];
        leg_t *l = sl->leg;
        if (sl->role != SLOT_SEND || !l || !l->active || !sl->rw || l->cur < 0)
            continue;
        rtcp_sr_t sr = {.ssrc = sl->out_ssrc};
        uint32_t src_ts;
        if (!rtpstats_sr_now(&l->track->layers[l->cur].rx, now_us, SR_MAX_AGE_US, &sr.ntp, &src_ts) ||
            !rewrite_map_ts(sl->rw, src_ts, &sr.rtp_ts))
            continue;
        sr.packets = rewrite_packets_sent(sl->rw);
        sr.octets = rewrite_octets_sent(sl->rw);
        if (len + 28 > RTCP_MAX_DATAGRAM)
            flush_rtcp(p, buf, &len);
        long n = rtcp_build_sr(buf + len, RTCP_MAX_DATAGRAM - len, &sr);
        if (n > 0) {
            len += (size_t)n;
            sfu_counters.sender_reports++;
        }
    }
    flush_rtcp(p, buf, &len);
}

/* Every RTCP_TICK_MS: the SFU's reports to every connected participant (one RR, a datagram or two of
 * SRs). Browsers send their own reports about once a second; ours keep the same pace. */
static gboolean on_rtcp_tick(gpointer data)
{
    sfu_t *s = data;
    uint64_t now_us = (uint64_t)g_get_monotonic_time();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        room_t *r = v;
        for (guint i = 0; i < r->parts->len; i++) {
            part_t *p = r->parts->pdata[i];
            if (!p->up || p->closing)
                continue;
            send_receiver_report(p, now_us);
            send_sender_reports(p, now_us);
        }
    }
    return G_SOURCE_CONTINUE;
}

/* ---- lifetime ----------------------------------------------------------------------------------- */

sfu_t *sfu_new(const sfu_params_t *p, const sfu_events_t *ev)
{
    sfu_t *s = g_new0(sfu_t, 1);
    s->p = *p;
    s->ev = *ev;
    s->addresses = g_new0(char *, p->nmedia_addresses + 1);
    for (size_t i = 0; i < p->nmedia_addresses; i++)
        s->addresses[i] = g_strdup(p->media_addresses[i]);
    s->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, room_free);
    s->session_id = ((uint64_t)g_random_int() << 31) ^ g_random_int();
    s->dying = g_ptr_array_new();
    s->speaker_timer = g_timeout_add(SPEAKER_TICK_MS, on_speaker_tick, s);
    s->media_timer = g_timeout_add(1000, on_media_tick, s);
    s->rtcp_timer = g_timeout_add(RTCP_TICK_MS, on_rtcp_tick, s);
    s->layers_timer = g_timeout_add(LAYERS_TICK_MS, on_layers_tick, s);
    return s;
}

void sfu_gauges(const sfu_t *s, sfu_gauges_t *g)
{
    g->rooms = g_hash_table_size(s->rooms);
    g->participants = g->tracks = g->legs = 0;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        room_t *r = v;
        g->participants += r->parts->len;
        for (guint i = 0; i < r->parts->len; i++) {
            part_t *p = r->parts->pdata[i];
            g->tracks += p->tracks->len;
            for (guint j = 0; j < p->tracks->len; j++)
                g->legs += ((track_t *)p->tracks->pdata[j])->legs->len;
        }
    }
}

void sfu_free(sfu_t *s)
{
    if (!s)
        return;
    GList *rooms = g_hash_table_get_keys(s->rooms);
    for (GList *l = rooms; l; l = l->next) {
        char *id = g_strdup(l->data);
        sfu_close_room(s, id);
        g_free(id);
    }
    g_list_free(rooms);
    while (s->dying->len) {
        part_t *p = s->dying->pdata[s->dying->len - 1];
        g_ptr_array_remove_index(s->dying, s->dying->len - 1);
        g_source_remove(p->idle_free);
        part_destroy(p);
    }
    g_ptr_array_free(s->dying, TRUE);
    /* Closing the rooms stopped their recordings: let the writers finish the files (bounded). */
    for (int i = 0; s->rec_finishing && i < 10000; i++)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(1000);
    g_source_remove(s->speaker_timer);
    g_source_remove(s->media_timer);
    g_source_remove(s->rtcp_timer);
    g_source_remove(s->layers_timer);
    g_hash_table_destroy(s->rooms);
    g_strfreev(s->addresses);
    g_free(s);
}

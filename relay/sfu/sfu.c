/* sfu.c — see sfu.h. */
#include "sfu.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ice.h"
#include "log.h"
#include "peer.h"
#include "sdp.h"
#include "srtp.h"

/* The payload types the SFU uses towards subscribers (it rewrites the publisher's on forwarding). */
#define PT_OPUS 111
#define PT_VP8 96
#define PT_H264 102
#define KEYFRAME_REQUEST_MIN_US 500000 /* at most two PLIs a second per published video track */
#define EXT_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define EXT_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define MAX_SLOTS SDP_MAX_MEDIA
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
    uint32_t ssrc, rtx_ssrc;
    int audio_level_id;
    GPtrArray *legs; /* leg_t */
    int64_t last_keyframe_request_us;
    int level_sum, level_count; /* -dBov of voiced packets since the last speaker tick */
};

struct leg {
    track_t *track;
    part_t *sub;
    slot_t *slot;
    uint32_t out_ssrc;
    char msid[80];
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
    guint idle_free, ice_timer;
    int up;
};

struct room {
    char *id;
    GPtrArray *parts;
    part_t *speaker;
};

struct sfu {
    sfu_params_t p;
    char **addresses;
    sfu_events_t ev;
    GHashTable *rooms; /* id → room_t */
    uint64_t session_id;
    int draining;
    guint speaker_timer, media_timer;
    GPtrArray *dying; /* parts waiting for their idle free */
};

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

static track_t *track_by_ssrc(part_t *p, uint32_t ssrc)
{
    for (guint i = 0; i < p->tracks->len; i++) {
        track_t *t = p->tracks->pdata[i];
        if (t->ssrc == ssrc || (t->rtx_ssrc && t->rtx_ssrc == ssrc))
            return t;
    }
    return NULL;
}

static uint32_t random_ssrc(void) { return g_random_int_range(1, G_MAXINT32); }

/* ---- RTCP towards a publisher ------------------------------------------------------------------- */

static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }

/* RFC 4585 §6.3.1 PLI, throttled per track (a burst of subscribers asking costs one keyframe). */
static void request_keyframe(track_t *t)
{
    if (strcmp(t->kind, "video") != 0 || !t->ssrc || !t->owner->up)
        return;
    int64_t now = g_get_monotonic_time();
    if (t->last_keyframe_request_us && now - t->last_keyframe_request_us < KEYFRAME_REQUEST_MIN_US)
        return;
    t->last_keyframe_request_us = now;
    uint8_t pkt[12 + SFU_SRTP_TRAILER];
    pkt[0] = 0x81; /* V=2, FMT=1 (PLI) */
    pkt[1] = 206;  /* PSFB */
    pkt[2] = 0;
    pkt[3] = 2;
    put32(pkt + 4, 1); /* sender SSRC: the SFU's (any fixed value; it sends no media to this peer) */
    put32(pkt + 8, t->ssrc);
    if (peer_send_rtcp(t->owner->peer, pkt, 12) == 0)
        sfu_counters.plis_sent++;
}

/* ---- forwarding --------------------------------------------------------------------------------- */

/* The RTP header's extension words, for the audio level (RFC 6464, one-byte header RFC 8285). Returns the
 * level (0..127 -dBov) with voice flag, or -1. */
static int audio_level(const uint8_t *buf, size_t len, int id)
{
    if (!id || !(buf[0] & 0x10))
        return -1;
    size_t at = 12 + 4u * (buf[0] & 0x0f);
    if (at + 4 > len)
        return -1;
    if (buf[at] != 0xbe || buf[at + 1] != 0xde)
        return -1;
    size_t words = (size_t)buf[at + 2] << 8 | buf[at + 3];
    size_t p = at + 4, end = p + 4 * words;
    if (end > len)
        return -1;
    while (p < end) {
        uint8_t b = buf[p];
        if (b == 0) {
            p++;
            continue;
        }
        int eid = b >> 4, elen = (b & 0x0f) + 1;
        if (eid == 15 || p + 1 + (size_t)elen > end)
            return -1;
        if (eid == id)
            return buf[p + 1];
        p += 1 + (size_t)elen;
    }
    return -1;
}

static void forward(track_t *t, const uint8_t *buf, size_t len)
{
    uint8_t out[1500 + SFU_SRTP_TRAILER];
    if (len > 1500)
        return;
    for (guint i = 0; i < t->legs->len; i++) {
        leg_t *l = t->legs->pdata[i];
        if (!l->sub->up || l->sub->closing)
            continue;
        memcpy(out, buf, len);
        out[1] = (uint8_t)((out[1] & 0x80) | (t->out_pt & 0x7f));
        put32(out + 8, l->out_ssrc);
        if (peer_send_rtp(l->sub->peer, out, len) == 0) {
            sfu_counters.forwarded_packets++;
            sfu_counters.forwarded_bytes += len;
        }
    }
}

static void on_rtp(void *ctx, uint8_t *buf, size_t len)
{
    part_t *p = ctx;
    if (p->closing)
        return;
    sfu_counters.rtp_in++;
    sfu_counters.rtp_in_bytes += len;
    uint32_t ssrc = get32(buf + 8);
    track_t *t = track_by_ssrc(p, ssrc);
    if (!t) {
        sfu_counters.bad_packets++;
        return;
    }
    if (ssrc == t->rtx_ssrc)
        return; /* retransmissions to us: we do not NACK publishers yet, so nothing waits for them */
    if ((buf[1] & 0x7f) != t->pt)
        return; /* another codec of the section (e.g. FEC, CN): not forwarded */
    if (t->audio_level_id) {
        int lvl = audio_level(buf, len, t->audio_level_id);
        if (lvl >= 0 && (lvl & 0x80)) {
            t->level_sum += 127 - (lvl & 0x7f);
            t->level_count++;
        }
    }
    forward(t, buf, len);
}

static leg_t *leg_by_out_ssrc(part_t *sub, uint32_t ssrc)
{
    for (size_t i = 0; i < sub->nslots; i++) {
        slot_t *sl = sub->slots[i];
        if (sl->role == SLOT_SEND && sl->leg && sl->leg->out_ssrc == ssrc)
            return sl->leg;
    }
    return NULL;
}

/* A subscriber's RTCP: keyframe requests go to the publisher; NACKs are counted (the retransmission
 * buffer is the packet-plane's, to come). */
static void on_rtcp(void *ctx, uint8_t *buf, size_t len)
{
    part_t *p = ctx;
    size_t at = 0;
    while (at + 4 <= len) {
        uint8_t fmt = buf[at] & 0x1f, pt = buf[at + 1];
        size_t plen = 4 * ((size_t)(buf[at + 2] << 8 | buf[at + 3]) + 1);
        if (at + plen > len || (buf[at] >> 6) != 2) {
            sfu_counters.bad_packets++;
            return;
        }
        if (pt == 206 && plen >= 12 && (fmt == 1 || fmt == 4)) {
            uint32_t media = fmt == 1 ? get32(buf + at + 8) : plen >= 16 ? get32(buf + at + 12) : 0;
            if (fmt == 1)
                sfu_counters.plis_received++;
            else
                sfu_counters.firs_received++;
            leg_t *l = leg_by_out_ssrc(p, media);
            if (l)
                request_keyframe(l->track);
        } else if (pt == 205 && fmt == 1) {
            sfu_counters.nacks_received++;
        }
        at += plen;
    }
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
    for (size_t i = 0; i < p->nslots; i++)
        g_free(p->slots[i]);
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
        if (p->slots[i]->leg)
            request_keyframe(p->slots[i]->leg->track);
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

static void codec_for_subscriber(const track_t *t, sdp_media_t *m)
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
    sdp_add_codec(m, &c);
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
        codec_for_subscriber(l->track, m);
        m->dir = SDP_SENDONLY;
        g_strlcpy(m->msid, l->msid, sizeof m->msid);
        sdp_ssrc_t *x = &m->ssrcs[m->nssrcs++];
        x->ssrc = l->out_ssrc;
        g_strlcpy(x->cname, l->track->owner->pid, sizeof x->cname);
        g_strlcpy(x->msid, l->msid, sizeof x->msid);
    } else {
        /* An idle slot keeps a codec so that the section stays valid; it carries nothing. */
        track_t dummy = {.out_pt = !strcmp(sl->kind, "audio") ? PT_OPUS : PT_VP8};
        g_strlcpy(dummy.kind, sl->kind, sizeof dummy.kind);
        g_strlcpy(dummy.codec, !strcmp(sl->kind, "audio") ? "opus" : "VP8", sizeof dummy.codec);
        if (!strcmp(sl->kind, "audio"))
            g_strlcpy(dummy.fmtp, "minptime=10;useinbandfec=1", sizeof dummy.fmtp);
        codec_for_subscriber(&dummy, m);
        m->dir = SDP_INACTIVE;
    }
    (void)p;
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
    if (lvl) {
        m->extmaps[m->nextmaps].id = lvl;
        g_strlcpy(m->extmaps[m->nextmaps++].uri, EXT_AUDIO_LEVEL, sizeof m->extmaps[0].uri);
    }
    if (mid) {
        m->extmaps[m->nextmaps].id = mid;
        g_strlcpy(m->extmaps[m->nextmaps++].uri, EXT_MID, sizeof m->extmaps[0].uri);
    }
    m->dir = sends ? SDP_RECVONLY : SDP_INACTIVE;
    uint32_t ssrc = om->fid_primary ? om->fid_primary : om->nssrcs ? om->ssrcs[0].ssrc : 0;
    if (sends && ssrc && !sl->track) {
        track_t *t = g_new0(track_t, 1);
        t->owner = p;
        t->legs = g_ptr_array_new();
        g_strlcpy(t->mid, om->mid, sizeof t->mid);
        g_strlcpy(t->kind, om->kind, sizeof t->kind);
        g_strlcpy(t->label, !strcmp(om->kind, "audio") ? "mic" : "camera", sizeof t->label);
        for (size_t i = 0; i < nlabels; i++)
            if (!strcmp(labels[i].mid, om->mid))
                g_strlcpy(t->label, labels[i].label, sizeof t->label);
        g_strlcpy(t->codec, c->name, sizeof t->codec);
        g_strlcpy(t->fmtp, c->fmtp, sizeof t->fmtp);
        t->pt = c->pt;
        t->out_pt = !strcasecmp(c->name, "opus") ? PT_OPUS : !strcasecmp(c->name, "VP8") ? PT_VP8 : PT_H264;
        t->ssrc = ssrc;
        t->rtx_ssrc = om->fid_primary ? om->fid_rtx : 0;
        t->audio_level_id = lvl;
        sl->track = t;
        g_ptr_array_add(p->tracks, t);
        *tracks_changed = 1;
        log_info("participant %s publishes %s (%s %s, ssrc %u)", p->pid, t->label, t->kind, t->codec, t->ssrc);
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
            l->out_ssrc = random_ssrc();
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
                codec_for_subscriber(&d, m);
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
                m->dir = SDP_RECVONLY;
            } else {
                track_t d = {.out_pt = !strcmp(sl->kind, "audio") ? PT_OPUS : PT_VP8};
                g_strlcpy(d.kind, sl->kind, sizeof d.kind);
                g_strlcpy(d.codec, !strcmp(sl->kind, "audio") ? "opus" : "VP8", sizeof d.codec);
                codec_for_subscriber(&d, m);
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
    s->ev.offer(s->ev.ctx, p->node, p->room->id, p->pid, text, info, ninfo);
    free(text);
}

/* Sends an offer when the slots must change, unless one is outstanding (then after its answer). */
static void renegotiate(part_t *p)
{
    if (p->closing)
        return;
    if (sync_subscriptions(p))
        p->need_offer = 1;
    if (!p->need_offer || p->offer_pending)
        return;
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
        r->id = g_strdup(room);
        r->parts = g_ptr_array_new();
        g_hash_table_insert(s->rooms, r->id, r);
    }
    p->room = r;
    g_ptr_array_add(r->parts, p);
    p->ice_timer = g_timeout_add(s->p.ice_timeout_ms, on_ice_timeout, p);
    sfu_counters.joins++;
    log_info("participant %s (user %s, node %s) joins room %s", pid, user, node, room);
    return p;
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
    s->ev.ok(s->ev.ctx, p->node, tx, room, pid);
    sdp_free(ans);
    if (p->up)
        for (size_t i = 0; i < p->nslots; i++)
            if (p->slots[i]->leg)
                request_keyframe(p->slots[i]->leg->track);
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

/* Every SPEAKER_TICK_MS: the loudest voiced microphone of each room becomes its speaker when it changes. */
static gboolean on_speaker_tick(gpointer data)
{
    sfu_t *s = data;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        room_t *r = v;
        part_t *best = NULL;
        int best_level = 0;
        for (guint i = 0; i < r->parts->len; i++) {
            part_t *p = r->parts->pdata[i];
            for (guint j = 0; j < p->tracks->len; j++) {
                track_t *t = p->tracks->pdata[j];
                /* Enough voiced packets in the window (20 ms each) to be speech, not a click. */
                if (t->level_count >= 5) {
                    int avg = t->level_sum / t->level_count;
                    if (avg > best_level) {
                        best_level = avg;
                        best = p;
                    }
                }
                t->level_sum = t->level_count = 0;
            }
        }
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
    g_source_remove(s->speaker_timer);
    g_source_remove(s->media_timer);
    g_hash_table_destroy(s->rooms);
    g_strfreev(s->addresses);
    g_free(s);
}

/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

sfu_counters_t sfu_counters;

typedef struct {
    char *buf;
    size_t len, at;
} out_t;

/* Advances past what snprintf wrote (n), or to the end when it did not fit. */
static void append(out_t *o, int n)
{
    if (n > 0)
        o->at += (size_t)n < o->len - o->at ? (size_t)n : o->len - o->at - 1;
}

static void put(out_t *o, const char *name, const char *type, const char *help, uint64_t v)
{
    if (o->at >= o->len)
        return;
    append(o, snprintf(o->buf + o->at, o->len - o->at, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name,
                       help, name, type, name, v));
}

/* The reason label of each sfu_drop_t. */
static const char *const drop_names[SFU_DROP_REASONS] = {
    [SFU_DROP_UNKNOWN] = "unknown_protocol", [SFU_DROP_SHORT] = "truncated",
    [SFU_DROP_NO_KEYS] = "before_keys",     [SFU_DROP_SRTP] = "srtp",
    [SFU_DROP_PEER_DOWN] = "peer_down",     [SFU_DROP_BAD_RTP] = "bad_rtp",
    [SFU_DROP_UNKNOWN_SSRC] = "unknown_ssrc",
};

/* One counter family with a line per drop reason (every reason, zeros too: a rate needs the series). */
static void put_dropped(out_t *o, const uint64_t *v)
{
    const char *name = "staffroom_sfu_dropped_datagrams_total";
    if (o->at >= o->len)
        return;
    append(o, snprintf(o->buf + o->at, o->len - o->at,
                       "# HELP %s datagrams reaching a participant's media socket that were dropped, by reason\n"
                       "# TYPE %s counter\n", name, name));
    for (int i = 0; i < SFU_DROP_REASONS && o->at < o->len; i++)
        append(o, snprintf(o->buf + o->at, o->len - o->at, "%s{reason=\"%s\"} %" PRIu64 "\n", name, drop_names[i], v[i]));
}

size_t metrics_render(const sfu_gauges_t *g, char *buf, size_t len)
{
    out_t o = {buf, len, 0};
    const sfu_counters_t *c = &sfu_counters;
    if (len)
        buf[0] = 0;
#define G(name, v, help) put(&o, "staffroom_sfu_" name, "gauge", help, (v))
#define C(name, v, help) put(&o, "staffroom_sfu_" name "_total", "counter", help, (v))
    G("participants", g->participants, "participants on this SFU");
    G("rooms", g->rooms, "rooms with at least one participant");
    G("tracks", g->tracks, "published tracks");
    G("legs", g->legs, "subscriber legs (one per track and subscriber)");
    G("redis_up", (uint64_t)g->redis_up, "1 while both Redis connections are up");
    G("draining", (uint64_t)g->draining, "1 while draining after SIGTERM");
    C("commands", c->commands, "commands received");
    C("bad_commands", c->bad_commands, "commands refused: not JSON, unknown op, missing fields");
    C("bad_sdp", c->bad_sdp, "offers and answers refused with bad_sdp");
    C("bad_candidates", c->bad_candidates, "trickled candidates that did not parse");
    C("glare", c->glare, "offers refused with glare");
    C("joins", c->joins, "participants admitted");
    C("leaves", c->leaves, "participants that left");
    C("gone", c->gone, "participants dropped by the SFU");
    C("ice_failures", c->ice_failures, "ICE failures and timeouts");
    C("dtls_failures", c->dtls_failures, "DTLS handshakes failed");
    C("fingerprint_mismatches", c->fingerprint_mismatches, "DTLS peers whose certificate did not match a=fingerprint");
    C("srtp_failures", c->srtp_failures, "SRTP/SRTCP packets that failed to unprotect");
    C("bad_packets", c->bad_packets, "datagrams dropped as malformed");
    put_dropped(&o, c->dropped);
    C("rtp_received", c->rtp_in, "RTP packets received from publishers");
    C("rtp_received_bytes", c->rtp_in_bytes, "RTP bytes received from publishers");
    C("forwarded_packets", c->forwarded_packets, "RTP packets sent to subscribers");
    C("forwarded_bytes", c->forwarded_bytes, "RTP bytes sent to subscribers");
    C("send_drops", c->send_drops, "datagrams dropped because the kernel refused to send them");
    C("nacks", c->nacks_received, "NACK feedback messages received from subscribers");
    C("retransmissions", c->retransmissions, "packets resent from the retransmission buffer");
    C("nack_misses", c->nack_misses, "NACKed packets no longer held in the retransmission buffer");
    C("retransmissions_refused", c->retransmissions_refused,
      "NACK answers cut short because the subscriber's retransmission budget (a share of its estimate) was spent");
    C("keyframe_requests", c->keyframe_requests, "keyframes wanted by subscribers (PLI, FIR, new leg) before throttling");
    C("layer_switches", c->layer_switches, "subscriber legs switched to another simulcast layer");
    C("twcc_feedbacks", c->twcc_feedbacks, "transport-cc feedback messages received from subscribers");
    C("bad_rtcp", c->bad_rtcp, "RTCP packets that decrypted but did not parse");
    C("plis", c->plis_sent, "keyframe requests sent to publishers");
    C("plis_received", c->plis_received, "PLIs received from subscribers");
    C("firs_received", c->firs_received, "FIRs received from subscribers");
    C("sender_reports", c->sender_reports, "RTCP sender reports sent");
    C("receiver_reports", c->receiver_reports, "RTCP receiver reports sent");
    C("speaker_changes", c->speaker_changes, "active speaker changes");
    C("renegotiations", c->renegotiations, "offers sent by the SFU");
    C("redis_reconnects", c->redis_reconnects, "Redis reconnections");
#undef G
#undef C
    return o.at;
}

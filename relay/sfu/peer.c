/* peer.c — see peer.h. */
#include "peer.h"

#include <glib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "srtp.h"

struct peer {
    ice_t *ice;
    dtls_t *dtls;
    sfu_srtp_t *srtp;
    peer_callbacks_t cb;
    int down;
    int64_t last_media_us;
    uint64_t srtp_failures;
};

static void go_down(peer_t *p, peer_down_t why, const char *detail)
{
    if (p->down)
        return;
    p->down = 1;
    p->cb.down(p->cb.ctx, why, detail);
}

/* RFC 7983 §7 demultiplexing of what libnice hands up (it keeps STUN, and drops datagrams from outside
 * the participant's candidate pairs). Whatever is not DTLS or SRTP/SRTCP that unprotects is dropped here
 * and counted by reason (metrics.h): a flood of garbage costs a few compares per datagram, no log line. */
static void on_ice_recv(void *ctx, uint8_t *buf, size_t len)
{
    peer_t *p = ctx;
    if (p->down) {
        sfu_counters.dropped[SFU_DROP_PEER_DOWN]++;
        return;
    }
    uint8_t b = len ? buf[0] : 0;
    if (len && b >= 20 && b <= 63) {
        if (p->dtls)
            dtls_input(p->dtls, buf, len);
        return;
    }
    if (!len || b < 128 || b > 191) {
        sfu_counters.bad_packets++;
        sfu_counters.dropped[SFU_DROP_UNKNOWN]++;
        return;
    }
    if (len < 12) {
        sfu_counters.bad_packets++;
        sfu_counters.dropped[SFU_DROP_SHORT]++;
        return;
    }
    if (!p->srtp) {
        sfu_counters.dropped[SFU_DROP_NO_KEYS]++; /* nothing to decrypt it with until the handshake ends */
        return;
    }
    uint8_t pt = buf[1];
    int rtcp = pt >= 192 && pt <= 223; /* RFC 5761 §4: RTCP packet types 200–207 as the second byte */
    int rc = rtcp ? sfu_srtp_unprotect_rtcp(p->srtp, buf, &len) : sfu_srtp_unprotect_rtp(p->srtp, buf, &len);
    if (rc < 0) {
        sfu_counters.srtp_failures++;
        sfu_counters.dropped[SFU_DROP_SRTP]++;
        if (p->srtp_failures++ % 1000 == 0)
            log_warn("peer: SRTP%s unprotect failed (%llu so far)", rtcp ? "CP" : "",
                     (unsigned long long)p->srtp_failures);
        return;
    }
    p->last_media_us = g_get_monotonic_time();
    if (rtcp)
        p->cb.rtcp(p->cb.ctx, buf, len);
    else
        p->cb.rtp(p->cb.ctx, buf, len);
}

static void on_ice_candidate(void *ctx, const char *line)
{
    peer_t *p = ctx;
    p->cb.candidate(p->cb.ctx, line);
}

static void on_ice_state(void *ctx, ice_state_t s)
{
    peer_t *p = ctx;
    if (s == ICE_FAILED) {
        sfu_counters.ice_failures++;
        go_down(p, PEER_DOWN_ICE, "ICE failed");
    }
}

static void on_dtls_send(void *ctx, const uint8_t *buf, size_t len)
{
    peer_t *p = ctx;
    ice_send(p->ice, buf, len);
}

static void on_dtls_connected(void *ctx, const dtls_srtp_keys_t *keys)
{
    peer_t *p = ctx;
    p->srtp = sfu_srtp_new(keys);
    if (!p->srtp) {
        sfu_counters.dtls_failures++;
        go_down(p, PEER_DOWN_DTLS, "SRTP session setup failed");
        return;
    }
    p->last_media_us = g_get_monotonic_time();
    p->cb.up(p->cb.ctx);
}

static void on_dtls_failed(void *ctx, const char *reason, int mismatch)
{
    peer_t *p = ctx;
    if (mismatch)
        sfu_counters.fingerprint_mismatches++;
    else
        sfu_counters.dtls_failures++;
    go_down(p, mismatch ? PEER_DOWN_FINGERPRINT : PEER_DOWN_DTLS, reason);
}

peer_t *peer_new(const peer_params_t *prm, const peer_callbacks_t *cb)
{
    peer_t *p = g_new0(peer_t, 1);
    p->cb = *cb;
    ice_callbacks_t icb = {.recv = on_ice_recv, .candidate = on_ice_candidate, .state = on_ice_state, .ctx = p};
    p->ice = ice_new(prm->ice, &icb);
    if (!p->ice) {
        g_free(p);
        return NULL;
    }
    dtls_callbacks_t dcb = {.send = on_dtls_send, .connected = on_dtls_connected, .failed = on_dtls_failed, .ctx = p};
    /* As DTLS server we wait for the browser's ClientHello, which it sends once ICE is up. */
    p->dtls = dtls_new(prm->dtls, prm->dtls_server, prm->remote_fingerprint, &dcb);
    if (!p->dtls) {
        peer_free(p);
        return NULL;
    }
    return p;
}

ice_t *peer_ice(peer_t *p) { return p->ice; }
int peer_is_up(const peer_t *p) { return p->srtp && !p->down; }
int64_t peer_last_media_us(const peer_t *p) { return p->last_media_us; }

int peer_send_rtp(peer_t *p, uint8_t *buf, size_t len)
{
    if (!peer_is_up(p) || sfu_srtp_protect_rtp(p->srtp, buf, &len) < 0)
        return -1;
    return ice_send(p->ice, buf, len);
}

int peer_send_rtcp(peer_t *p, uint8_t *buf, size_t len)
{
    if (!peer_is_up(p) || sfu_srtp_protect_rtcp(p->srtp, buf, &len) < 0)
        return -1;
    return ice_send(p->ice, buf, len);
}

void peer_free(peer_t *p)
{
    if (!p)
        return;
    ice_free(p->ice);
    dtls_free(p->dtls);
    sfu_srtp_free(p->srtp);
    g_free(p);
}

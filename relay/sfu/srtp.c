/* srtp.c — see srtp.h. */
#include "srtp.h"

#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define REPLAY_WINDOW 1024
/* Outbound RTP gets one libsrtp session per SSRC, up to this many per participant (a room of 25 sends a
 * subscriber 24 publishers' audio, video and their RTX). libsrtp finds a packet's stream by walking its
 * session's list of streams, which with one ssrc_any_outbound session per subscriber costs a few cache
 * misses per stream on every packet; a session per SSRC has one stream, found at once, and this table of
 * plain integers is cheap to scan. SSRCs beyond it share the `out` session. */
#define OUT_SESSIONS_MAX 128

typedef struct {
    uint32_t ssrc;
    srtp_t s;
} out_session_t;

struct sfu_srtp {
    srtp_t in, out; /* out: RTCP, and RTP of SSRCs beyond the table */
    dtls_srtp_keys_t keys; /* to key each new SSRC's session (wiped on free) */
    out_session_t rtp_out[OUT_SESSIONS_MAX];
    size_t nrtp_out;
    size_t last; /* the entry used last: a burst of packets of one stream finds it first */
};

int sfu_srtp_init(void) { return srtp_init() == srtp_err_status_ok ? 0 : -1; }
void sfu_srtp_deinit(void) { srtp_shutdown(); }

/* inbound: ssrc_any_inbound; else ssrc 0: ssrc_any_outbound, other: that SSRC only. */
static int session(srtp_t *s, const dtls_srtp_keys_t *k, const uint8_t *key, int inbound, uint32_t ssrc)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (k->profile == DTLS_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
    }
    p.ssrc.type = inbound ? ssrc_any_inbound : ssrc ? ssrc_specific : ssrc_any_outbound;
    p.ssrc.value = ssrc;
    p.key = (unsigned char *)key;
    p.window_size = REPLAY_WINDOW;
    /* Retransmissions from our NACK buffer are new packets to libsrtp (fresh protect), but a browser may
     * resend an identical SRTP packet; with this off, those are replay errors and dropped. */
    p.allow_repeat_tx = 1;
    p.next = NULL;
    return srtp_create(s, &p) == srtp_err_status_ok ? 0 : -1;
}

sfu_srtp_t *sfu_srtp_new(const dtls_srtp_keys_t *keys)
{
    sfu_srtp_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (session(&s->in, keys, keys->remote, 1, 0) < 0 || session(&s->out, keys, keys->local, 0, 0) < 0) {
        sfu_srtp_free(s);
        return NULL;
    }
    s->keys = *keys;
    return s;
}

void sfu_srtp_free(sfu_srtp_t *s)
{
    if (!s)
        return;
    if (s->in)
        srtp_dealloc(s->in);
    if (s->out)
        srtp_dealloc(s->out);
    for (size_t i = 0; i < s->nrtp_out; i++)
        srtp_dealloc(s->rtp_out[i].s);
    explicit_bzero(&s->keys, sizeof s->keys);
    free(s);
}

int sfu_srtp_unprotect_rtp(sfu_srtp_t *s, uint8_t *buf, size_t *len)
{
    int n = (int)*len;
    if (srtp_unprotect(s->in, buf, &n) != srtp_err_status_ok)
        return -1;
    *len = (size_t)n;
    return 0;
}

int sfu_srtp_unprotect_rtcp(sfu_srtp_t *s, uint8_t *buf, size_t *len)
{
    int n = (int)*len;
    if (srtp_unprotect_rtcp(s->in, buf, &n) != srtp_err_status_ok)
        return -1;
    *len = (size_t)n;
    return 0;
}

/* The session that protects RTP of ssrc: its own, made on its first packet, or `out` once the table is
 * full; NULL if it cannot be made (the packet is dropped). An SSRC keeps the session it got first: the
 * table only grows, so an SSRC missing from it has never been sent while it had room. */
static srtp_t rtp_session(sfu_srtp_t *s, uint32_t ssrc)
{
    if (s->last < s->nrtp_out && s->rtp_out[s->last].ssrc == ssrc)
        return s->rtp_out[s->last].s;
    for (size_t i = 0; i < s->nrtp_out; i++)
        if (s->rtp_out[i].ssrc == ssrc) {
            s->last = i;
            return s->rtp_out[i].s;
        }
    if (s->nrtp_out == OUT_SESSIONS_MAX || ssrc == 0)
        return s->out;
    srtp_t n = NULL;
    if (session(&n, &s->keys, s->keys.local, 0, ssrc) < 0)
        return NULL;
    s->rtp_out[s->nrtp_out] = (out_session_t){.ssrc = ssrc, .s = n};
    s->last = s->nrtp_out++;
    return n;
}

int sfu_srtp_protect_rtp(sfu_srtp_t *s, uint8_t *buf, size_t *len)
{
    int n = (int)*len;
    if (n < 12)
        return -1;
    uint32_t ssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    srtp_t session_for_ssrc = rtp_session(s, ssrc);
    if (!session_for_ssrc || srtp_protect(session_for_ssrc, buf, &n) != srtp_err_status_ok)
        return -1;
    *len = (size_t)n;
    return 0;
}

int sfu_srtp_protect_rtcp(sfu_srtp_t *s, uint8_t *buf, size_t *len)
{
    int n = (int)*len;
    if (srtp_protect_rtcp(s->out, buf, &n) != srtp_err_status_ok)
        return -1;
    *len = (size_t)n;
    return 0;
}

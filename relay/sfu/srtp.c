/* srtp.c — see srtp.h. */
#include "srtp.h"

#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define REPLAY_WINDOW 1024

struct sfu_srtp {
    srtp_t in, out;
};

int sfu_srtp_init(void) { return srtp_init() == srtp_err_status_ok ? 0 : -1; }
void sfu_srtp_deinit(void) { srtp_shutdown(); }

static int session(srtp_t *s, const dtls_srtp_keys_t *k, const uint8_t *key, int inbound)
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
    p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
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
    if (session(&s->in, keys, keys->remote, 1) < 0 || session(&s->out, keys, keys->local, 0) < 0) {
        sfu_srtp_free(s);
        return NULL;
    }
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

int sfu_srtp_protect_rtp(sfu_srtp_t *s, uint8_t *buf, size_t *len)
{
    int n = (int)*len;
    if (srtp_protect(s->out, buf, &n) != srtp_err_status_ok)
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

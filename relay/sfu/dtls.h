/* dtls.h — DTLS 1.2 for DTLS-SRTP (RFC 5764) on OpenSSL 3: the only file that includes OpenSSL's SSL API.
 *
 * Owns: the process's SSL_CTX and certificate (loaded, or an ECDSA P-256 self-signed one generated at
 * start) and its SHA-256 fingerprint; per participant an SSL with memory BIOs, an MTU of 1200, the
 * retransmission timer while the handshake runs, the check of the peer's certificate against the SDP's
 * a=fingerprint, and the export of the SRTP keying material.
 * Must not: send datagrams itself (the send callback does) or know SRTP sessions.
 */
#ifndef STAFFROOM_SFU_DTLS_H
#define STAFFROOM_SFU_DTLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct dtls_ctx dtls_ctx_t;
typedef struct dtls dtls_t;

typedef enum { DTLS_SRTP_AES128_CM_SHA1_80 = 1, DTLS_SRTP_AEAD_AES_128_GCM = 2 } dtls_srtp_profile_t;

/* Keying material in the order libsrtp wants it: key then salt. local = what this side protects with. */
typedef struct {
    dtls_srtp_profile_t profile;
    uint8_t local[64], remote[64];
    size_t len; /* key + salt bytes in each */
} dtls_srtp_keys_t;

typedef struct {
    void (*send)(void *ctx, const uint8_t *buf, size_t len);
    void (*connected)(void *ctx, const dtls_srtp_keys_t *keys);
    /* fingerprint_mismatch: 1 when the handshake worked but the certificate is not the SDP's. */
    void (*failed)(void *ctx, const char *reason, int fingerprint_mismatch);
    void *ctx;
} dtls_callbacks_t;

/* cert_file/key_file NULL or "": generate. NULL with err filled on failure. */
dtls_ctx_t *dtls_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* "AB:CD:…" (borrowed). */
const char *dtls_ctx_fingerprint(const dtls_ctx_t *ctx);
void dtls_ctx_free(dtls_ctx_t *ctx);

/* A DTLS endpoint; server = 1 waits for the ClientHello, 0 sends one at once. expected_fingerprint is
 * the peer's sha-256 from its SDP (copied). NULL when out of memory. */
dtls_t *dtls_new(dtls_ctx_t *ctx, int server, const char *expected_fingerprint, const dtls_callbacks_t *cb);
/* A datagram whose first byte is 20..63. Callbacks may run from inside. */
void dtls_input(dtls_t *d, const uint8_t *buf, size_t len);
/* 1 once the handshake is done and the fingerprint matched. */
int dtls_connected(const dtls_t *d);
/* No callback after this. NULL is fine. */
void dtls_free(dtls_t *d);

/* Normalises a fingerprint for comparison (upper case hex with colons); 0, or -1 if it is not one. */
int dtls_fingerprint_normalise(const char *in, char *out, size_t outlen);

#endif

/* dtls.c — see dtls.h. */
#include "dtls.h"

#include <ctype.h>
#include <glib.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define DTLS_MTU 1200
#define DTLS_TICK_MS 50        /* handshake timer resolution (DTLSv1_handle_timeout decides what is due) */
#define DTLS_HANDSHAKE_MS 15000 /* give up after this */

struct dtls_ctx {
    SSL_CTX *ssl_ctx;
    char fingerprint[160];
};

struct dtls {
    dtls_ctx_t *ctx;
    SSL *ssl;
    BIO *in, *out;
    dtls_callbacks_t cb;
    char expected[160];
    guint timer;
    gint64 deadline_us;
    int done, dead;
};

static int fingerprint_of(X509 *cert, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!X509_digest(cert, EVP_sha256(), md, &n) || outlen < n * 3)
        return -1;
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
    return 0;
}

int dtls_fingerprint_normalise(const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in);
    if (n + 1 > outlen || n == 0)
        return -1;
    for (size_t i = 0; i <= n; i++) {
        char c = in[i];
        if (c && c != ':' && !isxdigit((unsigned char)c))
            return -1;
        out[i] = (char)toupper((unsigned char)c);
    }
    return 0;
}

/* The browser's certificate is self-signed: accept it here, check its digest against the SDP after the
 * handshake (RFC 8122 §5). */
static int verify_any(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

static int generate_cert(SSL_CTX *ctx, char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    X509_NAME *name = NULL;
    int rc = -1;
    if (!key || !cert)
        goto out;
    unsigned char serial[8];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_set_version(cert, 2);
    /* A day in the past to tolerate clock skew; a month ahead (a process that runs longer restarts). */
    X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
    X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 86400);
    X509_set_pubkey(cert, key);
    name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"staffroom-sfu", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    if (!X509_sign(cert, key, EVP_sha256()))
        goto out;
    if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        snprintf(err, errlen, "cannot generate the DTLS certificate");
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

dtls_ctx_t *dtls_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    dtls_ctx_t *c = g_new0(dtls_ctx_t, 1);
    c->ssl_ctx = SSL_CTX_new(DTLS_method());
    if (!c->ssl_ctx)
        goto fail;
    SSL_CTX_set_min_proto_version(c->ssl_ctx, DTLS1_2_VERSION);
    SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_any);
    SSL_CTX_set_read_ahead(c->ssl_ctx, 1);
    /* An SSL's read and write buffers (some 34 KiB together) are needed only while records pass: after
     * the handshake one is read rarely (an alert, a retransmitted flight), so they go back to the heap
     * between records instead of staying with every participant. */
    SSL_CTX_set_mode(c->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
    /* AES-GCM first: cheaper per packet, and Chromium offers it. */
    if (SSL_CTX_set_tlsext_use_srtp(c->ssl_ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0) {
        snprintf(err, errlen, "OpenSSL refuses the DTLS-SRTP profiles");
        goto fail_quiet;
    }
    if (SSL_CTX_set1_groups_list(c->ssl_ctx, "P-256:X25519") != 1)
        goto fail;
    if (cert_file && *cert_file) {
        if (SSL_CTX_use_certificate_chain_file(c->ssl_ctx, cert_file) != 1 ||
            SSL_CTX_use_PrivateKey_file(c->ssl_ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(c->ssl_ctx) != 1) {
            snprintf(err, errlen, "dtls-cert-file/dtls-key-file: cannot load (%s)", ERR_reason_error_string(ERR_get_error()));
            goto fail_quiet;
        }
    } else if (generate_cert(c->ssl_ctx, err, errlen) < 0) {
        goto fail_quiet;
    }
    if (fingerprint_of(SSL_CTX_get0_certificate(c->ssl_ctx), c->fingerprint, sizeof c->fingerprint) < 0)
        goto fail;
    return c;
fail:
    snprintf(err, errlen, "OpenSSL: %s", ERR_reason_error_string(ERR_get_error()));
fail_quiet:
    dtls_ctx_free(c);
    return NULL;
}

const char *dtls_ctx_fingerprint(const dtls_ctx_t *ctx) { return ctx->fingerprint; }

void dtls_ctx_free(dtls_ctx_t *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    g_free(ctx);
}

/* Sends what OpenSSL wrote into the output BIO, one record flight per datagram as written. */
static void flush(dtls_t *d)
{
    char *data;
    long n = BIO_get_mem_data(d->out, &data);
    if (n > 0)
        d->cb.send(d->cb.ctx, (const uint8_t *)data, (size_t)n);
    (void)BIO_reset(d->out);
}

static void fail(dtls_t *d, const char *reason, int mismatch)
{
    if (d->dead)
        return;
    d->dead = 1;
    if (d->timer) {
        g_source_remove(d->timer);
        d->timer = 0;
    }
    d->cb.failed(d->cb.ctx, reason, mismatch);
}

static void finished(dtls_t *d)
{
    X509 *peer = SSL_get1_peer_certificate(d->ssl);
    char fp[160];
    int ok = peer && fingerprint_of(peer, fp, sizeof fp) == 0 && strcmp(fp, d->expected) == 0;
    X509_free(peer);
    if (!ok) {
        fail(d, "certificate does not match a=fingerprint", 1);
        return;
    }
    SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
    dtls_srtp_keys_t k = {0};
    size_t key_len = 16, salt_len;
    if (p && p->id == SRTP_AEAD_AES_128_GCM) {
        k.profile = DTLS_SRTP_AEAD_AES_128_GCM;
        salt_len = 12;
    } else if (p && p->id == SRTP_AES128_CM_SHA1_80) {
        k.profile = DTLS_SRTP_AES128_CM_SHA1_80;
        salt_len = 14;
    } else {
        fail(d, "no SRTP profile negotiated", 0);
        return;
    }
    /* RFC 5764 §4.2: client key, server key, client salt, server salt. */
    uint8_t mat[2 * (16 + 14)];
    size_t total = 2 * (key_len + salt_len);
    if (SSL_export_keying_material(d->ssl, mat, total, "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1) {
        fail(d, "keying material export failed", 0);
        return;
    }
    const uint8_t *ckey = mat, *skey = mat + key_len, *csalt = mat + 2 * key_len, *ssalt = csalt + salt_len;
    int server = SSL_is_server(d->ssl);
    memcpy(k.local, server ? skey : ckey, key_len);
    memcpy(k.local + key_len, server ? ssalt : csalt, salt_len);
    memcpy(k.remote, server ? ckey : skey, key_len);
    memcpy(k.remote + key_len, server ? csalt : ssalt, salt_len);
    k.len = key_len + salt_len;
    d->done = 1;
    if (d->timer) {
        g_source_remove(d->timer);
        d->timer = 0;
    }
    OPENSSL_cleanse(mat, sizeof mat);
    /* RELEASE_BUFFERS frees the record buffers after an SSL_read, not after the handshake: free them
     * now (it declines while a record is pending; then the next read frees them). */
    (void)SSL_free_buffers(d->ssl);
    d->cb.connected(d->cb.ctx, &k);
    OPENSSL_cleanse(&k, sizeof k);
}

static void step(dtls_t *d)
{
    ERR_clear_error();
    int r = SSL_do_handshake(d->ssl);
    flush(d);
    if (r == 1) {
        finished(d);
        return;
    }
    int e = SSL_get_error(d->ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        char why[200];
        snprintf(why, sizeof why, "handshake failed: %s", ERR_reason_error_string(ERR_peek_last_error()) ?: "closed");
        fail(d, why, 0);
    }
}

static gboolean on_tick(gpointer data)
{
    dtls_t *d = data;
    if (g_get_monotonic_time() > d->deadline_us) {
        d->timer = 0;
        fail(d, "handshake timed out", 0);
        return G_SOURCE_REMOVE;
    }
    if (DTLSv1_handle_timeout(d->ssl) > 0)
        flush(d);
    return G_SOURCE_CONTINUE;
}

dtls_t *dtls_new(dtls_ctx_t *ctx, int server, const char *expected_fingerprint, const dtls_callbacks_t *cb)
{
    dtls_t *d = g_new0(dtls_t, 1);
    d->ctx = ctx;
    d->cb = *cb;
    if (dtls_fingerprint_normalise(expected_fingerprint, d->expected, sizeof d->expected) < 0)
        d->expected[0] = 0; /* matches nothing: the handshake then fails as a mismatch */
    d->ssl = SSL_new(ctx->ssl_ctx);
    d->in = BIO_new(BIO_s_mem());
    d->out = BIO_new(BIO_s_mem());
    if (!d->ssl || !d->in || !d->out) {
        BIO_free(d->in);
        BIO_free(d->out);
        SSL_free(d->ssl);
        g_free(d);
        return NULL;
    }
    BIO_set_mem_eof_return(d->in, -1);
    BIO_set_mem_eof_return(d->out, -1);
    SSL_set_bio(d->ssl, d->in, d->out);
    SSL_set_options(d->ssl, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(d->ssl, DTLS_MTU);
    DTLS_set_link_mtu(d->ssl, DTLS_MTU);
    if (server)
        SSL_set_accept_state(d->ssl);
    else
        SSL_set_connect_state(d->ssl);
    d->deadline_us = g_get_monotonic_time() + (gint64)DTLS_HANDSHAKE_MS * 1000;
    d->timer = g_timeout_add(DTLS_TICK_MS, on_tick, d);
    if (!server)
        step(d);
    return d;
}

void dtls_input(dtls_t *d, const uint8_t *buf, size_t len)
{
    if (d->dead)
        return;
    BIO_write(d->in, buf, (int)len);
    if (!d->done) {
        step(d);
        return;
    }
    /* After the handshake: alerts (close_notify) and retransmitted Finished flights. */
    uint8_t scratch[1500];
    ERR_clear_error();
    int r = SSL_read(d->ssl, scratch, sizeof scratch);
    flush(d);
    if (r <= 0) {
        int e = SSL_get_error(d->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN)
            fail(d, "peer closed DTLS", 0);
    }
}

int dtls_connected(const dtls_t *d) { return d->done && !d->dead; }

void dtls_free(dtls_t *d)
{
    if (!d)
        return;
    if (d->timer)
        g_source_remove(d->timer);
    SSL_free(d->ssl); /* frees the BIOs */
    g_free(d);
}

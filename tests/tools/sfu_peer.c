/* sfu_peer.c — a WebRTC participant that is not a browser, for staffroom-sfu's tests and benchmark.
 *
 * One process plays K participants, each with its own transport as Chromium builds one: a libnice agent
 * (one stream, one component: BUNDLE + rtcp-mux; trickle both ways; controlling, since it makes the
 * offer), OpenSSL DTLS 1.2 (ECDSA P-256 self-signed certificate, its SHA-256 fingerprint in the SDP;
 * client or server as the answer's a=setup says), SRTP keys exported (RFC 5764 §4.2) into libsrtp2
 * sessions. It writes an offer like Chromium's (one Opus audio and one VP8 video m-line, sendonly when it
 * publishes, recvonly otherwise), applies the SFU's answer and answers the SFU's later offers.
 * With --subscribers-answer, the participants that do not publish write no offer: they wait for the
 * server's and answer it (ICE controlled, DTLS client), as a Janus VideoRoom subscriber does.
 * With --simulcast, publishers send their camera as three rid layers (f: as configured; h: half the
 * packets of half the size; q: one packet of a quarter of the size, every frame), each with its own
 * SSRC, the mid and rid header extensions in every video packet, a=rid/a=simulcast in the SDP.
 *
 * It knows nothing of the signalling path: a driver (tests/tools/sfu_peer.mjs) carries the SDP and
 * candidates between this process and staffroom-signal's WebSocket or the SFU's Redis control channel.
 * Lines on stdout (SDP base64-encoded so that a line stays a line):
 *   offer K B64 | answer K B64 | cand K MID CANDIDATE ("" after the last) | up K PROFILE | fail K REASON
 *   done K FRAMES (the IVF file was sent) | report JSON (after "report"; rx_streams counts what the
 *   receivers got by layer)
 * Lines on stdin:
 *   answer K B64 | offer K B64 | cand K MID [CANDIDATE] | start | mark | report | quit
 *
 * Media it publishes (after "start", on every publisher that is up):
 *   synthetic: Opus-sized packets every 20 ms and VP8 frames of --video-packets packets of --video-size
 *     bytes at --fps, each packet ending in a 20-byte trailer (magic, publisher, stream, sequence number,
 *     send time on CLOCK_MONOTONIC) from which every receiver in this process counts loss by sequence and
 *     one-way latency (same clock: the same process sends and receives);
 *   ivf=FILE: the VP8 frames of FILE, paced by its time base, packetised per RFC 7741; a keyframe request
 *     (PLI/FIR) before the end starts the file again from its first (key) frame.
 * Participant 0 writes the VP8 it receives, depacketised, to --out FILE.ivf.
 */
#include <agent.h>
#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <inttypes.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <srtp2/srtp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ivf.h"
#include "peer_sdp.h"
#include "rtp.h"
#include "vp8.h"

#define MAX_PEERS 256
#define DTLS_MTU 1200
#define DTLS_TICK_MS 50
#define SEND_TICK_MS 2
#define RR_INTERVAL_MS 1000  /* a receiver report a second, as browsers send: it also keeps the SFU's media timeout quiet */
#define PLI_MIN_GAP_US 500000
#define PT_OPUS PEER_SDP_PT_OPUS
#define PT_VP8 PEER_SDP_PT_VP8
#define TRAILER_LEN 20
#define TRAILER_MAGIC 0x53465542u /* "SFUB" */
#define VP8_CHUNK 1100            /* payload bytes per packet when packetising a real frame */
#define MAX_FRAME (512 * 1024)
#define LAT_BUCKET_US 10
#define LAT_BUCKETS 100000        /* 10 µs buckets up to 1 s; later lands in the last */
#define AUDIO_LEVEL_EXT_ID PEER_SDP_AUDIO_LEVEL_ID
#define RECV_BUFFER_BYTES (1 << 20)

/* What a publisher sends: audio, and video as one layer (STREAM_VIDEO) or, with --simulcast, three
 * (rid f = STREAM_VIDEO, h, q). The index travels in the trailer, so a receiver knows which layer it got. */
enum { STREAM_AUDIO = 0, STREAM_VIDEO = 1, STREAM_HALF = 2, STREAM_QUARTER = 3, NSTREAMS = 4 };
static const char *const layer_rid[NSTREAMS] = {"", "f", "h", "q"};

typedef struct {
    bool started;
    uint32_t first, last, count;
} seqtrack_t;

typedef struct peer {
    int idx;
    bool publisher;
    bool answerer;            /* waits for the server's offer (a Janus subscriber) instead of offering */
    NiceAgent *agent;
    guint stream;
    bool gathered, ice_ready, failed;
    /* DTLS */
    SSL *ssl;
    BIO *rbio, *wbio;
    bool dtls_client, dtls_started, dtls_done;
    guint dtls_timer;
    char remote_fp[160];
    /* SRTP */
    srtp_t tx, rx;
    bool up;
    const char *profile;
    /* What we send */
    uint32_t ssrc[NSTREAMS];
    uint16_t seq[NSTREAMS];
    uint32_t ts[NSTREAMS];
    uint32_t meas_seq[NSTREAMS];
    uint16_t picture_id[NSTREAMS];
    int64_t next_us[2];       /* audio, video (every layer of a frame goes at once) */
    bool want_keyframe;
    size_t ivf_pos;           /* next frame of the file */
    uint64_t ivf_frames_sent;
    bool ivf_done;
    int64_t ivf_t0_us;        /* when frame ivf_pos_base was due */
    size_t ivf_pos_base;
    uint64_t ivf_ts_base;     /* RTP timestamp of the current playback's first frame */
    int64_t last_rr_us;
    /* What the remote SDP says */
    int remote_vp8_pt;
    /* Receiving: VP8 frame assembly (participant 0 with --out) */
    uint8_t *frame;
    size_t frame_len;
    bool frame_ok, frame_open, got_keyframe;
    uint16_t frame_next_seq;
    uint32_t frame_ts, first_ts;
    uint32_t video_src_ssrc;
    int64_t last_pli_us;
    /* Loss by sequence: one tracker per (publisher, stream). */
    seqtrack_t *seqs;
    /* Counters */
    uint64_t rx_stream[NSTREAMS]; /* packets with a trailer, by the stream (layer) they were sent on */
    uint64_t rx_packets, rx_bytes, tx_packets, rx_auth_fail, plis_in, frames_written, frames_incomplete;
} peer_t;

static struct {
    int count, publishers;
    const char *publish; /* "synthetic", "ivf", "none" */
    const char *ivf_path;
    const char *out_path;
    int fps, video_packets, video_size, audio_size;
    bool wrong_fingerprint, audio, video, simulcast, subscribers_answer;
    SSL_CTX *ssl_ctx;
    char fingerprint[160];
    GMainLoop *loop;
    peer_t peers[MAX_PEERS];
    ivf_file_t ivf;
    ivf_writer_t out;
    bool sending;
    /* window stats (reset by "mark") */
    uint32_t *lat_hist;
    uint64_t lat_count, lat_over;
    int64_t window_start_us;
    uint64_t bad_trailers;
} G = {.count = 1, .publishers = -1, .publish = "none", .fps = 30, .video_packets = 3, .video_size = 1000,
       .audio_size = 100, .audio = true, .video = true};

static int64_t now_us(void) { return g_get_monotonic_time(); }
static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
static void put16(uint8_t *b, uint16_t v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
static void put32(uint8_t *b, uint32_t v) { put16(b, (uint16_t)(v >> 16)); put16(b + 2, (uint16_t)v); }
static void put64(uint8_t *b, uint64_t v) { put32(b, (uint32_t)(v >> 32)); put32(b + 4, (uint32_t)v); }
static uint32_t get32(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }
static uint64_t get64(const uint8_t *b) { return (uint64_t)get32(b) << 32 | get32(b + 4); }

/* One line on stdout; the driver reads line by line. */
static void emit(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void emit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

static void peer_fail(peer_t *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void peer_fail(peer_t *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->up = false;
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    emit("fail %d %s", p->idx, why);
}

/* ---- DTLS (RFC 6347) and the SRTP keys (RFC 5764) ---------------------------------------------------- */

static int cert_fingerprint(X509 *cert, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!X509_digest(cert, EVP_sha256(), md, &n) || outlen < 3 * n)
        return -1;
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
    return 0;
}

/* Self-signed; the peer checks its digest against our SDP, as we check theirs (RFC 8122 §5). */
static int accept_any_cert(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

static int dtls_ctx_init(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    if (!key || !cert)
        return -1;
    ASN1_INTEGER_set(X509_get_serialNumber(cert), (long)g_random_int_range(1, G_MAXINT32));
    X509_set_version(cert, 2);
    X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"sfu_peer", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    int rc = -1;
    G.ssl_ctx = SSL_CTX_new(DTLS_method());
    if (G.ssl_ctx && X509_sign(cert, key, EVP_sha256()) && SSL_CTX_use_certificate(G.ssl_ctx, cert) == 1 &&
        SSL_CTX_use_PrivateKey(G.ssl_ctx, key) == 1 &&
        SSL_CTX_set_tlsext_use_srtp(G.ssl_ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") == 0 &&
        cert_fingerprint(cert, G.fingerprint, sizeof G.fingerprint) == 0) {
        SSL_CTX_set_min_proto_version(G.ssl_ctx, DTLS1_2_VERSION);
        SSL_CTX_set_verify(G.ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any_cert);
        SSL_CTX_set_read_ahead(G.ssl_ctx, 1);
        rc = 0;
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

/* Sends what OpenSSL wrote: whole records, packed into datagrams of at most DTLS_MTU bytes. */
static void dtls_flush(peer_t *p)
{
    uint8_t buf[16384];
    int n;
    while ((n = BIO_read(p->wbio, buf, sizeof buf)) > 0) {
        size_t at = 0, start = 0;
        while (at + 13 <= (size_t)n) {
            size_t rec = 13 + ((size_t)buf[at + 11] << 8 | buf[at + 12]);
            if (at + rec > (size_t)n)
                rec = (size_t)n - at;
            if (at > start && at + rec - start > DTLS_MTU) {
                nice_agent_send(p->agent, p->stream, 1, (guint)(at - start), (const gchar *)buf + start);
                start = at;
            }
            at += rec;
        }
        if ((size_t)n > start)
            nice_agent_send(p->agent, p->stream, 1, (guint)((size_t)n - start), (const gchar *)buf + start);
    }
}

static int srtp_session(srtp_t *s, bool gcm, const uint8_t *key, const uint8_t *salt, size_t klen, size_t slen,
                        bool outbound)
{
    uint8_t material[64];
    memcpy(material, key, klen);
    memcpy(material + klen, salt, slen);
    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    if (gcm) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
    }
    pol.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    pol.key = material;
    pol.window_size = 1024;
    pol.allow_repeat_tx = 1;
    return srtp_create(s, &pol) == srtp_err_status_ok ? 0 : -1;
}

static void dtls_done(peer_t *p)
{
    p->dtls_done = true;
    if (p->dtls_timer) {
        g_source_remove(p->dtls_timer);
        p->dtls_timer = 0;
    }
    X509 *cert = SSL_get1_peer_certificate(p->ssl);
    char fp[160] = "";
    if (!cert || cert_fingerprint(cert, fp, sizeof fp) < 0) {
        X509_free(cert);
        peer_fail(p, "dtls: the SFU sent no certificate");
        return;
    }
    X509_free(cert);
    if (g_ascii_strcasecmp(fp, p->remote_fp) != 0) {
        peer_fail(p, "dtls: the SFU's certificate does not match the fingerprint of its SDP");
        return;
    }
    SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(p->ssl);
    if (!prof) {
        peer_fail(p, "dtls: no SRTP profile negotiated");
        return;
    }
    bool gcm = prof->id == SRTP_AEAD_AES_128_GCM;
    size_t klen = 16, slen = gcm ? 12 : 14;
    uint8_t m[2 * (16 + 14)];
    if (SSL_export_keying_material(p->ssl, m, 2 * (klen + slen), "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1) {
        peer_fail(p, "dtls: keying material export failed");
        return;
    }
    /* RFC 5764 §4.2: client key, server key, client salt, server salt. */
    const uint8_t *ck = m, *sk = m + klen, *cs = m + 2 * klen, *ss = m + 2 * klen + slen;
    bool c = p->dtls_client;
    if (srtp_session(&p->tx, gcm, c ? ck : sk, c ? cs : ss, klen, slen, true) < 0 ||
        srtp_session(&p->rx, gcm, c ? sk : ck, c ? ss : cs, klen, slen, false) < 0) {
        peer_fail(p, "srtp: cannot create the sessions");
        return;
    }
    p->profile = prof->name;
    p->up = true;
    p->want_keyframe = true;
    emit("up %d %s", p->idx, prof->name);
}

static void dtls_step(peer_t *p)
{
    if (p->failed || p->dtls_done)
        return;
    ERR_clear_error();
    int r = SSL_do_handshake(p->ssl);
    dtls_flush(p);
    if (r == 1) {
        dtls_done(p);
        return;
    }
    int e = SSL_get_error(p->ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        char why[200];
        ERR_error_string_n(ERR_get_error(), why, sizeof why);
        peer_fail(p, "dtls: handshake failed: %s", why);
    }
}

static gboolean dtls_tick(gpointer data)
{
    peer_t *p = data;
    if (p->failed || p->dtls_done) {
        p->dtls_timer = 0;
        return G_SOURCE_REMOVE;
    }
    if (DTLSv1_handle_timeout(p->ssl) > 0)
        dtls_flush(p);
    return G_SOURCE_CONTINUE;
}

static void dtls_start(peer_t *p)
{
    if (p->dtls_started || p->failed)
        return;
    p->dtls_started = true;
    p->ssl = SSL_new(G.ssl_ctx);
    p->rbio = BIO_new(BIO_s_mem());
    p->wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(p->rbio, -1);
    SSL_set_bio(p->ssl, p->rbio, p->wbio);
    SSL_set_options(p->ssl, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(p->ssl, DTLS_MTU);
    if (p->dtls_client)
        SSL_set_connect_state(p->ssl);
    else
        SSL_set_accept_state(p->ssl);
    p->dtls_timer = g_timeout_add(DTLS_TICK_MS, dtls_tick, p);
    if (p->dtls_client)
        dtls_step(p);
}

/* ---- sending ----------------------------------------------------------------------------------------- */

static void send_srtp(peer_t *p, uint8_t *pkt, size_t len, bool rtcp)
{
    int n = (int)len;
    srtp_err_status_t st = rtcp ? srtp_protect_rtcp(p->tx, pkt, &n) : srtp_protect(p->tx, pkt, &n);
    if (st != srtp_err_status_ok)
        return;
    if (nice_agent_send(p->agent, p->stream, 1, (guint)n, (const gchar *)pkt) == n && !rtcp)
        p->tx_packets++;
}

/* The fixed RTP header (RFC 3550 §5.1) and one word of one-byte header extensions (RFC 8285 §4.2):
 * on audio the audio level (RFC 6464); on simulcast video the mid and the rid (RFC 8852), as Chromium
 * sends them, since the SDP names no SSRC for the layers. Single-layer video carries none. */
static size_t rtp_header(peer_t *p, int stream, uint8_t *b, bool marker)
{
    bool ext = stream == STREAM_AUDIO || G.simulcast;
    b[0] = ext ? 0x90 : 0x80;
    b[1] = (uint8_t)((marker ? 0x80 : 0) | (stream == STREAM_AUDIO ? PT_OPUS : PT_VP8));
    put16(b + 2, p->seq[stream]++);
    put32(b + 4, p->ts[stream]);
    put32(b + 8, p->ssrc[stream]);
    if (!ext)
        return 12;
    b[12] = 0xBE;
    b[13] = 0xDE;
    b[14] = 0;
    b[15] = 1;
    if (stream == STREAM_AUDIO) {
        b[16] = AUDIO_LEVEL_EXT_ID << 4; /* length 1 */
        b[17] = 0x80 | 30;               /* voice, -30 dBov */
        b[18] = b[19] = 0;
    } else {
        b[16] = PEER_SDP_MID_ID << 4; /* mid "1": our video section */
        b[17] = '1';
        b[18] = PEER_SDP_RID_ID << 4;
        b[19] = (uint8_t)layer_rid[stream][0];
    }
    return 20;
}

static void put_trailer(peer_t *p, int stream, uint8_t *b)
{
    put32(b, TRAILER_MAGIC);
    put16(b + 4, (uint16_t)p->idx);
    b[6] = (uint8_t)stream;
    b[7] = 0;
    put32(b + 8, p->meas_seq[stream]++);
    put64(b + 12, now_ns());
}

static void send_synthetic_audio(peer_t *p)
{
    uint8_t pkt[1600];
    size_t h = rtp_header(p, STREAM_AUDIO, pkt, false);
    size_t body = (size_t)G.audio_size < TRAILER_LEN ? TRAILER_LEN : (size_t)G.audio_size;
    memset(pkt + h, 0x5a, body - TRAILER_LEN);
    put_trailer(p, STREAM_AUDIO, pkt + h + body - TRAILER_LEN);
    send_srtp(p, pkt, h + body, false);
    p->ts[STREAM_AUDIO] += 960;
}

/* The VP8 payload descriptor (RFC 7741 §4.2): X with a 15-bit PictureID; S on a frame's first packet. */
static size_t vp8_descriptor(uint8_t *b, bool start, uint16_t picture_id)
{
    b[0] = (uint8_t)(0x80 | (start ? 0x10 : 0));
    b[1] = 0x80;
    b[2] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7f));
    b[3] = (uint8_t)picture_id;
    return 4;
}

/* One frame of one layer: `packets` packets of `size` bytes, the marker on the last. */
static void send_synthetic_layer(peer_t *p, int stream, int packets, size_t size, bool key)
{
    for (int i = 0; i < packets; i++) {
        uint8_t pkt[1600];
        size_t h = rtp_header(p, stream, pkt, i == packets - 1);
        size_t d = vp8_descriptor(pkt + h, i == 0, p->picture_id[stream]);
        size_t body = size;
        if (body < d + 10 + TRAILER_LEN)
            body = d + 10 + TRAILER_LEN;
        memset(pkt + h + d, 0, body - d - TRAILER_LEN);
        if (i == 0)
            pkt[h + d] = key ? 0x00 : 0x01; /* VP8 frame tag: P bit 0 = keyframe (RFC 6386 §9.1) */
        if (i == 0 && key) /* a keyframe's start code and size (§9.1), which Janus reads to log the size */
            memcpy(pkt + h + d + 3, (const uint8_t[]){0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, 7);
        put_trailer(p, stream, pkt + h + body - TRAILER_LEN);
        send_srtp(p, pkt, h + body, false);
    }
    p->picture_id[stream] = (uint16_t)((p->picture_id[stream] + 1) & 0x7fff);
    p->ts[stream] += 90000u / (unsigned)G.fps;
}

/* A frame: the full layer as configured; with simulcast also h (half the packets, half the size) and q
 * (one packet of a quarter of the size), as an encoder's lower resolutions are smaller. */
static void send_synthetic_frame(peer_t *p)
{
    bool key = p->want_keyframe;
    p->want_keyframe = false;
    send_synthetic_layer(p, STREAM_VIDEO, G.video_packets, (size_t)G.video_size, key);
    if (!G.simulcast)
        return;
    send_synthetic_layer(p, STREAM_HALF, (G.video_packets + 1) / 2, (size_t)G.video_size / 2, key);
    send_synthetic_layer(p, STREAM_QUARTER, 1, (size_t)G.video_size / 4, key);
}

/* One frame of the file, in packets of at most VP8_CHUNK bytes, the marker on the last (RFC 7741 §4.1). */
static void send_ivf_frame(peer_t *p, size_t i, uint32_t ts)
{
    const uint8_t *f = G.ivf.data + G.ivf.offsets[i];
    size_t len = G.ivf.sizes[i];
    p->ts[STREAM_VIDEO] = ts;
    for (size_t at = 0; at < len || (at == 0 && len == 0);) {
        size_t chunk = len - at < VP8_CHUNK ? len - at : VP8_CHUNK;
        uint8_t pkt[1600];
        size_t h = rtp_header(p, STREAM_VIDEO, pkt, at + chunk >= len);
        size_t d = vp8_descriptor(pkt + h, at == 0, p->picture_id[STREAM_VIDEO]);
        memcpy(pkt + h + d, f + at, chunk);
        send_srtp(p, pkt, h + d + chunk, false);
        at += chunk;
        if (chunk == 0)
            break;
    }
    p->picture_id[STREAM_VIDEO] = (uint16_t)((p->picture_id[STREAM_VIDEO] + 1) & 0x7fff);
    p->ivf_frames_sent++;
}

static void ivf_restart(peer_t *p, int64_t now)
{
    /* Continue the RTP clock from where it is, one frame later: the receiver sees time go on. */
    p->ivf_ts_base = p->ts[STREAM_VIDEO] + (p->ivf_frames_sent ? 90000u * G.ivf.scale / G.ivf.rate : 0);
    p->ivf_pos = 0;
    p->ivf_pos_base = 0;
    p->ivf_t0_us = now;
}

static void send_ivf_due(peer_t *p, int64_t now)
{
    if (p->ivf_done)
        return;
    if (p->want_keyframe && p->ivf_pos > 0)
        ivf_restart(p, now);
    p->want_keyframe = false;
    while (p->ivf_pos < G.ivf.nframes) {
        uint64_t dpts = G.ivf.pts[p->ivf_pos] - G.ivf.pts[p->ivf_pos_base];
        int64_t due = p->ivf_t0_us + (int64_t)(dpts * 1000000u * G.ivf.scale / G.ivf.rate);
        if (due > now)
            return;
        uint32_t ts = (uint32_t)(p->ivf_ts_base + dpts * 90000u * G.ivf.scale / G.ivf.rate);
        send_ivf_frame(p, p->ivf_pos++, ts);
    }
    p->ivf_done = true;
    emit("done %d %" PRIu64, p->idx, p->ivf_frames_sent);
}

/* An empty receiver report (RFC 3550 §6.4.2) from each participant once a second. */
static void send_rr(peer_t *p, int64_t now)
{
    if (now - p->last_rr_us < RR_INTERVAL_MS * 1000)
        return;
    p->last_rr_us = now;
    uint8_t pkt[8 + SRTP_MAX_TRAILER_LEN];
    pkt[0] = 0x80;
    pkt[1] = 201;
    put16(pkt + 2, 1);
    put32(pkt + 4, p->ssrc[STREAM_AUDIO]);
    send_srtp(p, pkt, 8, true);
}

/* A PLI (RFC 4585 §6.3.1) for a video source we receive but cannot decode yet. */
static void send_pli(peer_t *p, uint32_t media_ssrc)
{
    int64_t now = now_us();
    if (now - p->last_pli_us < PLI_MIN_GAP_US)
        return;
    p->last_pli_us = now;
    uint8_t pkt[12 + SRTP_MAX_TRAILER_LEN];
    pkt[0] = 0x81;
    pkt[1] = 206;
    put16(pkt + 2, 2);
    put32(pkt + 4, p->ssrc[STREAM_VIDEO]);
    put32(pkt + 8, media_ssrc);
    send_srtp(p, pkt, 12, true);
}

static gboolean send_tick(gpointer data)
{
    (void)data;
    int64_t now = now_us();
    for (int i = 0; i < G.count; i++) {
        peer_t *p = &G.peers[i];
        if (!p->up)
            continue;
        send_rr(p, now);
        if (!G.sending || !p->publisher)
            continue;
        if (!strcmp(G.publish, "ivf")) {
            send_ivf_due(p, now);
            continue;
        }
        /* Far behind (the process was starved): skip ahead rather than burst. */
        for (int s = 0; s < 2; s++)
            if (now - p->next_us[s] > 200000)
                p->next_us[s] = now;
        while (G.audio && p->next_us[STREAM_AUDIO] <= now) {
            send_synthetic_audio(p);
            p->next_us[STREAM_AUDIO] += 20000;
        }
        while (G.video && p->next_us[STREAM_VIDEO] <= now) {
            send_synthetic_frame(p);
            p->next_us[STREAM_VIDEO] += 1000000 / G.fps;
        }
    }
    return G_SOURCE_CONTINUE;
}

static void start_sending(void)
{
    if (G.sending)
        return;
    G.sending = true;
    int64_t now = now_us();
    for (int i = 0; i < G.count; i++) {
        peer_t *p = &G.peers[i];
        /* Publishers start at spread-out phases, as independent browsers would. */
        p->next_us[STREAM_AUDIO] = now + 20000 * i / G.count;
        p->next_us[STREAM_VIDEO] = now + (1000000 / G.fps) * i / G.count;
        ivf_restart(p, now);
        p->want_keyframe = false;
    }
}

/* ---- receiving --------------------------------------------------------------------------------------- */

static void measure(peer_t *p, const uint8_t *payload, size_t len)
{
    if (len < TRAILER_LEN)
        return;
    const uint8_t *t = payload + len - TRAILER_LEN;
    if (get32(t) != TRAILER_MAGIC)
        return;
    unsigned pub = (unsigned)t[4] << 8 | t[5], stream = t[6];
    if (pub >= (unsigned)G.count || stream >= NSTREAMS) {
        G.bad_trailers++;
        return;
    }
    uint64_t sent = get64(t + 12), now = now_ns();
    uint64_t us = now > sent ? (now - sent) / 1000 : 0;
    size_t b = us / LAT_BUCKET_US;
    G.lat_hist[b < LAT_BUCKETS ? b : LAT_BUCKETS - 1]++;
    G.lat_count++;
    if (b >= LAT_BUCKETS)
        G.lat_over++;
    p->rx_stream[stream]++;
    seqtrack_t *s = &p->seqs[pub * NSTREAMS + stream];
    uint32_t seq = get32(t + 8);
    if (!s->started) {
        s->started = true;
        s->first = s->last = seq;
    } else if ((int32_t)(seq - s->last) > 0) {
        s->last = seq;
    } else if ((int32_t)(seq - s->first) < 0) {
        s->first = seq;
    }
    s->count++;
}

/* RFC 7741 §4.5: a frame starts at S=1, partition 0, and ends at the marker; a gap drops the frame. */
static void depacketise(peer_t *p, const rtp_view_t *v)
{
    vp8_desc_t d;
    const uint8_t *pl = v->data + v->payload_off;
    if (vp8_parse(pl, v->payload_len, &d) < 0)
        return;
    if (d.start && d.partition == 0) {
        if (p->frame_open)
            p->frames_incomplete++;
        p->frame_open = true;
        p->frame_ok = true;
        p->frame_len = 0;
        p->frame_ts = v->ts;
        p->frame_next_seq = v->seq;
        if (!p->got_keyframe && !d.keyframe) {
            p->frame_ok = false;
            send_pli(p, v->ssrc);
        }
    }
    if (!p->frame_open)
        return;
    if (v->seq != p->frame_next_seq || v->ts != p->frame_ts)
        p->frame_ok = false;
    p->frame_next_seq = (uint16_t)(v->seq + 1);
    size_t n = v->payload_len - d.header_len;
    if (p->frame_ok && p->frame_len + n <= MAX_FRAME) {
        memcpy(p->frame + p->frame_len, pl + d.header_len, n);
        p->frame_len += n;
    } else {
        p->frame_ok = false;
    }
    if (!v->marker)
        return;
    p->frame_open = false;
    if (!p->frame_ok) {
        p->frames_incomplete++;
        return;
    }
    if (!p->got_keyframe) {
        p->got_keyframe = true;
        p->first_ts = p->frame_ts;
        /* Width and height from the keyframe header (RFC 6386 §9.1): start code, then 14-bit sizes. */
        uint16_t w = 0, h = 0;
        if (p->frame_len >= 10 && p->frame[3] == 0x9d && p->frame[4] == 0x01 && p->frame[5] == 0x2a) {
            w = (uint16_t)((p->frame[6] | p->frame[7] << 8) & 0x3fff);
            h = (uint16_t)((p->frame[8] | p->frame[9] << 8) & 0x3fff);
        }
        if (ivf_writer_open(&G.out, G.out_path, w, h, 90000) < 0)
            fprintf(stderr, "sfu_peer: cannot write %s: %s\n", G.out_path, strerror(errno));
    }
    if (ivf_writer_add(&G.out, p->frame, p->frame_len, (uint64_t)(uint32_t)(p->frame_ts - p->first_ts)) == 0)
        p->frames_written++;
}

static void on_rtp(peer_t *p, uint8_t *buf, size_t len)
{
    int n = (int)len;
    if (srtp_unprotect(p->rx, buf, &n) != srtp_err_status_ok) {
        p->rx_auth_fail++;
        return;
    }
    rtp_view_t v;
    if (rtp_parse(buf, (size_t)n, &v) < 0)
        return;
    p->rx_packets++;
    p->rx_bytes += (uint64_t)n;
    if (v.payload_len >= TRAILER_LEN)
        measure(p, v.data + v.payload_off, v.payload_len);
    if (G.out_path && p->idx == 0 && v.pt == p->remote_vp8_pt) {
        if (!p->video_src_ssrc)
            p->video_src_ssrc = v.ssrc;
        if (v.ssrc == p->video_src_ssrc)
            depacketise(p, &v);
    }
}

static void on_rtcp(peer_t *p, uint8_t *buf, size_t len)
{
    int n = (int)len;
    if (srtp_unprotect_rtcp(p->rx, buf, &n) != srtp_err_status_ok) {
        p->rx_auth_fail++;
        return;
    }
    for (size_t at = 0; at + 4 <= (size_t)n;) {
        size_t plen = 4 * (((size_t)buf[at + 2] << 8 | buf[at + 3]) + 1);
        uint8_t fmt = buf[at] & 0x1f, pt = buf[at + 1];
        if (at + plen > (size_t)n)
            break;
        if (pt == 206 && (fmt == 1 || fmt == 4)) { /* PLI or FIR: the next frame is a keyframe */
            p->plis_in++;
            p->want_keyframe = true;
        }
        at += plen;
    }
}

static void on_recv(NiceAgent *agent, guint stream, guint component, guint len, gchar *data, gpointer user)
{
    (void)agent;
    (void)stream;
    (void)component;
    peer_t *p = user;
    uint8_t buf[2048];
    if (len == 0 || len > sizeof buf || p->failed)
        return;
    memcpy(buf, data, len);
    uint8_t b0 = buf[0];
    if (b0 >= 20 && b0 <= 63) { /* DTLS (RFC 7983) */
        if (!p->ssl) {
            if (p->dtls_client)
                return;
            dtls_start(p);
        }
        BIO_write(p->rbio, buf, (int)len);
        if (!p->dtls_done) {
            dtls_step(p);
        } else {
            uint8_t junk[2048];
            while (SSL_read(p->ssl, junk, sizeof junk) > 0)
                ;
            if (SSL_get_shutdown(p->ssl) & SSL_RECEIVED_SHUTDOWN)
                peer_fail(p, "dtls: the SFU closed the association");
            dtls_flush(p);
        }
    } else if (b0 >= 128 && b0 <= 191 && p->up && len >= 12) {
        if (rtp_is_rtcp(buf, len))
            on_rtcp(p, buf, len);
        else
            on_rtp(p, buf, len);
    }
}

/* ---- ICE --------------------------------------------------------------------------------------------- */

static void on_candidate(NiceAgent *agent, NiceCandidate *c, gpointer user)
{
    peer_t *p = user;
    gchar *line = nice_agent_generate_local_candidate_sdp(agent, c);
    if (line) /* "a=candidate:…": the signalling carries it without "a=" */
        emit("cand %d 0 %s", p->idx, g_str_has_prefix(line, "a=") ? line + 2 : line);
    g_free(line);
}

static void on_gathering_done(NiceAgent *agent, guint stream, gpointer user)
{
    (void)agent;
    (void)stream;
    peer_t *p = user;
    p->gathered = true;
    emit("cand %d 0 ", p->idx);
}

/* One process receives for many participants: with the kernel's default 208 KiB per socket, a burst of
 * frames from 25 publishers overflows it while the process is busy elsewhere, and that loss would be the
 * load program's, not the SFU's. As root, force a larger buffer (SO_RCVBUFFORCE); else ask (SO_RCVBUF). */
static void grow_receive_buffer(peer_t *p)
{
    GSocket *sock = nice_agent_get_selected_socket(p->agent, p->stream, 1);
    if (!sock)
        return;
    int fd = g_socket_get_fd(sock), size = RECV_BUFFER_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    g_object_unref(sock);
}

static void on_state(NiceAgent *agent, guint stream, guint component, guint state, gpointer user)
{
    (void)agent;
    (void)stream;
    (void)component;
    peer_t *p = user;
    if (state == NICE_COMPONENT_STATE_READY || state == NICE_COMPONENT_STATE_CONNECTED) {
        p->ice_ready = true;
        grow_receive_buffer(p);
        if (p->dtls_client && p->remote_fp[0])
            dtls_start(p);
    } else if (state == NICE_COMPONENT_STATE_FAILED) {
        peer_fail(p, "ice: no candidate pair works");
    }
}

static int peer_open(peer_t *p)
{
    p->agent = nice_agent_new(g_main_context_default(), NICE_COMPATIBILITY_RFC5245);
    if (!p->agent)
        return -1;
    /* The offerer controls (RFC 8445 §6.1.1): we do, unless we wait for the server's offer. */
    g_object_set(p->agent, "controlling-mode", !p->answerer, "ice-tcp", FALSE, NULL);
    NiceAddress a;
    nice_address_init(&a);
    nice_address_set_from_string(&a, "127.0.0.1");
    nice_agent_add_local_address(p->agent, &a);
    p->stream = nice_agent_add_stream(p->agent, 1);
    if (!p->stream)
        return -1;
    g_signal_connect(p->agent, "new-candidate-full", G_CALLBACK(on_candidate), p);
    g_signal_connect(p->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), p);
    g_signal_connect(p->agent, "component-state-changed", G_CALLBACK(on_state), p);
    nice_agent_attach_recv(p->agent, p->stream, 1, g_main_context_default(), on_recv, p);
    for (int s = 0; s < NSTREAMS; s++) {
        p->ssrc[s] = g_random_int_range(1, G_MAXINT32);
        p->seq[s] = (uint16_t)g_random_int_range(0, 65536);
        p->ts[s] = g_random_int();
        p->picture_id[s] = (uint16_t)g_random_int_range(0, 0x8000);
    }
    p->seqs = g_new0(seqtrack_t, (size_t)G.count * NSTREAMS);
    if (G.out_path && p->idx == 0)
        p->frame = g_malloc(MAX_FRAME);
    return 0;
}

static void peer_close(peer_t *p)
{
    if (p->dtls_timer)
        g_source_remove(p->dtls_timer);
    if (p->ssl)
        SSL_free(p->ssl); /* frees both BIOs */
    if (p->tx)
        srtp_dealloc(p->tx);
    if (p->rx)
        srtp_dealloc(p->rx);
    if (p->agent) {
        nice_agent_remove_stream(p->agent, p->stream);
        g_object_unref(p->agent);
    }
    g_free(p->seqs);
    g_free(p->frame);
}

/* ---- applying SDP (the text itself: peer_sdp.c) ---------------------------------------------------- */

static void local_sdp(peer_t *p, peer_sdp_local_t *l, gchar **ufrag, gchar **pwd, char *fp, size_t fplen)
{
    nice_agent_get_local_credentials(p->agent, p->stream, ufrag, pwd);
    g_strlcpy(fp, G.fingerprint, fplen);
    if (G.wrong_fingerprint) /* a fingerprint that is not our certificate's: the SFU must refuse us */
        fp[0] = fp[0] == 'A' ? 'B' : 'A';
    *l = (peer_sdp_local_t){.index = p->idx, .ufrag = *ufrag, .pwd = *pwd, .fingerprint = fp,
                            .publisher = p->publisher, .dtls_client = p->dtls_client,
                            .ssrc = {p->ssrc[0], p->ssrc[1]}, .simulcast = G.simulcast};
}

/* Writes "offer K B64" or "answer K B64" for the driver. */
static void emit_sdp(peer_t *p, const char *what, const char *remote_offer)
{
    peer_sdp_local_t l;
    gchar *ufrag = NULL, *pwd = NULL;
    char fp[160];
    local_sdp(p, &l, &ufrag, &pwd, fp, sizeof fp);
    char *text = remote_offer ? peer_sdp_answer(&l, remote_offer) : peer_sdp_offer(&l);
    gchar *b64 = g_base64_encode((const guchar *)text, strlen(text));
    emit("%s %d %s", what, p->idx, b64);
    g_free(b64);
    g_free(text);
    g_free(ufrag);
    g_free(pwd);
}

static void add_remote_candidate(peer_t *p, const char *cand)
{
    if (!*cand) {
        nice_agent_peer_candidate_gathering_done(p->agent, p->stream);
        return;
    }
    gchar *line = g_str_has_prefix(cand, "a=") ? g_strdup(cand) : g_strconcat("a=", cand, NULL);
    NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(p->agent, p->stream, line);
    g_free(line);
    if (!c) {
        fprintf(stderr, "sfu_peer: %d: candidate not understood: %.100s\n", p->idx, cand);
        return;
    }
    GSList *l = g_slist_append(NULL, c);
    nice_agent_set_remote_candidates(p->agent, p->stream, 1, l);
    g_slist_free_full(l, (GDestroyNotify)nice_candidate_free);
}

static int apply_remote(peer_t *p, const char *sdp, peer_sdp_remote_t *r)
{
    if (peer_sdp_read(sdp, r) < 0)
        return -1;
    for (size_t i = 0; i < r->ncandidates; i++)
        add_remote_candidate(p, r->candidates[i]);
    if (r->vp8_pt)
        p->remote_vp8_pt = r->vp8_pt;
    return 0;
}

/* Applies the SFU's answer to our offer. */
static void apply_answer(peer_t *p, const char *sdp)
{
    peer_sdp_remote_t *r = g_new0(peer_sdp_remote_t, 1);
    if (apply_remote(p, sdp, r) < 0) {
        peer_fail(p, "sdp: the answer has no ICE credentials or fingerprint");
        g_free(r);
        return;
    }
    g_strlcpy(p->remote_fp, r->fingerprint, sizeof p->remote_fp);
    /* a=setup:passive → we are the DTLS client (RFC 5763 §5). */
    p->dtls_client = strcmp(r->setup, "active") != 0;
    nice_agent_set_remote_credentials(p->agent, p->stream, r->ufrag, r->pwd);
    g_free(r);
    if (p->ice_ready && p->dtls_client)
        dtls_start(p);
}

/* Answers a server's offer: a renegotiation (someone's tracks came or went), or, for an answerer, the
 * first exchange, which sets up the transport: we take a=setup:active and are the DTLS client
 * (RFC 5763 §5: the answerer of an actpass offer picks; Chromium picks active). */
static void answer_offer(peer_t *p, const char *sdp)
{
    peer_sdp_remote_t *r = g_new0(peer_sdp_remote_t, 1);
    int rc = apply_remote(p, sdp, r);
    bool first = p->answerer && !p->remote_fp[0];
    if (first && rc < 0) {
        peer_fail(p, "sdp: the offer has no ICE credentials or fingerprint");
        g_free(r);
        return;
    }
    if (first) {
        g_strlcpy(p->remote_fp, r->fingerprint, sizeof p->remote_fp);
        p->dtls_client = true;
        nice_agent_set_remote_credentials(p->agent, p->stream, r->ufrag, r->pwd);
    }
    g_free(r);
    emit_sdp(p, "answer", sdp);
    if (first && p->ice_ready)
        dtls_start(p);
}

/* ---- the driver's commands --------------------------------------------------------------------------- */

static int percentile_us(double q)
{
    if (!G.lat_count)
        return -1;
    uint64_t want = (uint64_t)(q * (double)G.lat_count), seen = 0;
    for (size_t i = 0; i < LAT_BUCKETS; i++) {
        seen += G.lat_hist[i];
        if (seen > want)
            return (int)(i * LAT_BUCKET_US + LAT_BUCKET_US / 2);
    }
    return LAT_BUCKETS * LAT_BUCKET_US;
}

static void mark(void)
{
    memset(G.lat_hist, 0, LAT_BUCKETS * sizeof *G.lat_hist);
    G.lat_count = G.lat_over = 0;
    G.window_start_us = now_us();
    for (int i = 0; i < G.count; i++) {
        peer_t *p = &G.peers[i];
        memset(p->seqs, 0, (size_t)G.count * NSTREAMS * sizeof *p->seqs);
        memset(p->rx_stream, 0, sizeof p->rx_stream);
        p->rx_packets = p->rx_bytes = p->tx_packets = 0;
    }
}

static void report(void)
{
    uint64_t rx = 0, tx = 0, expected = 0, got = 0, auth = 0, plis = 0, up = 0, failed = 0, by[NSTREAMS] = {0};
    for (int i = 0; i < G.count; i++) {
        peer_t *p = &G.peers[i];
        rx += p->rx_packets;
        tx += p->tx_packets;
        auth += p->rx_auth_fail;
        plis += p->plis_in;
        up += p->up;
        failed += p->failed;
        for (int s = 0; s < NSTREAMS; s++)
            by[s] += p->rx_stream[s];
        for (int k = 0; k < NSTREAMS * G.count; k++) {
            seqtrack_t *s = &p->seqs[k];
            if (!s->started)
                continue;
            expected += (uint64_t)(s->last - s->first) + 1;
            got += s->count;
        }
    }
    peer_t *p0 = &G.peers[0];
    emit("report {\"seconds\":%.3f,\"up\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"tx_packets\":%" PRIu64
         ",\"rx_packets\":%" PRIu64 ",\"measured\":%" PRIu64 ",\"expected\":%" PRIu64 ",\"lost\":%" PRId64
         ",\"lat_p50_us\":%d,\"lat_p99_us\":%d,\"lat_over_1s\":%" PRIu64 ",\"auth_failures\":%" PRIu64
         ",\"keyframe_requests\":%" PRIu64 ",\"frames_written\":%" PRIu64 ",\"frames_incomplete\":%" PRIu64
         ",\"bad_trailers\":%" PRIu64 ",\"rx_streams\":{\"audio\":%" PRIu64 ",\"f\":%" PRIu64 ",\"h\":%" PRIu64
         ",\"q\":%" PRIu64 "}}",
         (double)(now_us() - G.window_start_us) / 1e6, up, failed, tx, rx, got, expected,
         (int64_t)expected - (int64_t)got, percentile_us(0.5), percentile_us(0.99), G.lat_over, auth, plis,
         p0->frames_written, p0->frames_incomplete, G.bad_trailers, by[STREAM_AUDIO], by[STREAM_VIDEO],
         by[STREAM_HALF], by[STREAM_QUARTER]);
}

static peer_t *peer_arg(const char *s)
{
    char *end;
    long k = strtol(s, &end, 10);
    if (end == s || k < 0 || k >= G.count)
        return NULL;
    return &G.peers[k];
}

static void command(char *line)
{
    g_strchomp(line);
    char **w = g_strsplit(line, " ", 4);
    int n = (int)g_strv_length(w);
    peer_t *p = n >= 2 ? peer_arg(w[1]) : NULL;
    if (n >= 3 && p && (!strcmp(w[0], "answer") || !strcmp(w[0], "offer"))) {
        gsize len = 0;
        guchar *raw = g_base64_decode(w[2], &len);
        gchar *sdp = g_strndup((const gchar *)raw, len);
        if (!strcmp(w[0], "answer"))
            apply_answer(p, sdp);
        else
            answer_offer(p, sdp);
        g_free(sdp);
        g_free(raw);
    } else if (n >= 3 && p && !strcmp(w[0], "cand")) {
        add_remote_candidate(p, n >= 4 ? w[3] : "");
    } else if (!strcmp(w[0], "start")) {
        start_sending();
    } else if (!strcmp(w[0], "mark")) {
        mark();
    } else if (!strcmp(w[0], "report")) {
        report();
    } else if (!strcmp(w[0], "quit")) {
        g_main_loop_quit(G.loop);
    } else if (*w[0]) {
        fprintf(stderr, "sfu_peer: command not understood: %.80s\n", line);
    }
    g_strfreev(w);
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer data)
{
    (void)cond;
    (void)data;
    for (;;) {
        gchar *line = NULL;
        GIOStatus st = g_io_channel_read_line(ch, &line, NULL, NULL, NULL);
        if (st == G_IO_STATUS_NORMAL) {
            command(line);
            g_free(line);
            if (!g_io_channel_get_buffer_condition(ch))
                return G_SOURCE_CONTINUE;
            continue;
        }
        g_free(line);
        if (st == G_IO_STATUS_AGAIN)
            return G_SOURCE_CONTINUE;
        g_main_loop_quit(G.loop); /* EOF or error: the driver is gone */
        return G_SOURCE_REMOVE;
    }
}

static gboolean on_signal(gpointer data)
{
    (void)data;
    g_main_loop_quit(G.loop);
    return G_SOURCE_CONTINUE;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: sfu_peer [--count K] [--publishers P] [--publish none|synthetic|ivf=FILE] [--out FILE.ivf]\n"
            "                [--fps N] [--video-packets N] [--video-size BYTES] [--audio-size BYTES]\n"
            "                [--no-audio] [--no-video] [--wrong-fingerprint] [--simulcast] [--rids f;h;q|q;h;f]\n"
            "                [--subscribers-answer]\n"
            "Plays K WebRTC participants; SDP and candidates go through stdin/stdout (see the file's header).\n");
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *num = !strcmp(a, "--count") ? &G.count : !strcmp(a, "--publishers") ? &G.publishers
                   : !strcmp(a, "--fps") ? &G.fps : !strcmp(a, "--video-packets") ? &G.video_packets
                   : !strcmp(a, "--video-size") ? &G.video_size : !strcmp(a, "--audio-size") ? &G.audio_size : NULL;
        if (num && v) {
            *num = atoi(v);
            i++;
        } else if (!strcmp(a, "--publish") && v) {
            G.publish = v;
            if (g_str_has_prefix(v, "ivf=")) {
                G.publish = "ivf";
                G.ivf_path = v + 4;
            } else if (strcmp(v, "synthetic") && strcmp(v, "none")) {
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--out") && v) {
            G.out_path = v;
            i++;
        } else if (!strcmp(a, "--wrong-fingerprint")) {
            G.wrong_fingerprint = true;
        } else if (!strcmp(a, "--no-audio")) {
            G.audio = false;
        } else if (!strcmp(a, "--no-video")) {
            G.video = false;
        } else if (!strcmp(a, "--simulcast")) {
            G.simulcast = true;
        } else if (!strcmp(a, "--rids") && i + 1 < argc) {
            if (strcmp(argv[i + 1], "f;h;q") != 0 && strcmp(argv[i + 1], "q;h;f") != 0)
                return -1;
            peer_sdp_rids = argv[++i];
        } else if (!strcmp(a, "--subscribers-answer")) {
            G.subscribers_answer = true;
        } else {
            return -1;
        }
    }
    if (G.count < 1 || G.count > MAX_PEERS || G.fps < 1 || G.fps > 120 || G.video_packets < 1 ||
        G.video_packets > 64 || G.video_size < 32 || G.video_size > 1200 || G.audio_size > 1200)
        return -1;
    if (G.publishers < 0)
        G.publishers = strcmp(G.publish, "none") ? G.count : 0;
    if (G.publishers > G.count || (G.simulcast && !strcmp(G.publish, "ivf")))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) < 0) {
        usage();
        return 2;
    }
    char err[300];
    if (G.ivf_path && ivf_read(G.ivf_path, &G.ivf, err, sizeof err) < 0) {
        fprintf(stderr, "sfu_peer: %s\n", err);
        return 1;
    }
    if (srtp_init() != srtp_err_status_ok || dtls_ctx_init() < 0) {
        fprintf(stderr, "sfu_peer: cannot set up DTLS-SRTP\n");
        return 1;
    }
    G.lat_hist = g_new0(uint32_t, LAT_BUCKETS);
    G.loop = g_main_loop_new(NULL, FALSE);
    for (int i = 0; i < G.count; i++) {
        peer_t *p = &G.peers[i];
        p->idx = i;
        p->publisher = i < G.publishers;
        p->answerer = G.subscribers_answer && !p->publisher;
        if (peer_open(p) < 0) {
            fprintf(stderr, "sfu_peer: cannot create the ICE agent of participant %d\n", i);
            return 1;
        }
        if (!p->answerer)
            emit_sdp(p, "offer", NULL);
        nice_agent_gather_candidates(p->agent, p->stream);
    }
    mark();
    GIOChannel *in = g_io_channel_unix_new(0);
    g_io_channel_set_flags(in, G_IO_FLAG_NONBLOCK, NULL);
    guint in_watch = g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
    guint tick = g_timeout_add(SEND_TICK_MS, send_tick, NULL);
    guint sigs[2] = {g_unix_signal_add(SIGTERM, on_signal, NULL), g_unix_signal_add(SIGINT, on_signal, NULL)};
    g_main_loop_run(G.loop);

    g_source_remove(in_watch);
    g_source_remove(tick);
    g_source_remove(sigs[0]);
    g_source_remove(sigs[1]);
    g_io_channel_unref(in);
    for (int i = 0; i < G.count; i++)
        peer_close(&G.peers[i]);
    ivf_writer_close(&G.out);
    ivf_file_free(&G.ivf);
    g_free(G.lat_hist);
    SSL_CTX_free(G.ssl_ctx);
    srtp_shutdown();
    g_main_loop_unref(G.loop);
    return 0;
}

/* peer_sdp.h — the SDP text of tests/tools/sfu_peer: a Chromium-like first offer, answers to the SFU's
 * renegotiation offers, and what a remote description says about the transport (RFC 8829 JSEP, RFC 8843
 * BUNDLE, RFC 5763 a=setup, RFC 8122 a=fingerprint, RFC 8840 trickle).
 *
 * Owns: writing and reading SDP text. Sans-I/O: it knows no agent, socket or key; the caller hands in
 * its credentials, fingerprint and SSRCs, and applies what it reads.
 * Must not: validate SDP the way an SFU must (it reads what it needs and skips the rest).
 */
#ifndef STAFFROOM_PEER_SDP_H
#define STAFFROOM_PEER_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEER_SDP_PT_OPUS 111
#define PEER_SDP_PT_VP8 96
#define PEER_SDP_AUDIO_LEVEL_ID 1
#define PEER_SDP_MID_ID 4        /* urn:ietf:params:rtp-hdrext:sdes:mid (RFC 8843 §15.2) */
#define PEER_SDP_RID_ID 10       /* urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id (RFC 8852 §3.1) */
#define PEER_SDP_MAX_CANDIDATES 16

/* Who we are, for the text we write. mid "0" is our audio section and mid "1" our video section. */
typedef struct {
    int index;               /* names the stream and tracks: "p<index>" */
    const char *ufrag, *pwd; /* ICE credentials (borrowed) */
    const char *fingerprint; /* "AB:CD:…", sha-256 (borrowed) */
    bool publisher;          /* sendonly sections with SSRCs, else recvonly */
    bool dtls_client;        /* for answers: a=setup:active when true, passive otherwise */
    uint32_t ssrc[2];        /* audio, video (the video SSRC is not announced with simulcast) */
    bool simulcast;          /* video as three rid layers (RFC 8853): a=rid:q/h/f send, a=simulcast:send f;h;q */
} peer_sdp_local_t;

/* The rids of the simulcast layers in a=simulcast order: full resolution first by default (the order is
 * the sender's preference, RFC 8853 §5.2, and Janus reads it so); peer_sdp_rids may name another order
 * ("q;h;f": lowest first, as Chromium lists the web client's encodings and staffroom-sfu reads them). */
#define PEER_SDP_RIDS "f;h;q"
extern const char *peer_sdp_rids;

/* What a remote description says about the one (bundled) transport. */
typedef struct {
    char ufrag[256], pwd[256], fingerprint[160], setup[16];
    int vp8_pt;              /* the payload type of VP8 in any section, 0 if none */
    char candidates[PEER_SDP_MAX_CANDIDATES][256]; /* "candidate:…" lines, without "a=" */
    size_t ncandidates;
} peer_sdp_remote_t;

/* The first offer: one Opus audio and one VP8 video m-line, BUNDLE, rtcp-mux, a=setup:actpass, no
 * candidates (they trickle); with simulcast the sdes:mid and rtp-stream-id extensions and the rid lines
 * in the video section. Returns a new string (g_free). */
char *peer_sdp_offer(const peer_sdp_local_t *l);

/* Our answer to a remote offer: the same m-lines and mids in the same order, the offer's codec lines
 * echoed, directions mirrored (sendonly → recvonly; recvonly → sendonly on our own sections when we
 * publish, inactive otherwise), rejected sections (port 0) kept rejected; a=setup:active when
 * l->dtls_client, else passive. It serves both a renegotiation and the first exchange when the server
 * offers first (a Janus VideoRoom subscriber). Returns a new string (g_free). */
char *peer_sdp_answer(const peer_sdp_local_t *l, const char *offer);

/* Reads the transport of a remote description (the first value of each attribute wins: BUNDLE makes
 * them all the same). Returns 0, or -1 when ICE credentials or the sha-256 fingerprint are missing. */
int peer_sdp_read(const char *sdp, peer_sdp_remote_t *out);

#endif

/* sdp.h — WebRTC session descriptions (RFC 8866, JSEP RFC 8829): parse into a struct, write from one.
 *
 * Owns: the text format only — lines, their fields, size limits, clear errors. Sans-I/O, libc only.
 * Must not: decide what the SFU answers (room.c chooses codecs and directions) or know ICE/DTLS state.
 *
 * Limits (bad input gets an error naming the line, never a crash): SDP_MAX_TEXT bytes in all, lines of at
 * most SDP_MAX_LINE bytes, at most SDP_MAX_MEDIA m-sections. Items beyond a per-section table's size
 * (codecs, extmaps, ssrcs, candidates, rids) are skipped, not an error: a browser may offer more codecs
 * than the SFU could ever use.
 */
#ifndef STAFFROOM_SFU_SDP_H
#define STAFFROOM_SFU_SDP_H

#include <stddef.h>
#include <stdint.h>

#define SDP_MAX_TEXT (256 * 1024)
#define SDP_MAX_LINE 4096
#define SDP_MAX_MEDIA 128
#define SDP_MAX_CODECS 48
#define SDP_MAX_EXTMAPS 16
#define SDP_MAX_SSRCS 8
#define SDP_MAX_CANDIDATES 16
#define SDP_MAX_RIDS 4

typedef enum { SDP_SENDRECV = 0, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE } sdp_dir_t;

enum { SDP_FB_NACK = 1, SDP_FB_PLI = 2, SDP_FB_FIR = 4, SDP_FB_REMB = 8, SDP_FB_TCC = 16 };

typedef struct {
    int pt;         /* 0..127 */
    char name[24];  /* "opus", "VP8", "H264", "rtx", … ("" until its rtpmap line) */
    uint32_t clock; /* Hz */
    int channels;   /* 0 = not given */
    char fmtp[160]; /* parameters as written, "" if none */
    int apt;        /* rtx: the PT it repairs (from fmtp apt=), else -1 */
    unsigned fb;    /* SDP_FB_* */
} sdp_codec_t;

typedef struct {
    int id;         /* 1..255 */
    char uri[128];
} sdp_extmap_t;

typedef struct {
    uint32_t ssrc;
    char cname[64];
    char msid[130]; /* "stream track" from a=ssrc:X msid:…, "" if none */
} sdp_ssrc_t;

typedef struct {
    char id[17];
    int send; /* 1 = send, 0 = recv */
} sdp_rid_t;

typedef struct {
    char kind[16];  /* "audio", "video", "application" */
    uint16_t port;  /* 0 = rejected / stopped */
    char proto[32]; /* "UDP/TLS/RTP/SAVPF" */
    char mid[33];
    sdp_dir_t dir;
    sdp_codec_t codecs[SDP_MAX_CODECS];
    size_t ncodecs;
    sdp_extmap_t extmaps[SDP_MAX_EXTMAPS];
    size_t nextmaps;
    sdp_ssrc_t ssrcs[SDP_MAX_SSRCS];
    size_t nssrcs;
    uint32_t fid_primary, fid_rtx; /* a=ssrc-group:FID, 0 if none */
    char msid[130];                /* a=msid:stream track */
    char ice_ufrag[257], ice_pwd[257];
    char fingerprint_alg[16];
    char fingerprint[160]; /* "AB:CD:…" as written */
    char setup[16];        /* actpass, active, passive, "" */
    char candidates[SDP_MAX_CANDIDATES][256]; /* the text after "a=" ("candidate:…") */
    size_t ncandidates;
    int end_of_candidates;
    sdp_rid_t rids[SDP_MAX_RIDS];
    size_t nrids;
    char simulcast[128]; /* a=simulcast value as written, "" if none */
    int rtcp_mux, rtcp_rsize;
} sdp_media_t;

typedef struct {
    uint64_t session_id, session_version;
    char bundle[512]; /* a=group:BUNDLE mids, space separated, "" if none */
    char ice_ufrag[257], ice_pwd[257];
    char fingerprint_alg[16], fingerprint[160], setup[16];
    int ice_lite;
    sdp_media_t *media; /* owned */
    size_t nmedia;
    size_t media_cap; /* sections allocated (sdp_add_media's business) */
} sdp_t;

/* Parses text (len bytes, need not be terminated). Returns a new sdp_t (free with sdp_free), or NULL with
 * err filled ("line N: reason"). */
sdp_t *sdp_parse(const char *text, size_t len, char *err, size_t errlen);
void sdp_free(sdp_t *s);

/* Checks what WebRTC needs of a remote description: every RTP section has a mid, ICE credentials and a
 * sha-256 fingerprint (session or section level), rtcp-mux, and a known setup. Returns 0, or -1 with err. */
int sdp_check_webrtc(const sdp_t *s, char *err, size_t errlen);

/* The credentials, fingerprint and setup that apply to section i (section level wins over session level).
 * Borrowed pointers into s; "" when absent. */
const char *sdp_ice_ufrag(const sdp_t *s, size_t i);
const char *sdp_ice_pwd(const sdp_t *s, size_t i);
const char *sdp_fingerprint(const sdp_t *s, size_t i, const char **alg);
const char *sdp_setup(const sdp_t *s, size_t i);

/* The first codec of m named name (case-insensitive) whose fmtp contains fmtp_part (NULL = any); NULL if none. */
const sdp_codec_t *sdp_find_codec(const sdp_media_t *m, const char *name, const char *fmtp_part);
/* The rtx codec whose apt is pt, or NULL. */
const sdp_codec_t *sdp_find_rtx(const sdp_media_t *m, int pt);
/* The extmap id of uri in m, or 0. */
int sdp_find_extmap(const sdp_media_t *m, const char *uri);
/* Adds a codec (copied) to m; returns it, or NULL when the table is full. */
sdp_codec_t *sdp_add_codec(sdp_media_t *m, const sdp_codec_t *c);
/* Appends an empty section; returns it (zeroed, dir sendrecv, port 9), or NULL when full or out of memory. */
sdp_media_t *sdp_add_media(sdp_t *s);
/* A new empty description, or NULL when out of memory. */
sdp_t *sdp_new(void);

/* RFC 8853 simulcast, answerer side: when offer has "a=simulcast:send r1;r2;…" naming rids it declares
 * "send" (lowest quality first, as Staffroom's client sends them), fills answer's rids (direction recv)
 * and "a=simulcast:recv …" with at most max of them, in the offered order (an alternative after ',' is
 * left out, and so are paused "~" rids). Returns 1 when at least two were accepted, else 0 and answer
 * has no rids (the browser then sends one stream). */
int sdp_accept_simulcast(const sdp_media_t *offer, sdp_media_t *answer, size_t max);

/* Writes s as SDP text ("\r\n" line ends). Returns a new NUL-terminated string (free()), or NULL when out
 * of memory. Session-level ICE/DTLS attributes are written in every section (JSEP style); the BUNDLE group
 * lists every section with a port other than 0. */
char *sdp_write(const sdp_t *s);

const char *sdp_dir_name(sdp_dir_t d);

#endif

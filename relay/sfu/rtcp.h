/* rtcp.h — sans-I/O RTCP codec: compound packets (RFC 3550 §6), feedback (RFC 4585, RFC 5104),
 * generic NACK, PLI, FIR, REMB (draft-alvestrand-rmcat-remb) and transport-cc recognition
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01).
 *
 * Owns: walking a compound packet with every length checked; decoding SR, RR, BYE and the feedback
 * messages into plain structs; building RR, SR, PLI, FIR, NACK and REMB into a caller's buffer;
 * rewriting the SSRCs a compound packet names (through a caller's mapping function), in place.
 * Must not: allocate, keep state, know about peers or SRTP (it sees plain RTCP: after unprotect, before
 * protect). Builders write one RTCP packet each; the caller concatenates them into a compound
 * packet (an RR first, unless rtcp-rsize was negotiated, RFC 5506).
 *
 * Views borrow the bytes they were parsed from. Every function reads only inside [buf, buf+len).
 */
#ifndef STAFFROOM_RTCP_H
#define STAFFROOM_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTCP_HEADER_LEN 4
#define RTCP_MAX_REPORTS 31 /* the 5-bit count of SR/RR/BYE */
#define RTCP_MAX_REMB_SSRCS 255

/* Packet types (RFC 3550 §12.1, RFC 4585 §6.1). */
enum {
    RTCP_SR = 200,
    RTCP_RR = 201,
    RTCP_SDES = 202,
    RTCP_BYE = 203,
    RTCP_APP = 204,
    RTCP_RTPFB = 205, /* transport-layer feedback */
    RTCP_PSFB = 206,  /* payload-specific feedback */
    RTCP_XR = 207,
};
/* Feedback message types (FMT, the 5-bit count field of RTPFB/PSFB). */
enum {
    RTCP_RTPFB_NACK = 1,  /* generic NACK, RFC 4585 §6.2.1 */
    RTCP_RTPFB_TWCC = 15, /* transport-wide congestion control feedback */
    RTCP_PSFB_PLI = 1,    /* RFC 4585 §6.3.1 */
    RTCP_PSFB_FIR = 4,    /* RFC 5104 §4.3.1 */
    RTCP_PSFB_AFB = 15,   /* application layer feedback: REMB when the FCI starts with "REMB" */
};

/* Errors (negative). */
enum {
    RTCP_ERR_SHORT = -1,   /* shorter than a header, or than the length field says */
    RTCP_ERR_VERSION = -2, /* version is not 2 */
    RTCP_ERR_LENGTH = -3,  /* the length field disagrees with the content (count × item size) */
    RTCP_ERR_TYPE = -4,    /* a parser was given a packet of another type / FMT */
    RTCP_ERR_SPACE = -5,   /* a builder's buffer is too small, or too many items */
    RTCP_ERR_PADDING = -6, /* P bit on a packet other than the last, or a bad padding count */
};

/* One RTCP packet inside a compound packet. */
typedef struct {
    const uint8_t *data; /* borrowed: starts at the packet's first byte */
    size_t len;          /* the packet without its padding: 4 × (length field + 1) - padding count */
    uint8_t type;        /* packet type (200…) */
    uint8_t count;       /* RC / SC / FMT: the low 5 bits of the first byte */
    bool padding;
} rtcp_pkt_t;

/* Walks a compound packet: rtcp_iter_init, then rtcp_next until it returns 0 (end) or < 0 (a
 * malformed packet: stop there; the packets returned before it were whole and may be used). */
typedef struct {
    const uint8_t *buf;
    size_t len, off;
} rtcp_iter_t;

void rtcp_iter_init(rtcp_iter_t *it, const uint8_t *buf, size_t len);
/* Returns 1 and fills *out, 0 at the end, or an RTCP_ERR_* code. */
int rtcp_next(rtcp_iter_t *it, rtcp_pkt_t *out);
/* Checks a whole compound packet (every header and length; the padding rule). Returns the number of
 * packets (>= 1) or an RTCP_ERR_* code. */
int rtcp_validate(const uint8_t *buf, size_t len);

/* A reception report block (RFC 3550 §6.4.1). */
typedef struct {
    uint32_t ssrc;            /* the source this block reports on */
    uint8_t fraction_lost;    /* lost fraction since the last report, × 256 */
    int32_t cumulative_lost;  /* signed 24-bit (duplicates can make it negative) */
    uint32_t highest_seq;     /* extended highest sequence number received */
    uint32_t jitter;          /* interarrival jitter, in timestamp units */
    uint32_t lsr;             /* middle 32 bits of the last SR's NTP time */
    uint32_t dlsr;            /* delay since that SR, in 1/65536 s */
} rtcp_report_t;

typedef struct {
    uint32_t ssrc;
    uint64_t ntp;      /* NTP timestamp, 32.32 fixed point */
    uint32_t rtp_ts;   /* the same instant on the RTP clock */
    uint32_t packets;  /* sender's packet count */
    uint32_t octets;   /* sender's payload octet count */
    uint8_t n_reports;
    rtcp_report_t reports[RTCP_MAX_REPORTS];
} rtcp_sr_t;

typedef struct {
    uint32_t ssrc; /* the reporter */
    uint8_t n_reports;
    rtcp_report_t reports[RTCP_MAX_REPORTS];
} rtcp_rr_t;

typedef struct {
    uint8_t n_ssrcs;
    uint32_t ssrcs[RTCP_MAX_REPORTS];
} rtcp_bye_t;

/* The common part of every feedback message (RFC 4585 §6.1). */
typedef struct {
    uint8_t type;         /* RTCP_RTPFB or RTCP_PSFB */
    uint8_t fmt;
    uint32_t sender_ssrc; /* packet sender */
    uint32_t media_ssrc;  /* media source the feedback is about (0 for FIR: see its entries) */
    const uint8_t *fci;   /* borrowed: feedback control information */
    size_t fci_len;
} rtcp_fb_t;

/* One FIR entry (RFC 5104 §4.3.1.1). */
typedef struct {
    uint32_t ssrc; /* the media sender asked for a keyframe */
    uint8_t seq;   /* command sequence number: a repeat of the same number is the same request */
} rtcp_fir_entry_t;

typedef struct {
    uint64_t bitrate; /* bits per second: mantissa << exponent */
    uint8_t n_ssrcs;
    uint32_t ssrcs[RTCP_MAX_REMB_SSRCS];
} rtcp_remb_t;

/* The fixed part of a transport-cc feedback's FCI; the packet chunks and deltas that follow are left
 * in rest/rest_len for a later decoder (a bandwidth estimator). */
typedef struct {
    uint16_t base_seq;       /* transport-wide sequence number of the first packet reported */
    uint16_t status_count;   /* packets reported */
    int32_t reference_time;  /* signed 24 bits, × 64 ms */
    uint8_t fb_count;        /* feedback packet count (8-bit, wraps) */
    const uint8_t *rest;     /* borrowed: chunks and receive deltas */
    size_t rest_len;
} rtcp_twcc_t;

/* Decoders: each takes one packet from rtcp_next. They return 0, RTCP_ERR_TYPE when the packet is not
 * of their type/FMT, or RTCP_ERR_LENGTH / RTCP_ERR_SHORT when its content is malformed. */
int rtcp_parse_sr(const rtcp_pkt_t *p, rtcp_sr_t *out);
int rtcp_parse_rr(const rtcp_pkt_t *p, rtcp_rr_t *out);
int rtcp_parse_bye(const rtcp_pkt_t *p, rtcp_bye_t *out);
/* Any RTPFB or PSFB packet: the common header and the FCI (at least 8 bytes of SSRCs). */
int rtcp_parse_fb(const rtcp_pkt_t *p, rtcp_fb_t *out);
/* True for a PLI (PSFB FMT 1; the FCI is empty — a non-empty one is tolerated). */
bool rtcp_fb_is_pli(const rtcp_fb_t *fb);
/* Generic NACK (RTPFB FMT 1): expands every PID+BLP item into lost sequence numbers, in order, writing
 * at most max into seqs. Returns how many were lost (may exceed max: only max were written), or
 * RTCP_ERR_TYPE / RTCP_ERR_LENGTH (FCI not a multiple of 4 bytes). */
int rtcp_nack_seqs(const rtcp_fb_t *fb, uint16_t *seqs, size_t max);
/* FIR (PSFB FMT 4): the number of 8-byte entries, or RTCP_ERR_TYPE / RTCP_ERR_LENGTH. */
int rtcp_fir_count(const rtcp_fb_t *fb);
/* The i-th FIR entry (i < rtcp_fir_count). Returns 0 or RTCP_ERR_LENGTH. */
int rtcp_fir_entry(const rtcp_fb_t *fb, size_t i, rtcp_fir_entry_t *out);
/* REMB (PSFB FMT 15 with the "REMB" identifier). RTCP_ERR_TYPE when it is another AFB message. */
int rtcp_parse_remb(const rtcp_fb_t *fb, rtcp_remb_t *out);
/* Transport-cc (RTPFB FMT 15): the fixed fields; the rest stays raw. */
int rtcp_parse_twcc(const rtcp_fb_t *fb, rtcp_twcc_t *out);

/* Builders: each writes one packet at out[0..) and returns its length in bytes, or RTCP_ERR_SPACE
 * (nothing useful written) when cap is too small or there are too many items. */
long rtcp_build_rr(uint8_t *out, size_t cap, uint32_t sender_ssrc, const rtcp_report_t *reports,
                   size_t n_reports);
/* Uses sr->ssrc, ntp, rtp_ts, packets, octets and the first sr->n_reports reports. */
long rtcp_build_sr(uint8_t *out, size_t cap, const rtcp_sr_t *sr);
long rtcp_build_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);
/* One FIR entry for media_ssrc with command sequence number seq (the caller increments it per new
 * request, RFC 5104 §4.3.1.1; keyreq.h keeps it). The common header's media SSRC is 0 (§4.3.1.2). */
long rtcp_build_fir(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t seq);
/* Generic NACK for the n sequence numbers in seqs (any order; duplicates are harmless): each is put in
 * an existing item when it lies 1–16 after that item's PID, else it opens a new item. At most
 * (cap - 12) / 4 items fit; RTCP_ERR_SPACE when they do not, or when n is 0. */
long rtcp_build_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                     const uint16_t *seqs, size_t n);
/* REMB for bitrate (bits/s; encoded with an 18-bit mantissa, rounded down) about n_ssrcs streams. */
long rtcp_build_remb(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
                     const uint32_t *ssrcs, size_t n_ssrcs);

/* SSRC rewriting in a compound packet, in place. An SFU relays feedback between legs that use
 * different SSRCs: a subscriber's PLI/FIR/NACK/REMB names the SSRC the SFU sends to it, the publisher
 * knows only its own. rtcp_rewrite_ssrcs walks buf and, for every SSRC field, calls
 * map(ctx, role, ssrc, &new_ssrc); when map returns true the field is overwritten with new_ssrc.
 * Roles tell which field it is, so a caller can map sender SSRCs to the SFU's own and media SSRCs to
 * the publisher's. Returns the number of fields rewritten, or an RTCP_ERR_* code when buf is malformed
 * (the packets before the malformed one may already have been rewritten). */
typedef enum {
    RTCP_SSRC_SENDER,      /* SR/RR reporter, feedback packet sender */
    RTCP_SSRC_REPORTED,    /* a report block's source */
    RTCP_SSRC_MEDIA,       /* a feedback message's media source (NACK, PLI, TWCC, REMB header) */
    RTCP_SSRC_FIR_TARGET,  /* a FIR entry's SSRC */
    RTCP_SSRC_REMB_TARGET, /* one of a REMB's SSRCs */
    RTCP_SSRC_BYE,         /* a BYE's SSRC (SDES chunks are left alone) */
} rtcp_ssrc_role_t;

typedef bool (*rtcp_ssrc_map_fn)(void *ctx, rtcp_ssrc_role_t role, uint32_t ssrc, uint32_t *new_ssrc);

int rtcp_rewrite_ssrcs(uint8_t *buf, size_t len, rtcp_ssrc_map_fn map, void *ctx);

#endif

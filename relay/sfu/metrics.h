/* metrics.h — the SFU's counters and their Prometheus text.
 *
 * Owns: the process-wide counters (one thread: plain integers) and the exposition format.
 * Must not: do I/O; gauges (participants, rooms, Redis state) are read from their owners at render time.
 */
#ifndef STAFFROOM_SFU_METRICS_H
#define STAFFROOM_SFU_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Why a datagram that reached a participant's media socket (past libnice, which keeps STUN for itself
 * and drops what does not come from a candidate pair of the participant) was dropped: one counter each,
 * staffroom_sfu_dropped_datagrams_total{reason="…"} with the names in metrics.c. */
typedef enum {
    SFU_DROP_UNKNOWN,      /* first byte in no RFC 7983 range the SFU speaks (not DTLS, not RTP/RTCP) */
    SFU_DROP_SHORT,        /* RTP/RTCP range, shorter than an RTP header */
    SFU_DROP_NO_KEYS,      /* RTP/RTCP before the DTLS handshake gave SRTP keys */
    SFU_DROP_SRTP,         /* did not unprotect: authentication failed, replayed, unknown key */
    SFU_DROP_PEER_DOWN,    /* for a participant whose ICE or DTLS failed, about to be dropped */
    SFU_DROP_BAD_RTP,      /* decrypted, but not an RTP packet */
    SFU_DROP_UNKNOWN_SSRC, /* decrypted RTP of no track the participant announced */
    SFU_DROP_REASONS
} sfu_drop_t;

typedef struct {
    uint64_t commands;            /* commands received on sfu:cmd:<id> */
    uint64_t bad_commands;        /* not JSON, unknown op, missing fields */
    uint64_t bad_sdp;             /* offers/answers answered bad_sdp */
    uint64_t bad_candidates;      /* trickled candidates that did not parse */
    uint64_t glare;               /* offers refused with glare */
    uint64_t joins, leaves, gone; /* participants admitted, left, dropped by the SFU */
    uint64_t ice_failures;
    uint64_t dtls_failures;       /* handshake failed or timed out */
    uint64_t fingerprint_mismatches;
    uint64_t srtp_failures;       /* unprotect failures (auth, replay) */
    uint64_t bad_packets;         /* malformed: dropped for SFU_DROP_UNKNOWN, _SHORT, _BAD_RTP or _UNKNOWN_SSRC */
    uint64_t rtp_in, rtp_in_bytes;
    uint64_t forwarded_packets, forwarded_bytes;
    uint64_t send_drops;          /* datagrams the kernel refused to send (full socket buffer, unreachable) */
    uint64_t nacks_received, retransmissions;
    uint64_t nack_misses;         /* NACKed packets no longer (or never) in the retransmission buffer */
    uint64_t retransmissions_refused; /* NACK answers cut short: the subscriber's retransmission budget was spent */
    uint64_t keyframe_requests;   /* keyframes wanted (subscriber PLI/FIR, new subscriber) before throttling */
    uint64_t bad_rtcp;            /* RTCP that decrypted but does not parse */
    uint64_t plis_sent, firs_received, plis_received;
    uint64_t sender_reports, receiver_reports;
    uint64_t speaker_changes;
    uint64_t renegotiations;
    uint64_t redis_reconnects;
    uint64_t layer_switches;      /* subscriber legs moved to another simulcast layer (all rooms) */
    uint64_t twcc_feedbacks;      /* transport-cc feedback messages from subscribers */
    uint64_t dropped[SFU_DROP_REASONS]; /* datagrams dropped, by reason (sfu_drop_t) */
} sfu_counters_t;

extern sfu_counters_t sfu_counters;

typedef struct {
    uint64_t participants, rooms, tracks, legs;
    int redis_up, draining;
} sfu_gauges_t;

/* Writes the Prometheus text into buf (always terminated); returns its length (< len). */
size_t metrics_render(const sfu_gauges_t *g, char *buf, size_t len);

#endif

/* rtpstats.h — what the SFU's own RTCP reports say (RFC 3550 §6.4): the reception statistics of one
 * stream it receives from a publisher (the report block of its RR, appendix A.3 and A.8), and the
 * publisher's last sender report carried forward to now (the NTP/RTP pair of the SR it sends each
 * subscriber leg, so that the subscriber can keep that publisher's audio and video in sync).
 *
 * Owns: counters, the jitter estimate, the last SR of the stream and the arithmetic on them.
 * Must not: read clocks (now is a monotonic time in µs, passed in), build or parse packets (rtcp.c does),
 * allocate. Plain struct: the caller embeds it; fields are private.
 */
#ifndef STAFFROOM_SFU_RTPSTATS_H
#define STAFFROOM_SFU_RTPSTATS_H

#include <stdbool.h>
#include <stdint.h>

#include "rtcp.h"
#include "rtp.h"

typedef struct {
    uint32_t clock_rate;
    bool started;
    rtp_seq_ext_t seq;
    uint64_t base_ext;                       /* extended seq of the first packet */
    uint64_t received;                       /* packets received (duplicates included, as A.3 says) */
    uint64_t expected_prior, received_prior; /* at the last report */
    bool have_transit;
    int32_t transit;                         /* arrival - ts of the last packet, in clock units */
    uint32_t jitter_q4;                      /* interarrival jitter × 16 (A.8) */
    bool have_sr;
    uint64_t sr_ntp;                         /* the last SR: NTP time (32.32), RTP time, and when it arrived */
    uint32_t sr_rtp;
    uint64_t sr_at_us;
} rtpstats_rx_t;

/* clock_rate: the RTP clock of the stream (90000 video, 48000 Opus); 0 disables the jitter. */
void rtpstats_rx_init(rtpstats_rx_t *r, uint32_t clock_rate);

/* One RTP packet of the stream arrived at now_us. */
void rtpstats_rx_packet(rtpstats_rx_t *r, uint16_t seq, uint32_t ts, uint64_t now_us);

/* The stream's sender report arrived at now_us (ntp 32.32 fixed point, rtp_ts on the stream's clock). */
void rtpstats_rx_sr(rtpstats_rx_t *r, uint64_t ntp, uint32_t rtp_ts, uint64_t now_us);

/* Fills a report block about ssrc as of now_us and starts a new reporting interval (fraction lost is
 * counted since the previous call). Returns false (out untouched) before the first packet. */
bool rtpstats_rx_report(rtpstats_rx_t *r, uint32_t ssrc, uint64_t now_us, rtcp_report_t *out);

/* The publisher's last SR carried forward to now_us: *ntp and *rtp_ts are the same instant on its wall
 * clock and on the stream's RTP clock (both advanced by the time elapsed since the SR arrived). Returns
 * false without an SR, or when the SR is older than max_age_us (its clock pairing would drift). */
bool rtpstats_sr_now(const rtpstats_rx_t *r, uint64_t now_us, uint64_t max_age_us, uint64_t *ntp,
                     uint32_t *rtp_ts);

#endif

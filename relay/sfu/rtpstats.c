/* rtpstats.c — see rtpstats.h. Section numbers are RFC 3550's. */
#include "rtpstats.h"

#include <string.h>

void rtpstats_rx_init(rtpstats_rx_t *r, uint32_t clock_rate)
{
    memset(r, 0, sizeof *r);
    r->clock_rate = clock_rate;
    rtp_seq_ext_init(&r->seq);
}

/* now on the stream's RTP clock (wrapping, as RTP timestamps do). */
static uint32_t arrival_units(const rtpstats_rx_t *r, uint64_t now_us)
{
    return (uint32_t)(now_us / 1000 * r->clock_rate / 1000 + now_us % 1000 * r->clock_rate / 1000000);
}

void rtpstats_rx_packet(rtpstats_rx_t *r, uint16_t seq, uint32_t ts, uint64_t now_us)
{
    uint64_t ext = rtp_seq_ext_update(&r->seq, seq);
    if (!r->started) {
        r->started = true;
        r->base_ext = ext;
    } else if (ext < r->base_ext) {
        r->base_ext = ext; /* reordered before the first one: it counts as expected too */
    }
    r->received++;
    if (!r->clock_rate)
        return;
    /* A.8: J += (|D| - J) / 16, kept × 16 so that the division is exact enough in integers. */
    int32_t transit = (int32_t)(arrival_units(r, now_us) - ts);
    if (r->have_transit) {
        int64_t d = (int64_t)transit - r->transit;
        if (d < 0)
            d = -d;
        if (d > 0x7fffffff)
            d = 0x7fffffff;
        r->jitter_q4 += (uint32_t)d - ((r->jitter_q4 + 8) >> 4);
    }
    r->transit = transit;
    r->have_transit = true;
}

void rtpstats_rx_sr(rtpstats_rx_t *r, uint64_t ntp, uint32_t rtp_ts, uint64_t now_us)
{
    r->have_sr = true;
    r->sr_ntp = ntp;
    r->sr_rtp = rtp_ts;
    r->sr_at_us = now_us;
}

bool rtpstats_rx_report(rtpstats_rx_t *r, uint32_t ssrc, uint64_t now_us, rtcp_report_t *out)
{
    if (!r->started)
        return false;
    /* A.3: expected from the extended seqs, lost = expected - received (may go negative with
     * duplicates), and the fraction over the interval since the last report. */
    uint64_t expected = r->seq.highest - r->base_ext + 1;
    int64_t lost = (int64_t)expected - (int64_t)r->received;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    uint64_t expected_interval = expected - r->expected_prior;
    int64_t lost_interval = (int64_t)expected_interval - (int64_t)(r->received - r->received_prior);
    r->expected_prior = expected;
    r->received_prior = r->received;
    memset(out, 0, sizeof *out);
    out->ssrc = ssrc;
    out->fraction_lost = expected_interval && lost_interval > 0 ? (uint8_t)((lost_interval << 8) / (int64_t)expected_interval) : 0;
    out->cumulative_lost = (int32_t)lost;
    /* rtp_seq_ext starts its count at 65536 (rtp.h): the reported cycles start at 0. */
    out->highest_seq = (uint32_t)(r->seq.highest - 65536);
    out->jitter = r->jitter_q4 >> 4;
    if (r->have_sr) {
        out->lsr = (uint32_t)(r->sr_ntp >> 16);
        uint64_t since = now_us > r->sr_at_us ? now_us - r->sr_at_us : 0;
        out->dlsr = (uint32_t)(since * 65536 / 1000000);
    }
    return true;
}

bool rtpstats_sr_now(const rtpstats_rx_t *r, uint64_t now_us, uint64_t max_age_us, uint64_t *ntp, uint32_t *rtp_ts)
{
    if (!r->have_sr)
        return false;
    uint64_t since = now_us > r->sr_at_us ? now_us - r->sr_at_us : 0;
    if (since > max_age_us)
        return false;
    /* NTP 32.32: whole seconds in the high word, the rest as a binary fraction. */
    uint64_t secs = since / 1000000, frac_us = since % 1000000;
    *ntp = r->sr_ntp + (secs << 32) + (frac_us << 32) / 1000000;
    *rtp_ts = r->sr_rtp + (uint32_t)(since * r->clock_rate / 1000000);
    return true;
}

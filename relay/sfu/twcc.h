/* twcc.h — transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01
 * §3.1): the packet status chunks and receive deltas of one feedback message, decoded into a list of
 * (transport sequence number, received?, arrival time) entries.
 *
 * Owns: the chunk formats (run length; status vector of 14 one-bit or 7 two-bit symbols), the delta
 * sizes by symbol (1 byte unsigned, 2 bytes signed, × 250 µs) and every bound check on them.
 * Must not: allocate, keep state, or judge the link (bwe.c does). rtcp.c has already split off the fixed
 * part of the FCI (rtcp_parse_twcc).
 *
 * Arrival times are on the receiver's clock: reference time × 64 ms plus the deltas, in µs. Only
 * differences between them mean anything (bwe.c compares them with the send times).
 */
#ifndef STAFFROOM_SFU_TWCC_H
#define STAFFROOM_SFU_TWCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtcp.h"

enum {
    TWCC_ERR_SHORT = -1,  /* the chunks or deltas run past the message */
    TWCC_ERR_SYMBOL = -2, /* a reserved status symbol (3) */
};

typedef struct {
    uint16_t seq;       /* transport-wide sequence number */
    bool received;
    int64_t arrival_us; /* receiver's clock (valid when received) */
} twcc_pkt_t;

/* Decodes fb's statuses in order into out[0..max). Returns how many were decoded (status_count, or max
 * when fewer fit: the rest is not read), or a TWCC_ERR_* code. Nothing outside fb->rest is read. */
int twcc_decode(const rtcp_twcc_t *fb, twcc_pkt_t *out, size_t max);

/* Builds a feedback FCI (after the media SSRC) for the tests and fuzz seeds: n packets from base_seq,
 * received[i] with arrival_us[i] (µs, ≥ ref × 64 ms, deltas within ±8.19 s), one two-bit status vector
 * chunk per 7 packets. Returns the bytes written (padded to 4), or -1 when cap is too small or the first
 * arrival is outside the 24-bit reference time's range. */
long twcc_build_fci(uint8_t *out, size_t cap, uint16_t base_seq, const bool *received, const int64_t *arrival_us,
                    size_t n, uint8_t fb_count);

#endif

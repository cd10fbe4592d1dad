/* srtp.h — SRTP/SRTCP (RFC 3711, RFC 7714) for one participant on libsrtp 2: the only file that includes it.
 *
 * Owns: the inbound session (ssrc_any_inbound, the peer's key) and the outbound one (ssrc_any_outbound,
 * ours), replay windows of 1024 packets.
 * Must not: parse RTP beyond what libsrtp does, or send anything.
 *
 * Buffers given to the protect functions need SFU_SRTP_TRAILER bytes of room after len.
 */
#ifndef STAFFROOM_SFU_SRTP_H
#define STAFFROOM_SFU_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "dtls.h"

#define SFU_SRTP_TRAILER 148 /* SRTP_MAX_TRAILER_LEN: room a protect call may need */

typedef struct sfu_srtp sfu_srtp_t;

/* Call once at start; 0 or -1. */
int sfu_srtp_init(void);
void sfu_srtp_deinit(void);

/* Sessions from the DTLS keys. NULL on failure. */
sfu_srtp_t *sfu_srtp_new(const dtls_srtp_keys_t *keys);
void sfu_srtp_free(sfu_srtp_t *s);

/* In place; *len updated. 0, or -1 (auth failure, replay, malformed). */
int sfu_srtp_unprotect_rtp(sfu_srtp_t *s, uint8_t *buf, size_t *len);
int sfu_srtp_unprotect_rtcp(sfu_srtp_t *s, uint8_t *buf, size_t *len);
/* In place; buf must have SFU_SRTP_TRAILER bytes of room after *len. 0 or -1. */
int sfu_srtp_protect_rtp(sfu_srtp_t *s, uint8_t *buf, size_t *len);
int sfu_srtp_protect_rtcp(sfu_srtp_t *s, uint8_t *buf, size_t *len);

#endif

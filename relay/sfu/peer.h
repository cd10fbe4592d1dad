/* peer.h — one participant's media transport: ICE + DTLS + SRTP, and the demultiplexing between them.
 *
 * Owns: the ice_t, dtls_t and sfu_srtp_t of one PeerConnection; RFC 7983 demultiplexing of incoming
 * datagrams by first byte (0–3 STUN: libnice has them already; 20–63 DTLS; 128–191 RTP/RTCP, told apart
 * by the payload type byte per RFC 5761 §4); the counters of what fails, and of every datagram dropped
 * (sfu_counters.dropped by reason: not demultiplexable, truncated, before the SRTP keys, not unprotecting,
 * after the peer went down).
 * Must not: know rooms, tracks or SDP (room.c gives it credentials, candidates and the fingerprint).
 *
 * Callbacks never free the peer from inside a peer_* call: room.c drops participants asynchronously.
 */
#ifndef STAFFROOM_SFU_PEER_H
#define STAFFROOM_SFU_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "dtls.h"
#include "ice.h"

typedef struct peer peer_t;

typedef enum { PEER_DOWN_ICE, PEER_DOWN_DTLS, PEER_DOWN_FINGERPRINT } peer_down_t;

typedef struct {
    void (*up)(void *ctx);                                       /* ICE and DTLS done, SRTP keyed */
    void (*down)(void *ctx, peer_down_t why, const char *detail); /* once; the peer is useless after */
    void (*rtp)(void *ctx, uint8_t *buf, size_t len);             /* decrypted RTP (buf writable, borrowed) */
    void (*rtcp)(void *ctx, uint8_t *buf, size_t len);            /* decrypted compound RTCP */
    void (*candidate)(void *ctx, const char *line);               /* a local candidate to trickle */
    void *ctx;
} peer_callbacks_t;

typedef struct {
    const ice_params_t *ice;
    dtls_ctx_t *dtls;
    const char *remote_fingerprint; /* sha-256 from the SDP */
    int dtls_server;
} peer_params_t;

peer_t *peer_new(const peer_params_t *p, const peer_callbacks_t *cb);
ice_t *peer_ice(peer_t *p);
int peer_is_up(const peer_t *p);
/* Protect and send; buf needs SFU_SRTP_TRAILER bytes of room after len. 0, or -1 (not up, or failed). */
int peer_send_rtp(peer_t *p, uint8_t *buf, size_t len);
int peer_send_rtcp(peer_t *p, uint8_t *buf, size_t len);
/* Monotonic µs of the last packet that decrypted (0 = none yet). */
int64_t peer_last_media_us(const peer_t *p);
void peer_free(peer_t *p);

#endif
